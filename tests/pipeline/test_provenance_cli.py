"""`pipeline provenance`: the real CLI in a subprocess on a signed output, a re-saved copy and a real photo."""

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.pipeline.real_cli import cli
from training.output_credentials import save_credentialed_png, throwaway_credentials

RUN = "9a1b2c3d4e"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli(cwd, *args, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    from skimage import data

    out = tmp_path_factory.mktemp("prov")
    photo = Image.fromarray(data.coffee()).resize((64, 48))
    signed = save_credentialed_png(photo, out / "signed.png", RUN, "tiny", throwaway_credentials(RUN))
    resaved = out / "resaved.jpg"
    Image.open(signed).convert("RGB").save(resaved, "JPEG", quality=90)
    real = out / "coffee.png"
    photo.resize((512, 384)).save(real)
    return {"signed": signed, "resaved": resaved, "real": real}


def test_json_reports_each_file_and_exit_0_only_when_all_are_ours(files, tmp_path):
    proc = _cli(
        tmp_path, "provenance", str(files["signed"]), str(files["resaved"]), "--run-id", RUN, "--json"
    )
    assert proc.returncode == 0, proc.stderr
    signed, resaved = json.loads(proc.stdout)
    assert signed["c2pa_state"] == "Valid" and signed["claimed_run"] == RUN and signed["recognised"]
    assert resaved["c2pa_state"] == "none" and resaved["watermark_run"] == RUN and resaved["recognised"]
    proc = _cli(tmp_path, "provenance", str(files["signed"]), str(files["real"]), "--json")
    assert proc.returncode == 1
    assert [r["recognised"] for r in json.loads(proc.stdout)] == [True, False]


def test_text_output_names_the_state_and_a_missing_trust_anchor_file_is_a_usage_error(files, tmp_path):
    proc = _cli(tmp_path, "provenance", str(files["real"]))
    assert proc.returncode == 1 and "NOT RECOGNISED" in proc.stdout and "C2PA: none" in proc.stdout
    proc = _cli(tmp_path, "provenance", str(files["signed"]), "--trust-anchors", str(tmp_path / "no.pem"))
    assert proc.returncode == 2 and "no.pem" in proc.stderr


def test_an_expired_signing_certificate_stops_the_run_at_load_naming_the_file(tmp_path):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=60))
        .not_valid_after(now - datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "chain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    sets = [
        f"audits.signing.certificate_chain={tmp_path / 'chain.pem'}",
        f"audits.signing.private_key={tmp_path / 'key.pem'}",
    ]
    proc = _cli(tmp_path, "run", *[a for s in sets for a in ("--set", s)])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "chain.pem" in proc.stderr and "valid only" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlflow.db").exists()  # nothing recorded
