"""img2dataset's WebDataset shards, Parquet with image bytes and `--data` layout detection.

The shards are built in the test from real Twemoji glyphs in img2dataset's layout (see
img2dataset_shards.py), with failed downloads, an X-Robots-Tag refusal, a duplicate member name,
pickle and torch members, a climbing member name, a key the sidecar misses and a truncated tar.
"""

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.config import DataConfig
from governance.errors import DatasetError
from governance.reasons import Reason
from governance.sources import load_source
from governance.sources.detect import detect_layout
from tests.governance import img2dataset_shards
from tests.governance.img2dataset_shards import EMOJI, ROBOTS, jpeg

# Reasons only the image decoder finds (ingest), not the source: the member's bytes are an HTML page.
DECODE_REASONS = {"00000/000000005": {"not_an_image"}}


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    root = tmp_path_factory.mktemp("img2dataset") / "out"
    return root, img2dataset_shards.build(root)


def _load(root: Path, **kwargs) -> dict:
    loaded = load_source(DataConfig(source="webdataset", path=root, **kwargs))
    return {r.record_id: r for r in loaded.records}


def test_every_sidecar_row_and_every_tar_key_is_exactly_one_record(shards):
    root, expected = shards
    records = load_source(DataConfig(source="webdataset", path=root)).records
    ids = [r.record_id for r in records]
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids)
    assert [r.index for r in records] == list(range(len(records)))
    for rec in records:
        found = {str(f.reason) for f in rec.findings}
        want = expected[rec.record_id] - DECODE_REASONS.get(rec.record_id, set())
        assert want <= found, (rec.record_id, found)
        if not expected[rec.record_id] or rec.record_id in DECODE_REASONS:
            # a good sample points at its image member and has no finding
            assert not found and rec.member is not None and rec.data is None, rec.record_id


def test_failed_downloads_are_decisions_with_the_downloaders_error_as_evidence(shards):
    records = _load(shards[0])
    failed = records["00000/000000002"].findings
    assert [(f.check, f.reason) for f in failed] == [("download", Reason.DOWNLOAD_FAILED)]
    assert failed[0].evidence["error_message"] == "HTTP Error 404: Not Found"
    assert failed[0].evidence["status"] == "failed_to_download"
    refused = records["00000/000000003"].findings
    assert [f.reason for f in refused] == [Reason.OPT_OUT]
    assert refused[0].evidence["error_message"] == ROBOTS and refused[0].evidence["signal"] == "X-Robots-Tag"
    assert refused[0].evidence["url"] == "https://images.example.org/000000003.png"


def test_img2dataset_fields_map_to_the_projects_fields(shards):
    rec = _load(shards[0])["00000/000000001"]
    assert rec.member is not None and rec.member.read() == jpeg(EMOJI[1])
    assert (
        rec.text == "emoji picture number 1" and rec.source_url == "https://images.example.org/000000001.png"
    )
    assert rec.license_raw == "CC-BY-4.0" and rec.file_name == "000000001.jpg"
    assert rec.extra["width"] == 72 and rec.extra["status"] == "success" and rec.extra["shard"] == "00000"
    # a mapping the config sets wins over img2dataset's name
    renamed = _load(shards[0], fields={"text": "key"})["00000/000000001"]
    assert renamed.text == "000000001"


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_caption_only_in_the_txt_member_is_read(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    _tar(root / "00000.tar", {"a.jpg": jpeg(EMOJI[0]), "a.txt": b"a grinning face"})
    (rec,) = load_source(DataConfig(source="webdataset", path=root)).records
    assert rec.record_id == "00000/a" and rec.text == "a grinning face" and not rec.findings


def test_pickle_and_torch_members_are_never_unpickled(shards, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shard member was unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    rec = _load(shards[0])["00001/000010002"]
    assert rec.member is None and rec.extra["ignored_members"] == ["000010002.pkl", "000010002.pt"]
    assert [f.reason for f in rec.findings if f.check == "file"] == [Reason.NOT_AN_IMAGE]


def test_record_ids_and_bytes_are_the_same_on_a_rerun_and_a_limit_is_a_prefix(shards):
    first = load_source(DataConfig(source="webdataset", path=shards[0])).records
    again = load_source(DataConfig(source="webdataset", path=shards[0])).records
    digest = [(r.record_id, hashlib.sha256(r.member.read() if r.member else b"").hexdigest()) for r in first]
    assert digest == [
        (r.record_id, hashlib.sha256(r.member.read() if r.member else b"").hexdigest()) for r in again
    ]
    limited = load_source(DataConfig(source="webdataset", path=shards[0], limit=8)).records
    assert [r.record_id for r in limited] == [r.record_id for r in first[:8]]


def test_a_shard_that_is_not_a_tar_and_a_broken_sidecar_are_records(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (root / "00000.tar").write_bytes(b"this was never a tar file" * 40)
    (root / "00001.tar").write_bytes(b"")
    (root / "00001.parquet").write_bytes(b"PAR1 but not really")
    records = {r.record_id: r for r in load_source(DataConfig(source="webdataset", path=root)).records}
    assert set(records) == {"00000/", "00001/"}
    assert [f.reason for f in records["00000/"].findings] == [Reason.FILE_MISSING]
    assert "00000.tar" in records["00000/"].findings[0].evidence["problem"]
    assert [f.reason for f in records["00001/"].findings] == [Reason.INVALID_METADATA]
    assert "00001.parquet" in records["00001/"].findings[0].evidence["problem"]


def test_a_folder_without_shards_is_a_dataset_error_naming_it(tmp_path):
    with pytest.raises(DatasetError, match=r"no \.tar shards"):
        load_source(DataConfig(source="webdataset", path=tmp_path))


def _hf_parquet(path: Path) -> None:
    images = [{"bytes": jpeg(EMOJI[i]), "path": f"{EMOJI[i]}.jpg"} for i in range(3)]
    images.append({"bytes": None, "path": None})
    table = pa.table(
        {
            "image": images,
            "text": ["grinning face", "dog face", "red apple", "nothing"],
            "license": ["CC-BY-4.0"] * 4,
        }
    )
    pq.write_table(table, path)


def test_parquet_with_image_bytes_hugging_face_layout(tmp_path):
    root = tmp_path / "hf"
    (root / "data").mkdir(parents=True)
    _hf_parquet(root / "data" / "train-00000-of-00001.parquet")
    assert detect_layout(root).source == "parquet"
    records = load_source(DataConfig(source="parquet", path=root)).records
    assert [r.record_id for r in records] == [f"data/train-00000-of-00001/{i:06d}" for i in range(4)]
    assert records[1].data == jpeg(EMOJI[1]) and records[1].text == "dog face" and not records[1].findings
    assert [f.reason for f in records[3].findings] == [Reason.FILE_MISSING]


def test_parquet_img2dataset_output_keeps_failed_rows(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    rows = [
        {"key": "000000000", "jpg": jpeg(EMOJI[0]), "caption": "grinning", "url": "https://e.org/0.png",
         "status": "success", "error_message": None, "sha256": "0" * 64},
        {"key": "000000001", "jpg": None, "caption": "refused", "url": "https://e.org/1.png",
         "status": "failed_to_download", "error_message": ROBOTS, "sha256": None},
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), root / "00000.parquet")
    ok, refused = load_source(DataConfig(source="parquet", path=root)).records
    assert (
        ok.record_id == "00000/000000000" and ok.text == "grinning" and ok.source_url == "https://e.org/0.png"
    )
    assert ok.declared_sha256 is None and ok.extra["sha256"] == "0" * 64  # pre-resize hash: evidence only
    assert ok.data == jpeg(EMOJI[0]) and not ok.findings
    assert [f.reason for f in refused.findings] == [Reason.OPT_OUT] and refused.data is None


def test_parquet_without_an_image_column_names_its_columns(tmp_path):
    pq.write_table(pa.table({"url": ["https://e.org/a"], "caption": ["a"]}), tmp_path / "meta.parquet")
    with pytest.raises(DatasetError, match=r"no image column.*'url', 'caption'"):
        load_source(DataConfig(source="parquet", path=tmp_path))


def test_detect_layout_names_each_layout_and_what_showed_it(tmp_path, shards):
    assert detect_layout(shards[0]).source == "webdataset"
    assert "3 .tar, 3 with a sidecar" in detect_layout(shards[0]).evidence
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "metadata.csv").write_text("file_name,text\n")
    (folder / "00000.tar").write_bytes(b"")  # the metadata file is the stronger marker
    assert detect_layout(folder).source == "imagefolder"
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "state.json").write_text("{}")
    assert detect_layout(saved).source == "hf_disk"
    assert "state.json" in detect_layout(saved).evidence
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"metadata\.jsonl"):
        detect_layout(empty)


@pytest.mark.slow
def test_pipeline_run_data_governs_every_row_and_member_once(shards, tmp_path):
    root, expected = shards
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    sets = [
        "data_gate.min_kept=1",
        "data_gate.max_dropped_share=1",
        "data_gate.max_quarantined_share=1",
        "governance.provenance.required_fields=[license, source_url]",
    ]
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("pipeline")), "run", "--data", str(root), "--until", "governance",
         *[a for s in sets for a in ("--set", s)]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "governance.data.source=webdataset" in proc.stdout and "Traceback" not in out
    (manifest_path,) = (tmp_path / "runs").glob("*/governance/manifest.parquet")
    manifest = pd.read_parquet(manifest_path).set_index("record_id")
    assert sorted(manifest.index) == sorted(expected) and manifest.index.is_unique
    for rid, want in expected.items():
        reasons = set(manifest.at[rid, "reasons"])
        if want:
            assert want <= reasons and manifest.at[rid, "decision"] == "drop", (rid, reasons)
        else:
            assert manifest.at[rid, "decision"] == "keep", (rid, reasons)
    evidence = json.loads(manifest.at["00000/000000003", "evidence"])
    assert ROBOTS in json.dumps(evidence)


def _laion_metadata(path: Path, urls: dict[str, tuple[float, float, float]]) -> None:
    """LAION-style columns (LICENSE, punsafe, pwatermark, similarity), one row per URL."""
    rows = [
        {"url": url, "LICENSE": "CC0-1.0", "punsafe": p, "pwatermark": w, "similarity": s}
        for url, (p, w, s) in urls.items()
    ]
    rows.append({"url": "https://elsewhere.example/x.png", "LICENSE": "?", "punsafe": 1.0, "pwatermark": 1.0,
                 "similarity": 0.0})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_a_joined_metadata_parquet_maps_fields_keeps_evidence_and_applies_limits(shards, tmp_path):
    url = "https://images.example.org/{}.png".format
    meta = tmp_path / "laion-meta.parquet"
    _laion_metadata(
        meta,
        {
            url("000000000"): (0.01, 0.95, 0.31),
            url("000000001"): (0.02, 0.10, 0.12),
            url("000010000"): (0.9, 0.1, 0.35),
        },
    )
    join = {"path": meta, "on": "url", "max": {"pwatermark": 0.8}, "min": {"similarity": 0.28}}
    records = _load(shards[0], metadata=join, fields={"license": "LICENSE"})
    watermarked = records["00000/000000000"]
    (score,) = [f for f in watermarked.findings if f.reason == Reason.DATASET_SCORE]
    assert (
        score.evidence["column"] == "pwatermark"
        and score.evidence["value"] == 0.95
        and score.evidence["max"] == 0.8
    )
    (low,) = [f for f in records["00000/000000001"].findings if f.reason == Reason.DATASET_SCORE]
    assert low.evidence["column"] == "similarity" and low.evidence["min"] == 0.28
    fine = records["00001/000010000"]
    assert not fine.findings and fine.license_raw == "CC0-1.0"
    assert fine.extra["punsafe"] == 0.9 and fine.extra["metadata_join"]["matched"] is True
    unmatched = records["00001/000010003"]
    assert unmatched.extra["metadata_join"]["matched"] is False and not unmatched.findings
    assert unmatched.license_raw is None  # LICENSE comes only from the metadata


def test_a_join_that_matches_nothing_or_names_a_missing_column_is_a_dataset_error(shards, tmp_path):
    meta = tmp_path / "other.parquet"
    _laion_metadata(meta, {})
    with pytest.raises(DatasetError, match=r"none of 14 records matched.*'url'"):
        _load(shards[0], metadata={"path": meta})
    with pytest.raises(DatasetError, match=r"no column \['aesthetic'\]"):
        _load(shards[0], metadata={"path": meta, "max": {"aesthetic": 5}})


def test_parquet_source_joins_metadata_by_key(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    rows = [{"key": f"{i:09d}", "jpg": jpeg(EMOJI[i]), "caption": f"emoji {i}", "url": f"https://e.org/{i}"}
            for i in range(3)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), root / "00000.parquet")
    meta = root / "scores.parquet"  # beside the data: not read as data
    pq.write_table(pa.Table.from_pylist([{"key": "000000001", "punsafe": 0.97}]), meta)
    records = load_source(
        DataConfig(source="parquet", path=root, metadata={"path": meta, "on": "key", "max": {"punsafe": 0.5}})
    ).records
    assert [r.record_id for r in records] == [f"00000/{i:09d}" for i in range(3)]
    assert [[str(f.reason) for f in r.findings] for r in records] == [[], ["dataset_score"], []]


def test_a_sidecar_whose_tar_is_gone_still_gives_every_row_a_record(shards, tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    for name in ("00000.tar", "00000.parquet", "00001.parquet"):  # 00001.tar was lost in the copy
        (root / name).write_bytes((shards[0] / name).read_bytes())
    records = _load(root)
    lost = [r for rid, r in records.items() if rid.startswith("00001/")]
    assert sorted(r.record_id for r in lost) == ["00001/000010000", "00001/000010001"]
    for rec in lost:
        assert [f.reason for f in rec.findings] == [Reason.FILE_MISSING]
        assert "00001.tar is missing beside its sidecar" in rec.findings[0].evidence["problem"]


def test_a_repeated_key_is_a_record_of_its_own_dropped_as_invalid_metadata(tmp_path):
    # in a Parquet file with image bytes, and in a shard's sidecar (whose second row finds no member)
    rows = [{"key": "a", "jpg": jpeg(EMOJI[i]), "caption": f"c{i}"} for i in range(2)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "00000.parquet")
    first, again = load_source(DataConfig(source="parquet", path=tmp_path)).records
    assert (first.record_id, again.record_id) == ("00000/a", "00000/a#row1") and not first.findings
    assert [(f.reason, f.evidence) for f in again.findings] == [
        (Reason.INVALID_METADATA, {"problem": "the file repeats this key"})
    ]
    shard = tmp_path / "wds"
    shard.mkdir()
    _tar(shard / "00000.tar", {"a.jpg": jpeg(EMOJI[0]), "a.txt": b"c0"})
    pq.write_table(pa.table({"key": ["a", "a"], "status": ["success", "success"]}), shard / "00000.parquet")
    first, again = load_source(DataConfig(source="webdataset", path=shard)).records
    assert again.record_id == "00000/a#row1" and not first.findings
    assert {"problem": "sidecar repeats this key"} in [f.evidence for f in again.findings]
