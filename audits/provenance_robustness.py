"""Which provenance marks survive the edits a generated image meets on its way: a table, a chart, a gate.

Each sampled output is written exactly as a user gets it (`training.output_credentials`: watermark,
metadata, signed C2PA manifest), then every transform in `ATTACKS` is applied to that file and the result
is read the way `pipeline provenance` reads a file: C2PA state (intact = `Valid` or `Trusted`), the
IPTC/XMP metadata, the watermark of the run (with the checker's rescaled read, and its crop search on
cropped copies and on the unmarked ones, where it could add false positives).
Unmarked copies of the same outputs (same upscale, no watermark) give the watermark's false-positive rate.

Encoders are Pillow's (JPEG, WebP, PNG): none of them copies a C2PA manifest, so every re-encoded copy
loses it; that is measured and reported, not assumed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from audits.charts import grouped_bars
from audits.checks import threshold_check
from audits.provenance_check import c2pa_state
from audits.provenance_marks import read_mark
from audits.report import AuditCheck, Metric
from training.output_marks import WATERMARK_METHOD

# name -> (what it does, format the edited copy is saved in)
ATTACKS: dict[str, tuple[str, str]] = {
    "none": ("the signed file as written", "PNG"),
    "png_reencode": ("decoded and saved again as PNG (what a screenshot keeps: pixels only)", "PNG"),
    "jpeg_q90": ("re-saved as JPEG quality 90", "JPEG"),
    "jpeg_q75": ("re-saved as JPEG quality 75", "JPEG"),
    "jpeg_q50": ("re-saved as JPEG quality 50", "JPEG"),
    "webp_q80": ("re-saved as WebP quality 80", "WEBP"),
    "resize_0.5": ("downscaled to half of each side (bicubic), saved as PNG", "PNG"),
    "resize_0.75": ("downscaled to 3/4 of each side (bicubic), saved as PNG", "PNG"),
    "crop_0.9": ("centre crop keeping 90% of each side, saved as PNG", "PNG"),
    "crop_0.75": ("centre crop keeping 75% of each side, saved as PNG", "PNG"),
    "crop_0.9_jpeg_q75": ("centre crop keeping 90% of each side, saved as JPEG quality 75", "JPEG"),
}
SIGNALS = ("c2pa", "watermark", "metadata")
_QUALITY = {"jpeg_q90": 90, "jpeg_q75": 75, "jpeg_q50": 50, "webp_q80": 80, "crop_0.9_jpeg_q75": 75}

Marker = Callable[[Image.Image], bytes]  # a model output -> the file bytes a user receives


def _centre_crop(img: Image.Image, keep: float) -> Image.Image:
    w, h = img.size
    dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def attack(img: Image.Image, name: str) -> Image.Image:
    """The image after the pixel change of one edit in `ATTACKS` (before it is encoded again)."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; one of {list(ATTACKS)}")
    if name.startswith("resize_"):
        factor = float(name.removeprefix("resize_"))
        w, h = img.size
        return img.resize((round(w * factor), round(h * factor)), Image.Resampling.BICUBIC)
    if name.startswith("crop_"):
        return _centre_crop(img, float(name.split("_")[1]))
    return img


def attacked_file(data: bytes, name: str) -> bytes:
    """The file a recipient has after edit `name` of the file `data` ("none": `data` unchanged)."""
    if name == "none":
        attack(Image.new("RGB", (1, 1)), name)  # validates the name
        return data
    with Image.open(io.BytesIO(data)) as im:
        edited = attack(im.convert("RGB"), name)
    fmt = ATTACKS[name][1]
    buf = io.BytesIO()
    edited.save(buf, format=fmt, **({"quality": _QUALITY[name]} if name in _QUALITY else {}))
    return buf.getvalue()


def _read(data: bytes, run_id: str, search_crop: bool, method: str) -> dict[str, bool]:
    with Image.open(io.BytesIO(data)) as im:
        fmt = im.format or ""
        im.load()
        img = im.copy()
        img.info = dict(im.info)
    mark = read_mark(img, run_id, search_crop=search_crop, method=method)
    return {
        "c2pa": c2pa_state(data, fmt) in ("Valid", "Trusted"),
        "watermark": mark.watermark_found,
        "metadata": mark.metadata_found,
    }


def mark_survival(
    outputs: list[bytes],
    unmarked: list[Image.Image],
    run_id: str,
    attacks: tuple[str, ...] = tuple(ATTACKS),
    method: str = WATERMARK_METHOD,
) -> list[dict]:
    """One row per edit: the share of `outputs` (written files) whose C2PA manifest, watermark and metadata
    are still read after it, plus an `unmarked` row: the share of images without a mark found anyway.

    Every read decodes `method`, the one the outputs were marked with: an edit that strips the PNG
    text (JPEG, WebP) also strips the name of the method, and the unmarked copies name none."""
    counts = {a: dict.fromkeys(SIGNALS, 0) for a in attacks}
    for data in outputs:
        for name in attacks:
            # The crop search finds only what a crop moved; on an uncropped copy its one aligned
            # hypothesis is the plain read at a stricter threshold, so it is skipped there (1.3 s a read).
            edited = attacked_file(data, name)
            for signal, kept in _read(edited, run_id, name.startswith("crop"), method).items():
                counts[name][signal] += int(kept)
    n = len(outputs)
    rows = [
        {"attack": a, "what": ATTACKS[a][0], "images": n, **{s: c[s] / n if n else None for s in SIGNALS}}
        for a, c in counts.items()
    ]
    false = sum(read_mark(img, run_id, method=method).watermark_found for img in unmarked)
    rows.append(
        {
            "attack": "unmarked",
            "what": "outputs never watermarked (false positives of the watermark)",
            "images": len(unmarked),
            "c2pa": None,
            "watermark": false / len(unmarked) if unmarked else None,
            "metadata": None,
        }
    )
    return rows


def survival_chart(rows: list[dict], path: Path) -> Path:
    """Bars per edit: the share of outputs whose C2PA manifest, watermark and metadata survive it."""
    edited = [r for r in rows if r["attack"] != "unmarked"]
    return grouped_bars(
        path,
        f"Provenance marks after everyday edits ({edited[0]['images'] if edited else 0} outputs)",
        [r["attack"] for r in edited],
        {s: [r[s] or 0.0 for r in edited] for s in SIGNALS},
        "share still read",
    )


def survival_checks(
    rows: list[dict],
    gated: list[str],
    min_survival: float | None,
    max_false_positive: float | None,
    allow_unmeasured: list[str],
    method: str,
) -> list[AuditCheck]:
    """The gate: watermark survival after each `gated` edit, and its false-positive rate."""
    by_attack = {r["attack"]: r for r in rows}
    checks = []
    for name in gated:
        row = by_attack.get(name, {})
        checks.append(
            threshold_check(
                f"watermark_survival_{name}",
                row.get("watermark"),
                min_survival,
                "min",
                f"share of {row.get('images', 0)} signed outputs whose {method} watermark is read after: "
                f"{ATTACKS[name][0]}",
                "a mark this weak does not mark outputs robustly: raise the watermark strength or the "
                "upscale size in training.output_marks, or choose a sturdier watermark method",
                audit="deepfake",
                why_unmeasured="no output was marked",
                allow_unmeasured=allow_unmeasured,
            )
        )
    row = by_attack.get("unmarked", {})
    checks.append(
        threshold_check(
            "watermark_false_positive_rate",
            row.get("watermark"),
            max_false_positive,
            "max",
            f"share of {row.get('images', 0)} unmarked outputs in which the run's watermark is found",
            "the reader finds marks that are not there: raise the bits a read must match",
            audit="deepfake",
            why_unmeasured="no unmarked output was read",
            allow_unmeasured=allow_unmeasured,
        )
    )
    return checks


def default_marker(
    run_id: str,
    model_name: str,
    creds,
    training_mining: str = "notAllowed",
    method: str = WATERMARK_METHOD,
) -> Marker:
    """The project's writer: watermark (`method`), metadata, signed manifest (`credentialed_png_bytes`)."""
    from training.output_credentials import credentialed_png_bytes

    def mark(img: Image.Image) -> bytes:
        return credentialed_png_bytes(img, run_id, model_name, creds, training_mining, method=method)

    return mark


def unmarked_copy(img: Image.Image) -> Image.Image:
    """An output upscaled as for marking but never watermarked (the false-positive sample)."""
    from training.output_marks import mark_image

    return mark_image(img, "unmarked", "unmarked", watermark=False)


def as_array_images(images: np.ndarray) -> list[Image.Image]:
    """uint8 [N, H, W, 3] outputs as RGB images."""
    return [Image.fromarray(np.ascontiguousarray(a)) for a in images]


@dataclass
class OutputProvenanceAudit:
    """What `audit_output_provenance` found: the table, its metrics, the gate, the chart, the files."""

    rows: list[dict]
    metrics: list[Metric]
    checks: list[AuditCheck]
    chart: Path
    samples: list[Path]  # the signed outputs, then the signer's public certificate chain
    notes: list[str]
    signing: list[dict]  # one row: the signer (`signer_row`)


@dataclass(frozen=True)
class OutputSigner:
    """Who marks and signs the audit's sampled outputs, as the trained pipeline marks every output."""

    run_id: str
    model_name: str
    creds: object  # training.output_credentials.SigningCredentials
    training_mining: str = "notAllowed"
    method: str = WATERMARK_METHOD  # the model's watermark (`training.output_watermark`)

    @classmethod
    def for_run(
        cls,
        run_id: str,
        model_name: str,
        creds=None,
        training_mining: str = "notAllowed",
        method: str = WATERMARK_METHOD,
    ) -> OutputSigner:
        """The run's signer; `creds` None makes a throw-away key for `run_id`, once."""
        if creds is None:
            from training.output_credentials import throwaway_credentials

            creds = throwaway_credentials(run_id)
        return cls(run_id, model_name, creds, training_mining, method)

    def marker(self) -> Marker:
        """What turns an output into the file a user receives, signed by this signer."""
        return default_marker(self.run_id, self.model_name, self.creds, self.training_mining, self.method)


def audit_output_provenance(
    cfg, generated: np.ndarray, signer: OutputSigner, out_dir: Path, progress
) -> OutputProvenanceAudit:
    """Sign and mark `cfg.watermark_images` outputs as any output, save them under `signed_samples/`, and
    measure which marks survive which edit (`cfg`: the deepfake audit's config)."""
    creds, run_id = signer.creds, signer.run_id
    progress("deepfake: provenance marks", 0, 1)
    sample = as_array_images(generated[: cfg.watermark_images])
    mark = signer.marker()
    outputs = [mark(img) for img in sample]
    samples = []
    for k, data in enumerate(outputs):  # the files a user would get: watermark, metadata, manifest
        path = Path(out_dir) / "signed_samples" / f"output_{k:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        samples.append(path)
    certificate = Path(out_dir) / "signing_certificate.pem"  # public chain only: published with the card
    certificate.write_bytes(creds.chain_pem)
    rows = mark_survival(outputs, [unmarked_copy(img) for img in sample], run_id, method=signer.method)
    progress("deepfake: provenance marks", 1, 1)
    notes = []
    if rows[0]["watermark"] is not None and rows[0]["watermark"] < 1.0:
        notes.append("some marks were not read back even unedited: see the mark_survival table")
    if rows[0]["c2pa"] is not None and rows[0]["c2pa"] < 1.0:
        notes.append("some signed outputs did not read Valid even unedited: see the mark_survival table")
    checks = survival_checks(
        rows,
        cfg.watermark_gated_attacks,
        cfg.min_watermark_survival,
        cfg.max_watermark_false_positive_rate,
        cfg.allow_unmeasured,
        signer.method,
    )
    chart = survival_chart(rows, Path(out_dir) / "mark_survival.png")
    return OutputProvenanceAudit(
        rows,
        survival_metrics(rows, signer.method),
        checks,
        chart,
        [*samples, certificate],
        notes,
        [signer_row(creds, signer.method)],
    )


def signer_row(creds, method: str = WATERMARK_METHOD) -> dict:
    """Who signs the outputs: the leaf certificate's subject and issuer, whether to trust it, and the
    watermark `method` they are marked with (the card lists the marks by it)."""
    from cryptography import x509

    from training.output_credentials import signer_note

    leaf = x509.load_pem_x509_certificates(creds.chain_pem)[0]
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "algorithm": creds.alg.upper(),
        "valid_until": f"{leaf.not_valid_after_utc:%Y-%m-%d}",
        "throwaway": creds.throwaway,
        "trust": "self-signed throw-away: not trustworthy for publishing"
        if creds.throwaway
        else "configured certificate chain (trusted where a verifier trusts its root)",
        "note": signer_note(creds),
        "watermark_method": method,
    }


def survival_metrics(rows: list[dict], method: str = WATERMARK_METHOD) -> list[Metric]:
    """One metric per row of the table: the watermark's survival (or false-positive rate)."""
    out = []
    for row in rows:
        if row["watermark"] is None:
            continue
        details = {"images": row["images"], "what": row["what"]}
        details |= {f"{s}_survival": row[s] for s in ("c2pa", "metadata") if row[s] is not None}
        unmarked = row["attack"] == "unmarked"
        out.append(
            Metric(
                name="watermark_false_positive_rate" if unmarked else f"watermark_survival_{row['attack']}",
                value=row["watermark"],
                implementation=f"invisible-watermark {method}, 32-bit run tag, >= 29 bits "
                "(31 when a crop is searched), read as `pipeline provenance` reads",
                details=details,
            )
        )
    return out
