"""Signed C2PA Content Credentials on the images the trained model generates (c2pa-python).

Order of writing: generate, watermark, metadata, sign last; any byte written after signing breaks the
manifest's data hash. The manifest says what the image is and where it came from:

- `c2pa.actions`: `c2pa.created`, IPTC `digitalSourceType` trainedAlgorithmicMedia, the model name as
  `softwareAgent.name` and the run id as `softwareAgent.version`;
- `cawg.training-mining`: whether the image may be used for AI training and data mining (configured;
  default `notAllowed`);
- `c2pa.soft-binding`: the 32-bit invisible-watermark payload, so a file whose manifest was stripped
  (re-saved, screenshotted) can still be matched back to its manifest and run; its alg names the
  watermark method (`SOFT_BINDING_ALGS`), so a checker knows which decoder to run.

No thumbnail: c2pa's default would embed a 1024 px JPEG (about 250 KB) in a 64 px image.

Keys: a configured certificate chain (leaf first) and private key, checked here before any training
starts (`load_credentials`); without them, `throwaway_credentials` makes a per-run CA and leaf in
memory (c2pa refuses self-signed signing certificates). The throw-away private key is never written
anywhere; its manifests read `Valid` (signed, but by no one a verifier trusts), never `Trusted`.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from training.output_marks import WATERMARK_METHOD, WatermarkMethod

CLAIM_GENERATOR = "t2i-pipeline"
SOFT_BINDING_ALGS = {
    method: f"io.github.t2i-pipeline.invisible-watermark.{method}.32bit" for method in WatermarkMethod
}
SOFT_BINDING_ALG = SOFT_BINDING_ALGS[WATERMARK_METHOD]  # the default method's
TRAINING_MINING_KEYS = (
    "cawg.data_mining",
    "cawg.ai_inference",
    "cawg.ai_generative_training",
    "cawg.ai_training",
)
# Extended key usages c2pa accepts on a signing certificate by default.
ALLOWED_EKUS = {
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.36": "documentSigning",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "1.3.6.1.4.1.62558.2.1": "c2pa-kp-claimSigning",
}
_REQUIREMENT = (
    "c2pa needs a PEM chain whose first certificate is the signer's: not self-signed, not a CA, key usage "
    f"digitalSignature, an extended key usage among {sorted(ALLOWED_EKUS.values())}, currently valid, and "
    "a matching unencrypted PEM private key (EC P-256/P-384/P-521, RSA >= 2048 for PS256, or Ed25519)"
)


class SigningError(ValueError):
    """A signing certificate or key c2pa cannot sign with; the message names the file and the fix."""


@dataclass(frozen=True)
class SigningCredentials:
    """A certificate chain (PEM, leaf first) and its private key, held in memory only."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    alg: str  # c2pa's name: es256, es384, es512, ps256, ed25519
    signer: str  # the leaf's common name
    throwaway: bool


def _fail(option: str, path: Path, problem: str) -> SigningError:
    return SigningError(f"audits.signing.{option} {path}: {problem}; {_REQUIREMENT}")


def _read(option: str, path: Path) -> bytes:
    path = Path(path).expanduser()
    if not path.is_file():
        raise _fail(option, path, "no such file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(option, path, f"cannot be read ({exc.strerror})") from exc


def _alg_for(key) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    return None


def _check_leaf(leaf, path: Path) -> None:
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        span = f"{leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"
        raise _fail("certificate_chain", path, f"the signing certificate is valid only {span}")
    if leaf.issuer == leaf.subject:
        raise _fail("certificate_chain", path, "the signing certificate is self-signed")
    ext = leaf.extensions
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise _fail("certificate_chain", path, "the first certificate is a CA, not a signer")
    except x509.ExtensionNotFound:
        pass
    try:
        if not ext.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise _fail("certificate_chain", path, "key usage lacks digitalSignature")
    except x509.ExtensionNotFound:
        pass
    try:
        ekus = {u.dotted_string for u in ext.get_extension_for_class(x509.ExtendedKeyUsage).value}
    except x509.ExtensionNotFound:
        ekus = set()
    if not ekus & ALLOWED_EKUS.keys():
        raise _fail(
            "certificate_chain", path, f"extended key usages {sorted(ekus) or 'none'} are not accepted"
        )


def load_credentials(certificate_chain: Path, private_key: Path) -> SigningCredentials:
    """Read and check a configured chain and key; raise `SigningError` naming the file on any problem.

    The checks give a clear message for the usual mistakes; a trial signature through c2pa then catches
    whatever else c2pa refuses.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    chain_pem, key_pem = _read("certificate_chain", certificate_chain), _read("private_key", private_key)
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise _fail("certificate_chain", certificate_chain, f"not a PEM certificate chain ({exc})") from exc
    _check_leaf(certs[0], certificate_chain)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        problem = "encrypted or not a PEM private key" if isinstance(exc, TypeError) else str(exc)
        raise _fail("private_key", private_key, problem.split("\n")[0]) from exc
    alg = _alg_for(key)
    if alg is None:
        raise _fail("private_key", private_key, f"{type(key).__name__} keys cannot sign C2PA manifests")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if key.public_key().public_bytes(enc, pub) != certs[0].public_key().public_bytes(enc, pub):
        raise _fail("private_key", private_key, f"does not match the certificate in {certificate_chain}")
    names = certs[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    creds = SigningCredentials(chain_pem, key_pem, alg, str(names[0].value) if names else "", False)
    try:
        sign_png(_tiny_png(), creds, manifest_definition("probe", "probe", None, "notAllowed", "probe.png"))
    except Exception as exc:  # c2pa raises its own error classes; its message says what it refused
        raise _fail("certificate_chain", certificate_chain, f"c2pa refused to sign with it ({exc})") from exc
    return creds


def ca_and_signer(
    ca_name: str, signer_name: str, organization: str, days: int = 365
) -> tuple[bytes, bytes, bytes]:
    """A CA and an ES256 leaf it signs, made in memory: (PEM chain leaf + CA, PEM leaf key, PEM CA).

    C2PA refuses self-signed signing certificates, hence the CA; the leaf's extended key usage is
    emailProtection, which c2pa accepts by default.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name), org])
    leaf_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer_name), org])
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, public_key, ca: bool) -> x509.CertificateBuilder:
        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                    **usage,
                ),
                critical=True,
            )
        )

    ca = cert(ca_subject, ca_key.public_key(), True).sign(ca_key, hashes.SHA256())
    leaf = (
        cert(leaf_subject, key.public_key(), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return leaf.public_bytes(pem) + ca.public_bytes(pem), key_pem, ca.public_bytes(pem)


def throwaway_credentials(run_id: str) -> SigningCredentials:
    """A per-run CA and ES256 leaf made in memory: manifests validate, but no verifier trusts them."""
    signer = f"throw-away signer, run {run_id}"
    chain, key_pem, _ = ca_and_signer(
        f"throw-away CA, run {run_id}", signer, "t2i-pipeline throw-away (untrusted)"
    )
    return SigningCredentials(chain, key_pem, "es256", signer, True)


def manifest_definition(
    run_id: str,
    model_name: str,
    watermark: bytes | None,
    training_mining: str,
    title: str,
    method: str = WATERMARK_METHOD,
) -> dict:
    """The manifest definition c2pa's Builder signs (see the module docstring for its assertions);
    `watermark` is the payload `method` embedded, None when the image carries no watermark."""
    from training.output_marks import DIGITAL_SOURCE_TYPE

    action = {
        "action": "c2pa.created",
        "digitalSourceType": DIGITAL_SOURCE_TYPE,
        "softwareAgent": {"name": model_name, "version": run_id},
    }
    entries = {key: {"use": training_mining} for key in TRAINING_MINING_KEYS}
    assertions = [
        {"label": "c2pa.actions", "data": {"actions": [action]}},
        {"label": "cawg.training-mining", "data": {"entries": entries}},
    ]
    if watermark is not None:
        block = {"scope": {}, "value": base64.b64encode(watermark).decode("ascii")}
        assertions.append(
            {"label": "c2pa.soft-binding", "data": {"alg": SOFT_BINDING_ALGS[method], "blocks": [block]}}
        )
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": "1"}],
        "title": title,
        "assertions": assertions,
    }


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    return buf.getvalue()


def sign_png(data: bytes, creds: SigningCredentials, manifest: dict) -> bytes:
    """`data` (a PNG) with `manifest` signed and embedded; thumbnails off."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=creds.alg.encode("ascii"), sign_cert=creds.chain_pem, private_key=creds.key_pem, ta_url=None
    )
    context = c2pa.Context(c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}}))
    out = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(manifest), context=context) as b:
            b.sign(signer, "image/png", io.BytesIO(data), out)
    finally:
        context.close()
    return out.getvalue()


def credentialed_png_bytes(
    img: Image.Image,
    run_id: str,
    model_name: str,
    creds: SigningCredentials,
    training_mining: str = "notAllowed",
    title: str = "generated.png",
    watermark: bool = True,
    method: str = WATERMARK_METHOD,
) -> bytes:
    """Watermark (`method`, a `WatermarkMethod`), metadata, then sign: the PNG bytes of a generated
    image with its Content Credentials."""
    from training.output_marks import marked_png_bytes, watermark_payload

    marked = marked_png_bytes(img, run_id, model_name, watermark=watermark, method=method)
    payload = watermark_payload(run_id) if watermark else None
    manifest = manifest_definition(run_id, model_name, payload, training_mining, title, method)
    return sign_png(marked, creds, manifest)


def save_credentialed_png(
    img: Image.Image,
    path: Path,
    run_id: str,
    model_name: str,
    creds: SigningCredentials,
    training_mining: str = "notAllowed",
    watermark: bool = True,
    method: str = WATERMARK_METHOD,
) -> Path:
    """Write `credentialed_png_bytes` to `path` (nothing is written after the signature); returns it."""
    path = Path(path)
    data = credentialed_png_bytes(
        img, run_id, model_name, creds, training_mining, path.name, watermark, method
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def credentials_for(signing, run_id: str) -> SigningCredentials:
    """The configured chain and key of `signing` (an `audits.config.SigningConfig`), else a throw-away."""
    if signing.certificate_chain is not None and signing.private_key is not None:
        return load_credentials(signing.certificate_chain, signing.private_key)
    return throwaway_credentials(run_id)


def signer_note(creds: SigningCredentials) -> str:
    """One line for the card and the run's tags: who signed, and whether a verifier can trust it."""
    if creds.throwaway:
        return f"signed by a per-run throw-away key ({creds.signer}): signed, but by no one a verifier trusts"
    return f"signed by {creds.signer} ({creds.alg.upper()}, configured certificate chain)"
