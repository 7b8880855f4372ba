"""Real C2PA manifests for tests: a throw-away CA and signer (ES256), signed with c2pa-python."""

import datetime
import functools
import io
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

SIGNER = "Test signer"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "t2i-pipeline tests"),
        ]
    )


def _usage(signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=not signer,
        crl_sign=not signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


@functools.cache
def signer_credentials() -> tuple[bytes, bytes, bytes]:
    """(PEM chain signer + CA, PEM private key, PEM CA): C2PA rejects self-signed signing certificates.

    One throw-away CA per test session; its PEM is what a trust-anchor file would hold.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def build(subject: str, issuer: x509.Name, public_key, signer: bool) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=not signer, path_length=None), critical=True)
            .add_extension(_usage(signer), critical=True)
        )

    ca = build("Test CA", _name("Test CA"), ca_key.public_key(), False).sign(ca_key, hashes.SHA256())
    leaf = (
        build(SIGNER, ca.subject, key.public_key(), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, pem, ca.public_bytes(serialization.Encoding.PEM)


def signed_jpeg(
    color: tuple[int, int, int], training: str = "notAllowed", source_type: str | None = None
) -> bytes:
    """A 64x64 JPEG with a signed manifest: `cawg.training-mining` entries set to `training`."""
    import c2pa

    chain, key, _ = signer_credentials()
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None)
    )
    source = source_type or "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    manifest = {
        "claim_generator_info": [{"name": "t2i-pipeline tests", "version": "1"}],
        "title": "test image",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source}]},
            },
            {
                "label": "cawg.training-mining",
                "data": {
                    "entries": {
                        "cawg.ai_generative_training": {"use": training},
                        "cawg.ai_training": {"use": training},
                    }
                },
            },
        ],
    }
    plain = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(plain, "JPEG")
    plain.seek(0)
    out = io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, "image/jpeg", plain, out)
    return out.getvalue()


def tampered(data: bytes) -> bytes:
    """The same file with one byte of the compressed pixels changed (after the manifest)."""
    changed = bytearray(data)
    changed[-100] ^= 0x55
    return bytes(changed)
