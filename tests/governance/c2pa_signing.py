"""Real C2PA manifests for tests: a throw-away CA and signer (ES256), signed with c2pa-python."""

import functools
import io
import json

from PIL import Image

from training.output_credentials import ca_and_signer

SIGNER = "Test signer"


@functools.cache
def signer_credentials() -> tuple[bytes, bytes, bytes]:
    """(PEM chain signer + CA, PEM private key, PEM CA): C2PA rejects self-signed signing certificates.

    One throw-away CA per test session, made as the pipeline makes a run's throw-away one; its PEM is
    what a trust-anchor file would hold.
    """
    return ca_and_signer("Test CA", SIGNER, "t2i-pipeline tests", days=30)


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
