"""Signed Content Credentials on generated images: signing, keys, tamper and strip (real c2pa, real photo)."""

import datetime
import io
import struct
import zlib

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from audits.provenance_check import WATERMARK_BUT_INVALID, check_output
from tests.governance.c2pa_signing import signer_credentials
from training.output_credentials import (
    SigningError,
    credentialed_png_bytes,
    load_credentials,
    save_credentialed_png,
    throwaway_credentials,
)
from training.output_marks import marked_png_bytes, watermark_payload

RUN, MODEL = "3f9c0d2e1a", "tiny-emoji-unet"


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def throwaway():
    return throwaway_credentials(RUN)


@pytest.fixture(scope="module")
def signed(photo, throwaway, tmp_path_factory):
    return save_credentialed_png(photo, tmp_path_factory.mktemp("out") / "a.png", RUN, MODEL, throwaway)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d)) for t, d in chunks
    )
    return b"\x89PNG\r\n\x1a\n" + body


def _one_pixel_changed(data: bytes) -> bytes:
    """The signed file with one pixel changed and every other chunk (the manifest's caBX too) kept."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    pixels = np.asarray(img).copy()
    pixels[10, 10] = 255 - pixels[10, 10]
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    new_idat = [c for c in _chunks(buf.getvalue()) if c[0] == b"IDAT"]
    old = _chunks(data)
    first = next(i for i, c in enumerate(old) if c[0] == b"IDAT")
    kept = [c for c in old if c[0] != b"IDAT"]
    return _png(kept[:first] + new_idat + kept[first:])


def test_a_generated_image_carries_a_valid_manifest_with_model_run_training_and_soft_binding(signed):
    report = check_output(signed)
    assert report.c2pa_state == "Valid" and report.c2pa_failures == []
    assert (report.claimed_model, report.claimed_run) == (MODEL, RUN)
    assert report.claimed_source_type.endswith("trainedAlgorithmicMedia")
    assert set(report.training_mining.values()) == {"notAllowed"} and len(report.training_mining) == 4
    assert report.soft_binding_hex == watermark_payload(RUN).hex()
    assert report.watermark_run == RUN and report.watermark_matches_soft_binding
    assert report.iptc["RunID"] == RUN and report.iptc["AIModel"] == MODEL
    assert report.signer.startswith("throw-away signer") and report.recognised


def test_no_thumbnail_is_embedded(photo, throwaway):
    import c2pa

    data = credentialed_png_bytes(photo, RUN, MODEL, throwaway)
    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        store = reader.json()
    assert "thumbnail" not in store
    unsigned = marked_png_bytes(photo, RUN, MODEL)
    assert len(data) - len(unsigned) < 20_000  # a default thumbnail alone would add far more


def test_training_and_mining_permission_is_configurable(photo, throwaway, tmp_path):
    path = save_credentialed_png(photo, tmp_path / "b.png", RUN, MODEL, throwaway, training_mining="allowed")
    assert set(check_output(path).training_mining.values()) == {"allowed"}


def test_one_pixel_changed_after_signing_is_watermark_present_credentials_invalid_never_recognised(
    signed, tmp_path
):
    path = tmp_path / "tampered.png"
    path.write_bytes(_one_pixel_changed(signed.read_bytes()))
    for run_ids in (None, [RUN]):  # naming the run does not make a tampered file ours
        report = check_output(path, run_ids)
        assert report.c2pa_state == "Invalid"
        assert any("dataHash.mismatch" in code for code in report.c2pa_failures), report.c2pa_failures
        assert report.watermark_run == RUN  # the mark still says whose it was
        assert report.status == WATERMARK_BUT_INVALID and report.reason.startswith(WATERMARK_BUT_INVALID)
        assert not report.recognised


def test_a_resaved_file_loses_c2pa_and_is_matched_by_its_watermark_only_when_the_run_is_named(
    signed, tmp_path
):
    path = tmp_path / "resaved.jpg"
    Image.open(signed).convert("RGB").save(path, "JPEG", quality=90)
    assert check_output(path).c2pa_state == "none"
    assert not check_output(path).recognised  # 32 bits alone name no run
    report = check_output(path, run_ids=["another-run", RUN])
    assert report.recognised and report.watermark_run == RUN and report.status == "watermark only"


def test_a_real_photo_the_project_did_not_make_is_not_recognised(photo, tmp_path):
    path = tmp_path / "photo.png"
    photo.resize((512, 512)).save(path)
    report = check_output(path, run_ids=[RUN])
    assert report.c2pa_state == "none" and not report.recognised and report.watermark_run is None


def test_configured_chain_signs_and_reads_trusted_under_its_ca(photo, tmp_path):
    chain, key, ca = signer_credentials()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    creds = load_credentials(tmp_path / "chain.pem", tmp_path / "key.pem")
    assert not creds.throwaway and creds.alg == "es256" and "PRIVATE" not in repr(creds)
    path = save_credentialed_png(photo, tmp_path / "c.png", RUN, MODEL, creds)
    assert check_output(path, trust_anchors=ca.decode()).c2pa_state == "Trusted"
    other = save_credentialed_png(photo, tmp_path / "d.png", RUN, MODEL, throwaway_credentials(RUN))
    assert check_output(other, trust_anchors=ca.decode()).c2pa_state != "Trusted"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _leaf(
    days: tuple[int, int] = (-1, 30), eku=ExtendedKeyUsageOID.EMAIL_PROTECTION, ca=False, self_signed=False
):
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    issuer = _name("leaf" if self_signed else "Test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=days[0]))
        .not_valid_after(now + datetime.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .sign(key if self_signed else ca_key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no such file"),
        ("garbage", "not a PEM certificate"),
        ("expired", "valid only"),
        ("self_signed", "self-signed"),
        ("ca", "is a CA"),
        ("server_auth", "extended key usages"),
        ("wrong_key", "does not match"),
        ("encrypted_key", "encrypted"),
    ],
)
def test_an_unusable_certificate_or_key_is_a_config_error_naming_the_file(case, expected, tmp_path):
    chain, key = _leaf(
        days=(-30, -1) if case == "expired" else (-1, 30),
        eku=ExtendedKeyUsageOID.SERVER_AUTH
        if case == "server_auth"
        else ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ca=case == "ca",
        self_signed=case == "self_signed",
    )
    if case == "wrong_key":
        key = _leaf()[1]
    if case == "encrypted_key":
        loaded = serialization.load_pem_private_key(key, None)
        key = loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    cert_path, key_path = tmp_path / "chain.pem", tmp_path / "key.pem"
    if case != "missing":
        cert_path.write_bytes(b"not a certificate" if case == "garbage" else chain)
    key_path.write_bytes(key)
    with pytest.raises(SigningError, match=expected) as info:
        load_credentials(cert_path, key_path)
    named = key_path if case in ("wrong_key", "encrypted_key") else cert_path
    assert str(named) in str(info.value) and "c2pa needs" in str(info.value)


def _pipeline():
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from training.t2i_pipeline import T2IPipeline

    # save_image never calls the networks: stand-ins keep the test to the writing path
    return T2IPipeline(
        denoiser=torch.nn.Linear(1, 1),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=torch.nn.Linear(1, 1),
        tokenizer=None,
    )


def test_pipeline_save_image_signs_with_one_throwaway_key_and_writes_no_key(photo, tmp_path):
    pipe = _pipeline()
    with pytest.raises(ValueError, match="set_provenance"):
        pipe.save_image(photo, tmp_path / "x.png")
    pipe.set_provenance(RUN, MODEL, training_mining="allowed")
    first = check_output(pipe.save_image(photo, tmp_path / "1.png"))
    second = check_output(pipe.save_image(photo, tmp_path / "2.png"))
    assert first.c2pa_state == second.c2pa_state == "Valid" and first.claimed_run == RUN
    assert first.signer == second.signer and set(first.training_mining.values()) == {"allowed"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.png", "2.png"]
    assert b"PRIVATE KEY" not in (tmp_path / "1.png").read_bytes()


def test_signing_config_picks_the_configured_chain_or_a_throwaway_and_says_which(tmp_path):
    from audits.config import SigningConfig
    from training.output_credentials import credentials_for, signer_note

    chain, key, _ = signer_credentials()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    with pytest.raises(ValueError, match="both certificate_chain and private_key"):
        SigningConfig(certificate_chain=tmp_path / "chain.pem")
    configured = credentials_for(
        SigningConfig(certificate_chain=tmp_path / "chain.pem", private_key=tmp_path / "key.pem"), RUN
    )
    assert not configured.throwaway and "Test signer" in signer_note(configured)
    throwaway = credentials_for(SigningConfig(), RUN)
    assert throwaway.throwaway and "no one a verifier trusts" in signer_note(throwaway)


def test_a_rivagan_output_names_its_method_and_is_found_when_stripped(photo, throwaway, tmp_path):
    from training.output_credentials import SOFT_BINDING_ALGS
    from training.output_marks import WatermarkMethod

    riva = WatermarkMethod.RIVAGAN
    path = save_credentialed_png(photo, tmp_path / "riva.png", RUN, MODEL, throwaway, method=riva)
    with Image.open(path) as im:
        assert im.info["WatermarkMethod"] == "rivaGan"
    import c2pa

    with c2pa.Reader("image/png", io.BytesIO(path.read_bytes())) as reader:
        assert (
            SOFT_BINDING_ALGS[riva] in reader.json() and SOFT_BINDING_ALGS["dwtDctSvd"] not in reader.json()
        )
    report = check_output(path)
    assert report.recognised and report.watermark_method == "rivaGan" and report.watermark_run == RUN
    assert report.watermark_matches_soft_binding
    stripped = tmp_path / "stripped.jpg"  # no manifest, no metadata: the checker tries every method
    Image.open(path).convert("RGB").save(stripped, "JPEG", quality=90)
    assert not check_output(stripped).recognised
    found = check_output(stripped, run_ids=[RUN])
    assert found.recognised and found.status == "watermark only" and found.watermark_method == "rivaGan"
    assert not check_output(stripped, run_ids=["another-run"]).recognised
