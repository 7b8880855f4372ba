"""The dedup pass: exact and near duplicates, one deterministic representative per group, eval leaks.

Only records still alive after ingest and provenance take part (a dropped record can neither
represent a group nor link two others). The representative is the most preferred member: not
quarantined (its licence and provenance are in order) first, then the larger image, then the smaller
record id. Near duplicates are found greedily from the most preferred record down, so each dropped
record is within the Hamming radius of its own representative (no chaining through a third image).
Candidates are the pairs within the radius on the pHash or on the dHash of the colour grid; each is
verified on the colour grids (governance.color.color_match_distance), and the evidence says which
hash found the pair, both distances and the brightness/contrast change the check forgave.

Memory holds a few hundred bytes per record and the candidate pairs, not the evidence: the records'
columns are read a batch at a time and the colour grids wait on disk (governance/dedup_inputs.py).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from governance.color import color_array
from governance.config import GovernanceConfig
from governance.decisions import FindingsLog
from governance.dedup_inputs import DedupInputs, read_dedup_inputs
from governance.evidence import ImageTask, evidence_batch
from governance.exact_duplicates import exact_copies
from governance.images import ImageLimits
from governance.near_duplicates import PairEvidence, candidate_pairs, verify_pairs
from governance.perceptual_hash import grid_dhash_int64
from governance.pixel_match import verify_on_pixels
from governance.progress import ProgressFn, WorkProgress
from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.tables import AtomicParquetWriter

DEDUP_FILE = "dedup_groups.parquet"
# Pairs verified at a time: the colour check holds about 30 KB of float copies per pair.
VERIFY_CHUNK = 1024
_GROUPS = pa.schema(
    [(c, pa.string()) for c in ("record_id", "duplicate_of", "duplicate_group", "similar_cluster")]
)


def _eval_hashes(cfg: GovernanceConfig) -> pd.DataFrame:
    """sha256, pHash and colour hash of the user's evaluation set (an imagefolder)."""
    from governance.sources.imagefolder import load_imagefolder

    data_cfg = cfg.data.model_copy(update={"limit": None})
    records, _ = load_imagefolder(data_cfg, Path(cfg.dedup.eval_dir), prefix="eval")  # type: ignore[arg-type]
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    evidence = evidence_batch([ImageTask(r.index, r.path, None) for r in records if r.path], limits)
    rows = [
        {
            "record_id": records[e.index].record_id,
            "content_sha256": e.content_sha256,
            "phash": e.phash,
            "color_hash": e.color_hash,
        }
        for e in evidence
        if e.phash is not None
    ]
    return pd.DataFrame(rows, columns=["record_id", "content_sha256", "phash", "color_hash"])


def run_dedup(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn | None = None) -> StageCounts:
    """Record duplicate findings and write `work_dir/dedup_groups.parquet` (groups and similarity clusters)."""
    started = time.perf_counter()
    alive = read_dedup_inputs(work_dir)
    try:
        log = FindingsLog("dedup")
        copies, identical = exact_copies(alive.content_sha256)
        is_copy = np.zeros(len(alive), dtype=bool)
        is_copy[copies] = True
        rep_at = np.flatnonzero(~is_copy)  # near duplicates are searched among the exact representatives
        reps = alive.take(rep_at)
        near = _near_duplicates(cfg, reps, log, WorkProgress(progress, "dedup", len(reps)))
        # Per representative, the position in `alive` of the record kept for it if it is a near duplicate.
        near_of = np.where(near.duplicate_of >= 0, rep_at[np.maximum(near.duplicate_of, 0)], -1)
        # An exact group's representative may itself be a near duplicate: its copies point at the record kept.
        near_of_alive = np.full(len(alive), -1, dtype=np.int64)
        near_of_alive[rep_at] = near_of
        kept_of_copy = np.where(near_of_alive[identical] >= 0, near_of_alive[identical], identical)
        _log_exact(alive, copies, identical, kept_of_copy, log)
        _check_eval_leaks(cfg, reps, log)
        groups_path, groups = _write_groups(
            work_dir, alive, rep_at, near_of, (copies, kept_of_copy), near, cfg
        )
    finally:
        alive.grids.close()
    counts = log.counts("dedup", alive.records_in, time.perf_counter() - started)
    counts.artifacts = [log.write(work_dir), groups_path]
    counts.metrics.update(
        {
            "duplicate_groups": float(groups),
            "near_pairs_checked": float(len(near.pairs)),
            "similar_but_distinct_pairs": float(near.similar_distinct),
        }
    )
    return counts


@dataclass(frozen=True)
class _NearResult:
    """The near-duplicate search over the representatives (positions index them)."""

    pairs: np.ndarray  # (P, 2) candidate pairs
    checked: PairEvidence
    duplicate_of: np.ndarray  # per representative, the one it is a near duplicate of, or -1
    similar_distinct: int  # candidates that neither check merged


def _near_duplicates(
    cfg: GovernanceConfig, reps: DedupInputs, log: FindingsLog, bar: WorkProgress
) -> _NearResult:
    """pHash or colour dHash within the radius and the same colours (else the same pixels), greedily.

    Representatives are in preference order, so each record dropped is within the radius of the
    record kept for it (no chaining through a third image).
    """
    radius = cfg.dedup.near_max_distance
    pairs = candidate_pairs(reps.phash, reps.dhash, max(radius, cfg.dedup.pixel_candidate_distance))
    checked = verify_pairs(
        reps.phash, reps.dhash, reps.grid_view(), pairs, radius, cfg.dedup.color_max_distance, VERIFY_CHUNK
    )
    on_pixels = _pixel_check(cfg, reps.path)
    starts, neighbour, pair_of = _neighbours(pairs, len(reps))
    taken = np.zeros(len(reps), dtype=bool)
    duplicate_of = np.full(len(reps), -1, dtype=np.int64)
    similar_distinct = 0
    for i in range(len(reps)):  # reps are in preference order
        bar.at(i)
        if taken[i]:
            continue
        taken[i] = True
        for t in range(starts[i], starts[i + 1]):
            j, k = int(neighbour[t]), int(pair_of[t])
            if taken[j]:
                continue
            same, pixels = (True, {"verified_on": "colour_grid"}) if checked.matched[k] else on_pixels(i, j)
            if same:
                taken[j] = True
                duplicate_of[j] = i
                kept = reps.record_id[i].as_py()
                evidence = {"duplicate_of": kept, **_pair_evidence(checked, k, radius), **pixels}
                log.add(
                    reps.record_id[j].as_py(),
                    "near_duplicate",
                    Decision.DROP,
                    Reason.DUPLICATE_NEAR,
                    evidence,
                )
            else:
                similar_distinct += 1
    bar.finish()
    return _NearResult(pairs, checked, duplicate_of, similar_distinct)


def _neighbours(pairs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each record's candidates as CSR arrays: for record i, entries starts[i]:starts[i+1] of
    (neighbour, pair index), in neighbour order."""
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    pair_of = np.tile(np.arange(len(pairs), dtype=np.int64), 2)
    order = np.lexsort((pair_of, dst, src))
    starts = np.searchsorted(src[order], np.arange(n + 1))
    return starts, dst[order], pair_of[order]


def _log_exact(
    alive: DedupInputs, copies: np.ndarray, identical: np.ndarray, kept: np.ndarray, log: FindingsLog
) -> None:
    """The exact-duplicate findings: each copy points at the record kept for its group."""
    ids, sha = alive.record_id, alive.content_sha256
    for c, i, k in zip(copies.tolist(), identical.tolist(), kept.tolist(), strict=True):
        kept_id, identical_id = ids[k].as_py(), ids[i].as_py()
        evidence = {"duplicate_of": kept_id, "sha256": sha[c].as_py()} | (
            {"identical_to": identical_id} if k != i else {}
        )
        log.add(ids[c].as_py(), "exact_duplicate", Decision.DROP, Reason.DUPLICATE_EXACT, evidence)


def _similar_clusters(near: _NearResult, n: int, radius: int) -> np.ndarray:
    """Per representative, the first (most preferred) member of its cluster of similar images.

    Clusters join pairs within the hashes' own radius on either hash, ignoring colour (the wider
    pixel-check radius would join unrelated pictures); they keep train and eval apart later.
    """
    if not n:
        return np.zeros(0, dtype=np.int64)
    checked = near.checked
    close = near.pairs[(checked.phash_distance <= radius) | (checked.dhash_distance <= radius)]
    graph = coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    _, first = np.unique(labels, return_index=True)
    return first[labels]


def _write_groups(
    work_dir: Path,
    alive: DedupInputs,
    rep_at: np.ndarray,
    near_of: np.ndarray,
    exact: tuple[np.ndarray, np.ndarray],
    near: _NearResult,
    cfg: GovernanceConfig,
) -> tuple[Path, int]:
    """Write the group table; return its path and the number of groups (records kept for others).

    Positions index `alive`: `rep_at` the representatives, `near_of` per representative the record
    kept for it (-1: none), `exact` the copies and the record kept for each. One row per
    representative (the record kept for it, its group, its similarity cluster), then one per exact
    copy (no cluster: copies are not in the search).
    """
    copies, kept_of_copy = exact
    n = len(rep_at)
    heads = np.unique(np.concatenate([near_of[near_of >= 0], kept_of_copy]))
    is_head = np.zeros(len(alive), dtype=bool)
    is_head[heads] = True
    group = np.where(near_of >= 0, near_of, np.where(is_head[rep_at], rep_at, -1))
    cluster = rep_at[_similar_clusters(near, n, cfg.dedup.near_max_distance)]

    def ids(at: np.ndarray) -> pa.Array:  # record ids at positions of `alive`, null at -1
        return alive.record_id.take(pa.array(at, pa.int64(), mask=at < 0))

    table = pa.table(
        {
            "record_id": pa.concat_arrays([ids(rep_at), ids(copies)]),
            "duplicate_of": pa.concat_arrays([ids(near_of), ids(kept_of_copy)]),
            "duplicate_group": pa.concat_arrays([ids(group), ids(kept_of_copy)]),
            "similar_cluster": pa.concat_arrays(
                [ids(cluster), ids(np.full(len(copies), -1, dtype=np.int64))]
            ),
        },
        schema=_GROUPS,
    )
    out = AtomicParquetWriter(Path(work_dir) / DEDUP_FILE, _GROUPS)
    out.write(table)
    return out.close(), len(heads)


def _pixel_check(cfg: GovernanceConfig, paths: pa.Array) -> Callable[[int, int], tuple[bool, dict]]:
    """The pixel verification of a candidate the colour grid rejected (i, j index `paths`).

    Reads only the two files of the pair (a small bounded cache of decoded copies): memory does not
    grow with the dataset. The evidence records the verdict too, so a merge says which check made it.
    """
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    d = cfg.dedup

    def check(i: int, j: int) -> tuple[bool, dict]:
        a, b = paths[i].as_py(), paths[j].as_py()
        if d.pixel_candidate_distance < d.near_max_distance or not (
            isinstance(a, str) and isinstance(b, str)
        ):
            return False, {}
        same, evidence = verify_on_pixels(a, b, limits, d.pixel_max_difference, d.pixel_max_share_ratio)
        return same, {"verified_on": "pixels", **evidence}

    return check


def _pair_evidence(checked: PairEvidence, k: int, radius: int) -> dict:
    """What the manifest records for a verified pair: the hashes' distances and the colour check."""
    return {
        "found_by": checked.found_by(k, radius),
        "hamming": int(checked.phash_distance[k]),
        "dhash_hamming": int(checked.dhash_distance[k]),
        "color_distance": round(float(checked.color_distance[k]), 4),
        "brightness_gain": round(float(checked.gain[k]), 3),
        "brightness_offset": round(float(checked.offset[k]), 3),
    }


def _check_eval_leaks(cfg: GovernanceConfig, reps: DedupInputs, log: FindingsLog) -> None:
    """Drop training candidates that are (near) copies of an image in the user's evaluation set."""
    if cfg.dedup.eval_dir is None:
        return
    held_out = _eval_hashes(cfg)
    if held_out.empty or not len(reps):
        return
    eval_colors = color_array(list(held_out["color_hash"]))
    n = len(reps)
    both = np.concatenate([reps.phash, held_out["phash"].astype("int64").to_numpy()])
    both_dhash = np.concatenate([reps.dhash, grid_dhash_int64(eval_colors)])
    leaks: dict[int, dict] = {}
    sha_to_eval = dict(zip(held_out["content_sha256"], held_out["record_id"], strict=True))
    same_bytes = pc.is_in(reps.content_sha256, value_set=pa.array(list(sha_to_eval), pa.string()))
    for i in np.flatnonzero(same_bytes.fill_null(False).to_numpy(zero_copy_only=False)).tolist():
        leaks[i] = {"eval_record": sha_to_eval[reps.content_sha256[i].as_py()], "match": "identical bytes"}
    radius = cfg.dedup.near_max_distance
    pairs = candidate_pairs(both, both_dhash, radius)
    pairs = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)]  # training candidate against an eval image
    grids = reps.grid_view(extra=eval_colors)
    checked = verify_pairs(both, both_dhash, grids, pairs, radius, cfg.dedup.color_max_distance, VERIFY_CHUNK)
    for k, (a, b) in enumerate(pairs.tolist()):
        if a not in leaks and checked.matched[k]:
            leaks[a] = {"eval_record": held_out.at[b - n, "record_id"], **_pair_evidence(checked, k, radius)}
    for i, evidence in sorted(leaks.items()):
        log.add(reps.record_id[i].as_py(), "eval_leak", Decision.DROP, Reason.EVAL_LEAK, evidence)


def read_groups(work_dir: Path) -> pd.DataFrame:
    """The table `run_dedup` wrote, indexed by record_id."""
    return pd.read_parquet(Path(work_dir) / DEDUP_FILE).set_index("record_id")
