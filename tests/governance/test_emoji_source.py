"""The built-in emoji source and a small end-to-end run on it (worker processes included)."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import skimage
from PIL import Image

from governance import stages
from governance.config import DataConfig, GovernanceConfig
from governance.images import ImageLimits, decode
from governance.nsfw import NsfwDetector
from governance.progress import WorkProgress
from governance.sources.emoji import caption, gender, load_emoji, skin_tone
from governance.tables import RECORDS_FILE


def test_records_are_captioned_licensed_and_ordered():
    records, folder = load_emoji(None)
    assert 3700 < len(records) < 3900
    assert [r.record_id for r in records[:3]] == ["emoji:00000", "emoji:00001", "emoji:00002"]
    assert all(r.path and r.path.startswith(str(folder)) for r in records)
    assert all(r.text and r.text == r.text.lower() for r in records)
    assert {r.license_raw for r in records} == {"CC-BY-4.0"}
    assert all(r.source_url.endswith(r.file_name) for r in records)
    tones = {r.attributes.get("skin_tone") for r in records}
    assert tones == {None, "light", "medium-light", "medium", "medium-dark", "dark"}
    assert {r.attributes.get("gender") for r in records} == {None, "man", "woman", "person"}
    assert len({r.text for r in records}) > 0.99 * len(records)


def test_caption_and_attribute_helpers():
    assert caption("THUMBS UP SIGN", "1F3FD") == "thumbs up sign: medium skin tone"
    assert caption("WOMAN: BALD", "1F3FB") == "woman: bald, light skin tone"
    assert skin_tone("1F3FB-1F3FF") is None and skin_tone("1F3FF-1F3FF") == "dark"
    assert gender("MAN AND WOMAN HOLDING HANDS") is None and gender("WOMAN BOWING") == "woman"


def test_limit_takes_the_first_records(tmp_path):
    cfg = GovernanceConfig(data=DataConfig(limit=12), num_proc=2, batch_size=5)
    calls = []
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, tmp_path, lambda *call: calls.append(call))
    # every stage's bar counts records (so it shows records/s and an ETA) from 0 to all of them
    for name in ("ingest", "provenance", "nsfw"):
        mine = [(done, total) for n, done, total in calls if n == name]
        assert mine[0] == (0, 12) and mine[-1] == (12, 12), name
    assert [c[1:] for c in calls if c[0] == "dedup"][-1] == (12, 12)  # none are exact copies
    steps = []
    report = stages.finalize(cfg, tmp_path, seed=0, progress=lambda *call: steps.append(call))
    assert steps == [("finalize steps", i, 6) for i in range(7)]
    manifest = pd.read_parquet(report.manifest_path)
    assert list(manifest["record_id"]) == [r.record_id for r in load_emoji(12)[0]]
    assert report.decisions["keep"] == 12
    assert report.licenses_kept == {"CC-BY-4.0": 12}
    assert manifest["phash"].notna().all() and manifest["nsfw_detections"].notna().all()
    assert any(c.name.startswith("Twemoji") and c.license == "CC-BY-4.0" for c in report.components)
    assert json.loads(manifest["attributes"].iloc[0]) == {}


def test_nsfw_failure_mid_ingest_keeps_finished_shards_and_resume_does_the_rest(tmp_path, monkeypatch):
    # NudeNet's runs work in their own threads while the next shard is decoded: a failure there must
    # still stop the stage, with every shard before it written and none after it marked done.
    cfg = GovernanceConfig(data=DataConfig(limit=12), num_proc=1, batch_size=3)
    real_run = NsfwDetector._detect_one_run  # one forward pass: here, one per shard
    calls = []

    def failing_third_shard(self, images, sizes):
        calls.append(len(images))
        if len(calls) == 3:
            raise RuntimeError("onnxruntime gave up")
        return real_run(self, images, sizes)

    monkeypatch.setattr(NsfwDetector, "_detect_one_run", failing_third_shard)
    with pytest.raises(RuntimeError, match="gave up"):
        stages.ingest(cfg, tmp_path, lambda *_: None)
    done = sorted(p.name for p in (tmp_path / "ingest").glob("shard-*.done"))
    assert done == ["shard-00000.done", "shard-00001.done"]
    assert not (tmp_path / "ingest" / RECORDS_FILE).exists()
    monkeypatch.setattr(NsfwDetector, "_detect_one_run", real_run)
    counts = stages.ingest(cfg, tmp_path, lambda *_: None)
    assert counts.metrics["records_ingested_now"] == 6
    table = pd.read_parquet(tmp_path / "ingest" / RECORDS_FILE)
    assert list(table["record_id"]) == [r.record_id for r in load_emoji(12)[0]]
    assert table["nsfw_detections"].notna().all()


def test_record_progress_reports_every_so_often_and_at_the_end():
    calls = []
    bar = WorkProgress(lambda *call: calls.append(call), "pass", total=10, every=4)
    for done in range(10):
        bar.at(done)
    bar.finish()
    assert calls == [("pass", 0, 10), ("pass", 4, 10), ("pass", 8, 10), ("pass", 10, 10)]
    WorkProgress(None, "silent", total=3).finish()  # no callback: nothing to report to


def test_nudenet_runs_once_per_distinct_file_content(tmp_path, monkeypatch):
    # Scraped folders hold the same file under several names: NudeNet (most of ingest's time) runs on
    # the first copy only, also across shards, and every copy carries the same detections.
    astronaut = io.BytesIO()  # a photo with a face, so that the detections shared are not empty
    Image.fromarray(skimage.data.astronaut()).save(astronaut, "PNG")
    contents = [astronaut.getvalue(), *(Path(r.path).read_bytes() for r in load_emoji(2)[0])]
    data = tmp_path / "data"
    data.mkdir()
    names = {"a.png": 0, "b.png": 1, "a-copy.png": 0, "c.png": 2, "a-again.png": 0, "b-copy.png": 1}
    lines = []
    for name, source in names.items():
        (data / name).write_bytes(contents[source])
        lines.append(json.dumps({"file_name": name, "text": "t", "license": "CC0"}))
    (data / "metadata.jsonl").write_text("\n".join(lines))
    real_submit = NsfwDetector.submit
    scored = []

    def counting(self, images, sizes=None):
        scored.append(len(images))
        return real_submit(self, images, sizes)

    monkeypatch.setattr(NsfwDetector, "submit", counting)
    cfg = GovernanceConfig(data=DataConfig(source="imagefolder", path=data), num_proc=1, batch_size=2)
    counts = stages.ingest(cfg, tmp_path / "work", lambda *_: None)
    assert sum(scored) == 3 and counts.metrics["nsfw_reused_for_identical_files"] == 3
    table = pd.read_parquet(tmp_path / "work" / "ingest" / RECORDS_FILE).set_index("file_name")
    direct = NsfwDetector(cfg.nsfw.providers, upscale_small=cfg.nsfw.upscale_small)
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    for name, source in names.items():
        original = next(n for n, s in names.items() if s == source)
        assert table.loc[name, "nsfw_detections"] == table.loc[original, "nsfw_detections"]
    decoded = decode((data / "a.png").read_bytes(), limits)
    expected = [d.as_dict() for d in direct.detect([decoded.small], [(decoded.width, decoded.height)])[0]]
    assert json.loads(table.loc["a.png", "nsfw_detections"]) == expected
    assert any(d["class"] == "FACE_FEMALE" for d in expected)
