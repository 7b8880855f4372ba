"""Is this file an image this project generated? Its C2PA manifest, metadata and watermark, read back.

Three independent signals, strongest first:
- the signed C2PA manifest (`content_credentials`): `Trusted` with trust anchors that cover its signer,
  `Valid` when intact but signed by an unknown signer (always so with the per-run throw-away key),
  `Invalid` with c2pa's failure codes when any byte changed after signing, `none` when absent;
- the IPTC/XMP metadata (`provenance_marks`): unsigned, easily stripped or forged;
- the invisible watermark: survives re-saving, which drops both of the above. 32 random bits say nothing
  on their own, so it is compared with the tag of each run id the file claims or the caller names.
  The method decoded is the one the manifest's soft-binding alg or the metadata names; a file that
  names none (re-saved: both are gone) is read with every `WatermarkMethod`, dwtDctSvd first. Two
  methods double the chances of a false match (each 29 of 32 bits, or 31 of 32 over the crop search:
  about 2 in 100,000 per run id tried), and that is the price of finding a stripped RivaGAN output.

A file is recognised as this project's output when its manifest is intact (Valid or Trusted) and claims
this project's generator and trainedAlgorithmicMedia, or when the watermark of a known run is found on a
file without a manifest (re-saved, screenshotted). A file whose manifest is broken (`Invalid`,
`unreadable`) but whose watermark is found was changed after signing: it is reported as
"watermark present, credentials invalid" and is not recognised, since nothing vouches for its pixels.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image
from pydantic import BaseModel

from audits.provenance_marks import read_mark
from training.output_credentials import CLAIM_GENERATOR, SOFT_BINDING_ALGS
from training.output_marks import DIGITAL_SOURCE_TYPE, METHOD_KEY, WatermarkMethod

_METHOD_OF_ALG = {alg: str(method) for method, alg in SOFT_BINDING_ALGS.items()}
NO_MANIFEST = "none"
BROKEN = ("Invalid", "unreadable")
WATERMARK_BUT_INVALID = "watermark present, credentials invalid"


class OutputProvenance(BaseModel):
    """What `check_output` found on one file."""

    path: str
    format: str | None = None
    c2pa_state: str = NO_MANIFEST  # Trusted, Valid, Invalid, unreadable or none
    c2pa_failures: list[str] = []
    signer: str | None = None
    claim_generator: str | None = None
    claimed_model: str | None = None
    claimed_run: str | None = None
    claimed_source_type: str | None = None
    training_mining: dict[str, str] = {}
    soft_binding_hex: str | None = None
    iptc: dict[str, str | None] = {}
    watermark_hex: str | None = None
    watermark_run: str | None = None  # the run whose tag the watermark matched
    watermark_method: str | None = None  # the method that read it, or the one the file names
    watermark_matches_soft_binding: bool | None = None
    recognised: bool = False
    status: str = ""  # signed output, watermark only, watermark present, credentials invalid, not ours
    reason: str = ""


def _read_manifest(data: bytes, fmt: str, trust_anchors: str | None, out: OutputProvenance) -> None:
    from governance.content_credentials import MIME, UNTRUSTED, has_manifest, read_manifest_store

    if not has_manifest(data) or fmt not in MIME:
        return
    try:
        store = read_manifest_store(data, MIME[fmt], trust_anchors)
    except Exception as exc:  # a damaged or hostile manifest store may break the parser in any way
        out.c2pa_state, out.c2pa_failures = "unreadable", [f"{exc.__class__.__name__}: {exc}"[:200]]
        return
    manifest = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    codes = sorted({s.get("code", "") for s in store.get("validation_status") or []} - {UNTRUSTED})
    out.c2pa_failures = codes
    out.c2pa_state = store.get("validation_state") or ("Invalid" if codes else "Valid")
    out.signer = (manifest.get("signature_info") or {}).get("common_name")
    out.claim_generator = next((g.get("name") for g in manifest.get("claim_generator_info", [])), None)
    for assertion in manifest.get("assertions", []):
        label, body = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            created = next((a for a in body.get("actions", []) if a.get("action") == "c2pa.created"), {})
            agent = created.get("softwareAgent") or {}
            agent = agent if isinstance(agent, dict) else {"name": agent}
            out.claimed_model, out.claimed_run = agent.get("name"), agent.get("version")
            out.claimed_source_type = created.get("digitalSourceType")
        elif label == "cawg.training-mining":
            out.training_mining = {k: v.get("use", "") for k, v in (body.get("entries") or {}).items()}
        elif label == "c2pa.soft-binding" and body.get("alg") in _METHOD_OF_ALG:
            value = (body.get("blocks") or [{}])[0].get("value", "")
            out.soft_binding_hex = base64.b64decode(value).hex() if value else None
            out.watermark_method = _METHOD_OF_ALG[body["alg"]]


def c2pa_state(data: bytes, fmt: str, trust_anchors: str | None = None) -> str:
    """The C2PA state of encoded image bytes of Pillow format `fmt`: Trusted, Valid, Invalid, unreadable or none."""
    out = OutputProvenance(path="")
    _read_manifest(data, fmt, trust_anchors, out)
    return out.c2pa_state


def check_output(
    path: Path, run_ids: list[str] | None = None, trust_anchors: str | None = None
) -> OutputProvenance:
    """Read one file's C2PA manifest, metadata and watermark; `run_ids` are runs to match the mark with.

    Never raises on a bad file: an unreadable image is reported, not recognised.
    """
    path = Path(path)
    out = OutputProvenance(path=str(path))
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            out.format = im.format
            im.load()
            img = im.copy()
            img.info = dict(im.info)
    except (OSError, SyntaxError, ValueError) as exc:
        out.reason = f"not a readable image ({exc})"
        return out
    _read_manifest(data, out.format or "", trust_anchors, out)
    first = read_mark(img, None, search_crop=False, method=out.watermark_method)
    out.iptc = {
        "DigitalSourceType": first.digital_source_type,
        "AIModel": first.model_name,
        "RunID": first.run_id,
    }
    out.watermark_hex = first.watermark_hex
    named = out.watermark_method or (first.watermark_method if METHOD_KEY in img.info else None)
    out.watermark_method = first.watermark_method
    candidates = [r for r in dict.fromkeys([out.claimed_run, first.run_id, *(run_ids or [])]) if r]
    _match_watermark(img, candidates, [named] if named else list(WatermarkMethod), out)
    if out.soft_binding_hex and out.watermark_hex:
        out.watermark_matches_soft_binding = out.watermark_run is not None and (
            out.watermark_run == out.claimed_run
        )
    _decide(out)
    return out


def _match_watermark(img: Image.Image, run_ids: list[str], methods: list[str], out: OutputProvenance) -> None:
    """The first run of `run_ids` whose tag one of `methods` finds on `img` (recorded on `out`)."""
    for method in methods:
        for run_id in run_ids:
            mark = read_mark(img, run_id, method=method)
            if mark.watermark_found:
                out.watermark_run, out.watermark_hex = run_id, mark.watermark_hex
                out.watermark_method = str(method)
                return


def _decide(out: OutputProvenance) -> None:
    signed_ours = (
        out.c2pa_state in ("Valid", "Trusted")
        and out.claim_generator == CLAIM_GENERATOR
        and out.claimed_source_type == DIGITAL_SOURCE_TYPE
    )
    codes = ", ".join(out.c2pa_failures)
    if signed_ours:
        out.recognised, out.status = True, "signed output"
        out.reason = f"C2PA manifest {out.c2pa_state}, claimed run {out.claimed_run}"
    elif out.c2pa_state in BROKEN and out.watermark_run:
        # changed after signing: the mark says whose it was, nothing vouches for what it shows now
        out.status = WATERMARK_BUT_INVALID
        out.reason = (
            f"{WATERMARK_BUT_INVALID}: watermark of run {out.watermark_run}, C2PA {out.c2pa_state} ({codes})"
        )
    elif out.watermark_run:
        out.recognised, out.status = True, "watermark only"
        out.reason = f"watermark of run {out.watermark_run} found (C2PA {out.c2pa_state})"
    elif out.c2pa_state in BROKEN:
        out.status = "not recognised"
        out.reason = f"C2PA manifest {out.c2pa_state} ({codes}) and no known run's watermark"
    else:
        out.status = "not recognised"
        out.reason = "no intact manifest of this project and no known run's watermark"
