"""Other sources (metadata.csv, save_to_disk) and the policies not covered by the messy fixture."""

import csv
import json
from pathlib import Path

import pandas as pd
from PIL import Image

from governance import stages
from governance.config import DataConfig, GovernanceConfig, NsfwConfig, OptOutList, ProvenanceConfig
from governance.opt_out import load_opt_out
from tests.governance.imagefolders import ai_generated_folder, noise_png, write_imagefolder


def _run(cfg: GovernanceConfig, work):
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    report = stages.finalize(cfg, work, seed=0)
    return report, pd.read_parquet(report.manifest_path).set_index("file_name")


def test_csv_metadata_with_custom_field_names_and_attributes(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i in range(3):
        (data / f"{i}.png").write_bytes(noise_png(i))
        rows.append(
            {
                "img": f"{i}.png",
                "caption": f"picture {i}",
                "lic": "CC0",
                "url": "https://x.org",
                "by": "Bo",
                "skin_tone": "dark",
                "camera": "X",
            }
        )
    with (data / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fields = {"file_name": "img", "text": "caption", "license": "lic", "source_url": "url", "author": "by"}
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data, fields=fields),
        nsfw=NsfwConfig(enabled=False),
        num_proc=1,
    )
    report, manifest = _run(cfg, tmp_path / "work")
    assert report.decisions["keep"] == 3
    assert manifest.loc["1.png", "text"] == "picture 1"
    assert json.loads(manifest.loc["1.png", "attributes"]) == {"skin_tone": "dark"}
    assert json.loads(manifest.loc["1.png", "extra"]) == {"camera": "X"}
    assert manifest["nsfw_detections"].isna().all()


def test_save_to_disk_dataset_with_embedded_bytes(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "text": datasets.Value("string"),
            "license": datasets.Value("string"),
            "source_url": datasets.Value("string"),
            "author": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": noise_png(i), "path": None} for i in range(3)],
            "text": ["a", "b", "c"],
            "license": ["CC-BY-4.0"] * 3,
            "source_url": ["https://x.org"] * 3,
            "author": ["Cy"] * 3,
        },
        features=features,
    )
    ds.save_to_disk(str(tmp_path / "saved"))
    cfg = GovernanceConfig(
        data=DataConfig(source="hf_disk", path=tmp_path / "saved"), nsfw=NsfwConfig(enabled=False), num_proc=1
    )
    report, _ = _run(cfg, tmp_path / "work")
    assert report.decisions["keep"] == 3
    governed = pd.read_parquet(report.governed_path)
    assert all((tmp_path / "work").resolve() in Path(p).parents for p in governed["path"])


def test_ai_generated_cap_and_keep_policies(tmp_path):
    data = ai_generated_folder(tmp_path / "data", 10, ai=range(4))
    base = {
        "data": DataConfig(source="imagefolder", path=data),
        "nsfw": NsfwConfig(enabled=False),
        "num_proc": 1,
    }
    cap = GovernanceConfig(
        **base, provenance=ProvenanceConfig(ai_generated="cap", ai_generated_max_share=0.25)
    )
    report, manifest = _run(cap, tmp_path / "w1")
    # 6 ordinary records kept, so at most 2 AI-generated ones (2 / 8 = 25 %).
    assert report.decisions["keep"] == 8 and report.reasons == {"ai_generated": 2}
    keep = GovernanceConfig(**base, provenance=ProvenanceConfig(ai_generated="keep"))
    report, manifest = _run(keep, tmp_path / "w2")
    assert report.decisions["keep"] == 10
    assert "ai_generated" in json.loads(manifest.loc["0.png", "evidence"])


def test_opt_out_list_from_file(tmp_path):
    listing = tmp_path / "optout.txt"
    sha = "ab" * 32
    listing.write_text(f"# opt-outs\nexample.com\nhttps://cdn.other.org/private/\nJane  Doe\n{sha.upper()}\n")
    matcher = load_opt_out(OptOutList(file=listing))
    assert matcher.match("https://img.example.com/a.png", None, None) == ["domain=example.com"]
    assert matcher.match("https://notexample.com/a.png", None, None) == []
    assert matcher.match("https://cdn.other.org/private/x.png", None, None) == [
        "url_prefix=https://cdn.other.org/private/"
    ]
    assert matcher.match(None, "jane doe", None) == ["author=jane doe"]
    assert matcher.match(None, None, sha) == [f"sha256={sha}"]


def test_progress_is_reported(tmp_path):
    seen = []
    cfg = GovernanceConfig(data=DataConfig(limit=6), nsfw=NsfwConfig(enabled=False), num_proc=1, batch_size=2)
    stages.ingest(cfg, tmp_path, lambda d, c, t: seen.append((d, c, t)))
    assert seen[0] == ("ingest", 0, 6) and seen[-1] == ("ingest", 6, 6)
    assert [c for _, c, _ in seen] == sorted(c for _, c, _ in seen)


def test_worker_pool_yields_every_shard_once_in_order():
    from governance.images import ImageLimits
    from governance.ingest import _evidence_stream
    from governance.sources.emoji import load_emoji

    records, _ = load_emoji(40)
    shards = [(k, records[k * 3 : k * 3 + 3]) for k in range(13)]
    for helping in (True, False):
        out = list(
            _evidence_stream(
                iter(shards), ImageLimits(10**7, 10**7, 16), workers=2, help_while_booting=helping
            )
        )
        assert [k for k, _, _ in out] == list(range(13))
        assert [e.index for _, _, batch in out for e in batch] == list(range(39))


def test_jpeg_re_encodes_and_smaller_copies_of_photos_are_near_duplicates(tmp_path):
    import io

    import skimage.data

    data = tmp_path / "data"
    data.mkdir()
    files = {}
    for name in ("coffee", "chelsea", "rocket"):
        photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        buf = io.BytesIO()
        photo.save(buf, "PNG")
        files[f"{name}.png"] = buf.getvalue()
        for quality in (90, 50):
            buf = io.BytesIO()
            photo.save(buf, "JPEG", quality=quality)
            files[f"{name}_q{quality}.jpg"] = buf.getvalue()
        buf = io.BytesIO()
        photo.resize((photo.width // 2, photo.height // 2), Image.Resampling.LANCZOS).save(
            buf, "JPEG", quality=75
        )
        files[f"{name}_half.jpg"] = buf.getvalue()
    write_imagefolder(data, files)
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data), nsfw=NsfwConfig(enabled=False), num_proc=1
    )
    _, manifest = _run(cfg, tmp_path / "w")
    # One picture per photo survives, a full-size one (the larger image represents the group); every
    # copy, re-encoded or smaller, points to it.
    kept = manifest[manifest["decision"] == "keep"]
    assert sorted(n.split("_")[0].split(".")[0] for n in kept.index) == ["chelsea", "coffee", "rocket"]
    assert not any("_half" in n for n in kept.index)
    for name in files:
        photo = name.split("_")[0].split(".")[0]
        representative = next(n for n in kept.index if n.startswith(photo))
        if name != representative:
            assert manifest.loc[name, "decision"] == "drop"
            assert manifest.loc[name, "duplicate_of"] == manifest.loc[representative, "record_id"], name
