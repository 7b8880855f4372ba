"""C2PA manifests validated with c2pa-python: signed, tampered, fake and absent, through provenance."""

import json

import pandas as pd
from PIL import Image, PngImagePlugin

from governance import stages
from governance.config import DataConfig, GovernanceConfig, NsfwConfig
from governance.embedded_signals import scan
from tests.governance.c2pa_signing import SIGNER, signed_jpeg, tampered
from tests.governance.messy_dataset import _c2pa_training_mining, _png_bytes


def test_a_signed_opt_out_is_found_and_its_signature_checked():
    data = signed_jpeg((200, 30, 30))
    signals = scan(data, "", "JPEG")
    assert signals.opt_out() == ["cawg.ai_generative_training=notAllowed", "cawg.ai_training=notAllowed"]
    credentials = signals.content_credentials
    assert credentials["state"] == "Valid" and credentials["failures"] == []
    assert credentials["signer"] == SIGNER
    assert "cawg.training-mining" in credentials["assertions"]


def test_a_tampered_file_fails_validation_and_its_opt_out_still_counts():
    signals = scan(tampered(signed_jpeg((30, 200, 30))), "", "JPEG")
    assert signals.content_credentials["state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in signals.content_credentials["failures"]
    assert signals.opt_out()  # honoured whether or not the manifest still holds


def test_a_fake_manifest_is_unreadable_and_files_without_one_are_not_parsed():
    info = PngImagePlugin.PngInfo()
    info.add(b"caBX", _c2pa_training_mining("notAllowed"))
    fake = scan(_png_bytes(Image.new("RGB", (32, 32)), info), "", "PNG")
    assert fake.content_credentials["state"] == "unreadable"
    assert fake.opt_out()
    plain = signed_jpeg((1, 2, 3))
    assert scan(plain, "").content_credentials == {}  # format unknown (undecodable): not parsed


def test_provenance_records_the_validation_beside_the_opt_out(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    files = {
        "signed.jpg": signed_jpeg((200, 30, 30)),
        "tampered.jpg": tampered(signed_jpeg((30, 30, 200))),
        "allowed.jpg": signed_jpeg((30, 200, 30), training="allowed"),
    }
    lines = []
    for name, blob in files.items():
        (data / name).write_bytes(blob)
        meta = {
            "file_name": name,
            "text": name,
            "license": "CC0",
            "source_url": "https://x.org",
            "author": "A",
        }
        lines.append(json.dumps(meta))
    (data / "metadata.jsonl").write_text("\n".join(lines))
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data), nsfw=NsfwConfig(enabled=False), num_proc=1
    )
    work = tmp_path / "work"
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    manifest = pd.read_parquet(stages.finalize(cfg, work, seed=0).manifest_path).set_index("file_name")
    for name, state in (("signed.jpg", "Valid"), ("tampered.jpg", "Invalid")):
        assert manifest.loc[name, "decision"] == "drop" and list(manifest.loc[name, "reasons"]) == ["opt_out"]
        evidence = json.loads(manifest.loc[name, "evidence"])["embedded_opt_out"]
        assert evidence["content_credentials"]["state"] == state, name
    assert manifest.loc["allowed.jpg", "decision"] == "keep"
