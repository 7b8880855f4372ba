"""C2PA Content Credentials: is the manifest in a file intact and signed, and by whom (c2pa-python).

The byte-level reader in `embedded_signals` finds opt-out and AI-generation signals whether or not they
are signed, and they are honoured either way. This module adds what a signature can tell: whether the
manifest still matches the file's bytes, who signed it, and the C2PA validation failures if any. It
runs only on files that carry a C2PA manifest (`has_manifest`), so most datasets never load it.

Without trust anchors (`provenance.c2pa_trust_anchors`; none is downloaded), a correctly signed
manifest reads `Valid` with `signingCredential.untrusted` among its notes; with them, a manifest
signed under one of the anchors reads `Trusted`.
"""

import io
import json
from pathlib import Path

MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
# Always reported without a trust list; a note about the signer, not a failure of the manifest.
UNTRUSTED = "signingCredential.untrusted"


def has_manifest(data: bytes) -> bool:
    """Cheap test: a JUMBF box with C2PA or CAWG labels (a manifest store, or something posing as one)."""
    return b"jumb" in data and (b"c2pa" in data or b"cawg" in data)


def read_trust_anchors(path: Path | None) -> str | None:
    """The PEM text of `provenance.c2pa_trust_anchors`, or None when unset."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"provenance.c2pa_trust_anchors {path} does not exist: give a PEM file or unset the option"
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError(f"provenance.c2pa_trust_anchors {path} holds no PEM certificate")
    return text


def read_manifest_store(data: bytes, mime: str, trust_anchors: str | None = None) -> dict:
    """The C2PA manifest store of encoded image bytes as JSON (raises on a damaged store).

    With `trust_anchors` (PEM text) the signer's chain is verified against them, so `Trusted` can appear.
    """
    import c2pa

    context = None
    if trust_anchors:
        settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors}}
        context = c2pa.Context(c2pa.Settings.from_dict(settings))
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            return json.loads(reader.json())
    finally:
        if context is not None:
            context.close()  # native resources; a context per call keeps no state between files


def verify(data: bytes, image_format: str, trust_anchors: str | None = None) -> dict:
    """The active manifest's validation: state, failure codes, signer, assertion labels.

    `state` is C2PA's validation state (`Valid`, `Invalid`, `Trusted`) or `unreadable` when the
    manifest cannot be parsed at all (a damaged or fake manifest store); never raises.
    """
    mime = MIME.get(image_format.upper())
    if mime is None:
        return {"state": "unreadable", "detail": f"no C2PA reader for {image_format}"}
    try:
        store = read_manifest_store(data, mime, trust_anchors)
    except Exception as exc:  # hostile input may break the parser in any way; it must not stop ingest
        return {"state": "unreadable", "detail": f"{exc.__class__.__name__}: {exc}"[:300]}
    manifest = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    codes = sorted({s.get("code", "") for s in store.get("validation_status", []) or []})
    signer = manifest.get("signature_info") or {}
    return {
        "state": store.get("validation_state") or ("Invalid" if set(codes) - {UNTRUSTED} else "Valid"),
        "failures": [c for c in codes if c != UNTRUSTED],
        "signer": signer.get("common_name") or signer.get("issuer"),
        "assertions": sorted({a.get("label", "") for a in manifest.get("assertions", [])}),
    }
