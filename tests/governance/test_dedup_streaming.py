"""The dedup pass reads its records a batch at a time and keeps colour grids on disk: its decisions
must be those of the rule written plainly over the whole table in memory (all pairs, no index)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from governance import stages, tables
from governance.color import color_array
from governance.config import DataConfig, DedupConfig, GovernanceConfig, NsfwConfig
from governance.decisions import decisions_so_far, load_findings
from governance.dedup import DEDUP_FILE, _eval_hashes
from governance.dedup_inputs import GridStore
from governance.exact_duplicates import exact_copies
from governance.images import ImageLimits
from governance.near_duplicates import verify_pairs
from governance.perceptual_hash import grid_dhash_int64, hamming
from governance.pixel_match import verify_on_pixels
from governance.reasons import Decision
from governance.tables import read_ingest

DATA = Path(__file__).parents[1] / "data" / "near_duplicates"
PICTURES = sorted(p for p in DATA.iterdir() if p.suffix in (".png", ".webp"))
# Byte copies: of an original, of a near copy (its copy must point at the record kept), and one
# whose licence is unknown (quarantined: the copy with a licence in order must represent the group).
EXACT = ["twemoji-1f3a8.png", "twemoji-1f680.darker_6pct_flattened.png", "twemoji-25aa.png"]
URL = "https://github.com/jdecked/twemoji"
EVAL = ["twemoji-1f680.contrast_plus_10pct.png", "tango-32-folder.png"]  # planted eval leaks


def _dataset(root: Path) -> tuple[Path, Path]:
    data, evalset = root / "data", root / "evalset"
    data.mkdir()
    evalset.mkdir()
    rows = []
    files = [(p.name, p.read_bytes(), "CC-BY-4.0") for p in PICTURES]
    files += [(f"copy-{k}-{name}", (DATA / name).read_bytes(), "CC-BY-4.0") for k, name in enumerate(EXACT)]
    files.insert(
        0, ("unlicensed-twemoji-25aa.png", (DATA / "twemoji-25aa.png").read_bytes(), "my own licence")
    )
    for name, content, licence in files:
        (data / name).write_bytes(content)
        rows.append(
            {"file_name": name, "text": name, "license": licence, "author": "Twemoji", "source_url": URL}
        )
    for target, rows_out in ((data, rows), (evalset, [{"file_name": n, "text": n} for n in EVAL])):
        if target is evalset:
            for name in EVAL:
                shutil.copy(DATA / name, evalset / name)
        (target / "metadata.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows_out), encoding="utf-8"
        )
    return data, evalset


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    data, evalset = _dataset(root)
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data),
        dedup=DedupConfig(eval_dir=evalset),
        nsfw=NsfwConfig(enabled=False),
        num_proc=1,
        batch_size=8,  # several ingest shards
    )
    work = root / "work"
    for stage in (stages.ingest, stages.provenance):
        stage(cfg, work, lambda *_: None)
    return cfg, work


def _grids_match(cfg: GovernanceConfig, phash, dhash, grids, radius: int) -> bool:
    """Two records (rows 0 and 1): a hash within `radius` and the same colours."""
    if min(hamming(phash[0], phash[1]), hamming(dhash[0], dhash[1])) > radius:
        return False
    checked = verify_pairs(
        phash, dhash, grids, np.array([[0, 1]]), cfg.dedup.near_max_distance, cfg.dedup.color_max_distance
    )
    return bool(checked.matched[0])


def _same_picture(cfg: GovernanceConfig, phash, dhash, grids, paths) -> bool:
    """The pair rule: the colour grids, else (within the wider radius) the pixels."""
    d = cfg.dedup
    wide = max(d.near_max_distance, d.pixel_candidate_distance)
    if _grids_match(cfg, phash, dhash, grids, d.near_max_distance):
        return True
    if d.pixel_candidate_distance < d.near_max_distance or min(hamming(*phash), hamming(*dhash)) > wide:
        return False
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    return verify_on_pixels(*paths, limits, d.pixel_max_difference, d.pixel_max_share_ratio)[0]


def _reference(cfg: GovernanceConfig, work: Path) -> dict[str, tuple[str, str]]:
    """Per dropped record, (check, the record it duplicates), by the rule over the whole table in memory."""
    table = read_ingest(
        work, ["record_id", "content_sha256", "phash", "color_hash", "width", "height", "path"]
    )
    decided = load_findings(work, ["ingest", "provenance"], ["record_id", "check", "decision"])
    table["severity"] = [d.severity for d in decisions_so_far(list(table["record_id"]), decided)]
    alive = table[(table["severity"] < Decision.DROP.severity) & table["phash"].notna()]
    alive = alive.assign(pixels=alive["width"].astype(int) * alive["height"].astype(int))
    alive = alive.sort_values(["severity", "pixels", "record_id"], ascending=[True, False, True])
    first_of: dict[str, str] = {}
    copies, reps = {}, []
    for row in alive.itertuples():
        if row.content_sha256 in first_of:
            copies[row.record_id] = first_of[row.content_sha256]
        else:
            first_of[row.content_sha256] = row.record_id
            reps.append(row)
    phash = np.array([r.phash for r in reps], dtype=np.int64)
    colors = color_array([r.color_hash for r in reps])
    dhash = grid_dhash_int64(colors)
    out: dict[str, tuple[str, str]] = {}
    taken: set[int] = set()
    for i in range(len(reps)):  # greedy, most preferred first, every other record compared
        if i in taken:
            continue
        taken.add(i)
        for j in range(len(reps)):
            pair = [i, j]
            if j not in taken and _same_picture(
                cfg, phash[pair], dhash[pair], colors[pair], [reps[k].path for k in pair]
            ):
                taken.add(j)
                out[reps[j].record_id] = ("near_duplicate", reps[i].record_id)
    for rid, identical in copies.items():
        out[rid] = ("exact_duplicate", out.get(identical, (None, identical))[1])
    held_out = _eval_hashes(cfg)
    eval_colors = color_array(list(held_out["color_hash"]))
    eval_dhash = grid_dhash_int64(eval_colors)
    for i, rep in enumerate(reps):
        same_bytes = [e for e, sha in enumerate(held_out["content_sha256"]) if sha == rep.content_sha256]
        similar = [
            e
            for e in range(len(held_out))
            if _grids_match(
                cfg,
                np.array([phash[i], held_out.at[e, "phash"]], dtype=np.int64),
                np.array([dhash[i], eval_dhash[e]]),
                np.stack([colors[i], eval_colors[e]]),
                cfg.dedup.near_max_distance,
            )
        ]
        if same_bytes or similar:
            out.setdefault(rep.record_id, ("eval_leak", held_out.at[(same_bytes or similar)[0], "record_id"]))
    return out


def _decided(work: Path) -> dict[str, tuple[str, str]]:
    found = load_findings(work, ["dedup"])
    out = {}
    for rid, check, ev in zip(found["record_id"], found["check"], found["evidence"], strict=True):
        evidence = json.loads(ev)
        out.setdefault(rid, (check, evidence.get("duplicate_of", evidence.get("eval_record"))))
    return out


def test_streamed_decisions_equal_the_in_memory_rule_whatever_the_batch_size(ingested, tmp_path, monkeypatch):
    cfg, work = ingested
    reference = _reference(cfg, work)
    checks = {check for check, _ in reference.values()}
    assert checks == {"exact_duplicate", "near_duplicate", "eval_leak"}, "the data must exercise every check"
    outputs = []
    for batch in (tables.ROW_GROUP, 3):
        monkeypatch.setattr(tables, "ROW_GROUP", batch)
        copy = tmp_path / f"work-{batch}"
        shutil.copytree(work, copy)
        stages.dedup(cfg, copy, lambda *_: None)
        assert _decided(copy) == reference
        outputs.append([pd.read_parquet(copy / f) for f in ("findings/dedup.parquet", DEDUP_FILE)])
        assert [p.name for p in copy.iterdir() if p.name.startswith("dedup-grids")] == []  # spill removed
    for one, other in zip(*outputs, strict=True):
        pd.testing.assert_frame_equal(one, other)
    # The quarantined copy lost to the licensed one, and a copy of a near copy points at the record kept.
    groups = outputs[0][1].set_index("record_id")
    ids = read_ingest(work, ["record_id", "file_name"]).set_index("file_name")["record_id"]
    assert reference[ids["unlicensed-twemoji-25aa.png"]] == ("exact_duplicate", ids["twemoji-25aa.png"])
    kept = reference[ids["twemoji-1f680.darker_6pct_flattened.png"]][1]
    assert reference[ids["copy-1-twemoji-1f680.darker_6pct_flattened.png"]] == ("exact_duplicate", kept)
    assert groups.at[ids["copy-1-twemoji-1f680.darker_6pct_flattened.png"], "duplicate_group"] == kept


def test_exact_copies_group_by_first_appearance_and_skip_missing_hashes():
    import pyarrow as pa

    copies, first = exact_copies(pa.array(["b", "a", "b", None, "", "", "a", "c", "b"]))
    assert copies.tolist() == [2, 8, 6] and first.tolist() == [0, 0, 1]


def test_grid_store_reads_back_any_rows_in_any_order(tmp_path):
    rng = np.random.default_rng(0)
    grids = rng.integers(0, 256, size=(50, 768), dtype=np.uint8)
    store = GridStore(tmp_path)
    store.append(grids[:20])
    store.append(grids[20:])
    rows = np.array([49, 3, 4, 5, 3, 0, 21, 20])
    np.testing.assert_array_equal(store.read(rows), grids[rows])
    store.close()
    assert list(tmp_path.iterdir()) == []
