"""C2PA manifests validated with c2pa-python: signed, tampered, fake and absent, through provenance."""

import json

import pandas as pd
import pytest
from PIL import Image, PngImagePlugin

from governance import stages
from governance.config import DataConfig, GovernanceConfig, NsfwConfig, ProvenanceConfig
from governance.content_credentials import read_trust_anchors
from governance.embedded_signals import scan
from tests.governance.c2pa_signing import SIGNER, signed_jpeg, signer_credentials, tampered
from tests.governance.messy_dataset import _c2pa_training_mining, _png_bytes


def test_a_signed_opt_out_is_found_and_its_signature_checked():
    data = signed_jpeg((200, 30, 30))
    signals = scan(data, "", "JPEG")
    assert signals.opt_out() == ["cawg.ai_generative_training=notAllowed", "cawg.ai_training=notAllowed"]
    credentials = signals.content_credentials
    assert credentials["state"] == "Valid" and credentials["failures"] == []
    assert credentials["signer"] == SIGNER
    assert "cawg.training-mining" in credentials["assertions"]


def test_with_trust_anchors_a_manifest_signed_under_them_is_trusted(tmp_path):
    data = signed_jpeg((120, 30, 30))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(signer_credentials()[2])
    trusted = scan(data, "", "JPEG", read_trust_anchors(anchors)).content_credentials
    assert trusted["state"] == "Trusted" and trusted["failures"] == []
    # another CA's anchors do not vouch for this signer
    other = tmp_path / "other.pem"
    other.write_bytes(_other_ca_pem())
    assert scan(data, "", "JPEG", read_trust_anchors(other)).content_credentials["state"] == "Valid"


def test_trust_anchors_that_are_missing_or_not_pem_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"provenance\.c2pa_trust_anchors"):
        read_trust_anchors(tmp_path / "nope.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"provenance\.c2pa_trust_anchors"):
        read_trust_anchors(junk)


def _other_ca_pem() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


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
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(signer_credentials()[2])
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data),
        nsfw=NsfwConfig(enabled=False),
        provenance=ProvenanceConfig(c2pa_trust_anchors=anchors),
        num_proc=1,
    )
    work = tmp_path / "work"
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    manifest = pd.read_parquet(stages.finalize(cfg, work, seed=0).manifest_path).set_index("file_name")
    for name, state in (("signed.jpg", "Trusted"), ("tampered.jpg", "Invalid")):
        assert manifest.loc[name, "decision"] == "drop" and list(manifest.loc[name, "reasons"]) == ["opt_out"]
        evidence = json.loads(manifest.loc[name, "evidence"])["embedded_opt_out"]
        assert evidence["content_credentials"]["state"] == state, name
    assert manifest.loc["allowed.jpg", "decision"] == "keep"
