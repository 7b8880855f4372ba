"""The dedup pass: exact and near duplicates, one deterministic representative per group, eval leaks.

Only records still alive after ingest and provenance take part (a dropped record can neither
represent a group nor link two others). The representative is the most preferred member: not
quarantined (its licence and provenance are in order) first, then the larger image, then the smaller
record id. Near duplicates are found greedily from the most preferred record down, so each dropped
record is within the Hamming radius of its own representative (no chaining through a third image).
Candidates are the pairs within the radius on the pHash or on the dHash of the colour grid; each is
verified on the colour grids (governance.color.color_match_distance), and the evidence says which
hash found the pair, both distances and the brightness/contrast change the check forgave.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from governance.color import color_array
from governance.config import GovernanceConfig
from governance.decisions import FindingsLog, decisions_so_far, load_findings
from governance.evidence import ImageTask, evidence_batch
from governance.exact_duplicates import exact_groups
from governance.images import ImageLimits
from governance.near_duplicates import PairEvidence, candidate_pairs, verify_pairs
from governance.perceptual_hash import grid_dhash_int64
from governance.pixel_match import verify_on_pixels
from governance.progress import ProgressFn, WorkProgress
from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.stage_names import GovernanceStage, decided_before
from governance.tables import atomic_parquet, read_ingest

DEDUP_FILE = "dedup_groups.parquet"


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
    table = read_ingest(
        work_dir, ["record_id", "content_sha256", "phash", "color_hash", "width", "height", "path"]
    )
    decided = load_findings(
        work_dir, decided_before(GovernanceStage.DEDUP), ["record_id", "check", "decision"]
    )
    so_far = decisions_so_far(list(table["record_id"]), decided)
    table["severity"] = [d.severity for d in so_far]
    alive = table[(table["severity"] < Decision.DROP.severity) & table["phash"].notna()].copy()
    alive["pixels"] = alive["width"].astype("int64") * alive["height"].astype("int64")
    alive = alive.sort_values(["severity", "pixels", "record_id"], ascending=[True, False, True]).reset_index(
        drop=True
    )
    log = FindingsLog("dedup")
    duplicate_of: dict[str, str] = {}
    # Exact: identical bytes.
    exact_dropped = np.zeros(len(alive), dtype=bool)
    exact: list[tuple[str, str, str]] = []  # (record, its identical representative, sha256), logged below
    for members in exact_groups(list(alive["content_sha256"])):
        rep = alive.at[members[0], "record_id"]
        for m in members[1:]:
            exact_dropped[m] = True
            exact.append((alive.at[m, "record_id"], rep, alive.at[m, "content_sha256"]))
    # Near: pHash within the radius and the same colours, among the exact representatives.
    reps = alive[~exact_dropped].reset_index(drop=True)
    bar = WorkProgress(progress, "dedup", len(reps))  # images grouped (the index search comes first)
    rep_ids = list(reps["record_id"])  # plain list: per-row DataFrame.at costs ~30 us a call
    phash = reps["phash"].astype("int64").to_numpy()
    colors = color_array(list(reps["color_hash"]))
    dhash = grid_dhash_int64(colors)
    radius = cfg.dedup.near_max_distance
    pairs = candidate_pairs(phash, dhash, max(radius, cfg.dedup.pixel_candidate_distance))
    checked = verify_pairs(phash, dhash, colors, pairs, radius, cfg.dedup.color_max_distance)
    on_pixels = _pixel_check(cfg, list(reps["path"]))
    neighbours: list[list[tuple[int, int]]] = [[] for _ in range(len(reps))]
    for k, (a, b) in enumerate(pairs):
        neighbours[a].append((b, k))
        neighbours[b].append((a, k))
    taken = np.zeros(len(reps), dtype=bool)
    similar_distinct = 0
    for i in range(len(reps)):  # reps are in preference order
        bar.at(i)
        if taken[i]:
            continue
        taken[i] = True
        for j, k in sorted(neighbours[i]):
            if taken[j]:
                continue
            same, pixels = (True, {"verified_on": "colour_grid"}) if checked.matched[k] else on_pixels(i, j)
            if same:
                taken[j] = True
                duplicate_of[rep_ids[j]] = rep_ids[i]
                evidence = {"duplicate_of": rep_ids[i], **_pair_evidence(checked, k, radius), **pixels}
                log.add(rep_ids[j], "near_duplicate", Decision.DROP, Reason.DUPLICATE_NEAR, evidence)
            else:
                similar_distinct += 1
    bar.finish()
    for rid, identical, sha in exact:
        # An exact group's representative may itself be a near duplicate: point at the record kept.
        kept = duplicate_of.get(identical, identical)
        duplicate_of[rid] = kept
        evidence = {"duplicate_of": kept, "sha256": sha} | (
            {"identical_to": identical} if kept != identical else {}
        )
        log.add(rid, "exact_duplicate", Decision.DROP, Reason.DUPLICATE_EXACT, evidence)
    _check_eval_leaks(cfg, reps, phash, colors, log)
    # Clusters of similar images (either hash, ignoring colour) keep train and eval apart later.
    n = len(reps)
    # Within the hashes' own radius: the wider pixel-check radius would join unrelated pictures.
    close = pairs[(checked.phash_distance <= radius) | (checked.dhash_distance <= radius)]
    graph = coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(n, n)) if n else None
    labels = connected_components(graph, directed=False)[1] if n else np.zeros(0, dtype=int)
    cluster_rep = {}
    for i, label in enumerate(labels):
        cluster_rep.setdefault(label, rep_ids[i])
    group_of = {rid: rep for rid, rep in duplicate_of.items()}
    for rep in set(duplicate_of.values()):
        group_of[rep] = rep
    rows = [
        {
            "record_id": rid,
            "duplicate_of": duplicate_of.get(rid),
            "duplicate_group": group_of.get(rid),
            "similar_cluster": cluster_rep[labels[i]] if i < n else None,
        }
        for i, rid in enumerate(rep_ids)
    ]
    kept_ids = set(rep_ids)
    rows += [
        {"record_id": rid, "duplicate_of": rep, "duplicate_group": rep, "similar_cluster": None}
        for rid, rep in duplicate_of.items()
        if rid not in kept_ids
    ]
    groups_path = atomic_parquet(
        pd.DataFrame(rows, columns=["record_id", "duplicate_of", "duplicate_group", "similar_cluster"]),
        Path(work_dir) / DEDUP_FILE,
    )
    counts = log.counts("dedup", len(table), time.perf_counter() - started)
    counts.artifacts = [log.write(work_dir), groups_path]
    counts.metrics.update(
        {
            "duplicate_groups": float(len(set(duplicate_of.values()))),
            "near_pairs_checked": float(len(pairs)),
            "similar_but_distinct_pairs": float(similar_distinct),
        }
    )
    return counts


def _pixel_check(cfg: GovernanceConfig, paths: list) -> Callable[[int, int], tuple[bool, dict]]:
    """The pixel verification of a candidate the colour grid rejected (i, j index `paths`).

    Reads only the two files of the pair (a small bounded cache of decoded copies): memory does not
    grow with the dataset. The evidence records the verdict too, so a merge says which check made it.
    """
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    d = cfg.dedup

    def check(i: int, j: int) -> tuple[bool, dict]:
        if d.pixel_candidate_distance < d.near_max_distance or not (
            isinstance(paths[i], str) and isinstance(paths[j], str)
        ):
            return False, {}
        same, evidence = verify_on_pixels(
            str(paths[i]), str(paths[j]), limits, d.pixel_max_difference, d.pixel_max_share_ratio
        )
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


def _check_eval_leaks(
    cfg: GovernanceConfig, reps: pd.DataFrame, phash: np.ndarray, colors: np.ndarray, log: FindingsLog
) -> None:
    """Drop training candidates that are (near) copies of an image in the user's evaluation set."""
    if cfg.dedup.eval_dir is None:
        return
    held_out = _eval_hashes(cfg)
    if held_out.empty or reps.empty:
        return
    both = np.concatenate([phash, held_out["phash"].astype("int64").to_numpy()])
    eval_colors = color_array(list(held_out["color_hash"]))
    n = len(reps)
    leaks: dict[int, dict] = {}
    sha_to_eval = dict(zip(held_out["content_sha256"], held_out["record_id"], strict=True))
    for i, sha in enumerate(reps["content_sha256"]):
        if sha in sha_to_eval:
            leaks[i] = {"eval_record": sha_to_eval[sha], "match": "identical bytes"}
    both_colors = np.concatenate([colors, eval_colors])
    both_dhash = grid_dhash_int64(both_colors)
    radius = cfg.dedup.near_max_distance
    pairs = candidate_pairs(both, both_dhash, radius)
    pairs = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)]  # training candidate against an eval image
    checked = verify_pairs(both, both_dhash, both_colors, pairs, radius, cfg.dedup.color_max_distance)
    for k, (a, b) in enumerate(pairs):
        if a not in leaks and checked.matched[k]:
            leaks[int(a)] = {
                "eval_record": held_out.at[b - n, "record_id"],
                **_pair_evidence(checked, k, radius),
            }
    for i, evidence in sorted(leaks.items()):
        log.add(reps.at[i, "record_id"], "eval_leak", Decision.DROP, Reason.EVAL_LEAK, evidence)


def read_groups(work_dir: Path) -> pd.DataFrame:
    """The table `run_dedup` wrote, indexed by record_id."""
    return pd.read_parquet(Path(work_dir) / DEDUP_FILE).set_index("record_id")
