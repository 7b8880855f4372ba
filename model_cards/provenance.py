"""The card's provenance section: what marks every generated image, who signs it, what survives which edit.

Built from the deepfake audit's report only (its `mark_survival` and `output_signing` tables, written by
`audits.provenance_robustness`); a run whose audit did not mark outputs gets no numbers, only a line
saying so.
"""

from typing import Any

from audits.report import AuditReport
from governance.markdown_text import Markdown, md_code, md_text
from model_cards.assets import AssetCopier
from model_cards.formatting import NOT_MEASURED, md_table

CHECK_COMMAND = "pipeline provenance IMAGE.png --run-id {run_id}"
METADATA_MARK = (
    "IPTC/XMP metadata and PNG text: DigitalSourceType trainedAlgorithmicMedia, model name, run id "
    "(unsigned; any re-save drops it)"
)
# What the watermark is and how images smaller than the mark needs are handled, per method
# (training.output_marks): both upscale, neither falls back to metadata and C2PA only.
WATERMARK_MARKS = {
    "dwtDctSvd": "an invisible watermark (invisible-watermark dwtDctSvd, 32 bits from the run id; "
    "images under 512 px are upscaled by an integer factor, nearest neighbour, before marking)",
    "rivaGan": "an invisible watermark (RivaGAN, the learned mark bundled with invisible-watermark, "
    "run offline by onnxruntime; 32 bits from the run id; images under 512 px are upscaled by an "
    "integer factor, nearest neighbour, then RivaGAN marks a copy scaled to a 256 px short side and its "
    "residual is scaled back onto the output; readers scale any copy, however small, to 256 px)",
}
C2PA_MARK = (
    "a signed C2PA manifest (c2pa-python): c2pa.created with digitalSourceType trainedAlgorithmicMedia "
    "and the model and run as software agent, cawg.training-mining, a soft binding to the watermark "
    "naming its method; no thumbnail"
)


def marks(method: str = "dwtDctSvd") -> list[str]:
    """What is on every output when `method` (a `training.output_marks.WatermarkMethod`) marks it."""
    return [METADATA_MARK, WATERMARK_MARKS[method], C2PA_MARK]


ARTICLE_50 = (
    "EU AI Act Article 50(2) asks providers to mark generated images in a machine-readable format, "
    "detectable as artificially generated, by means that are effective, interoperable, robust and "
    "reliable. This run meets the machine-readable marking (IPTC DigitalSourceType and a C2PA "
    "manifest, both interoperable standards) and the detectability after common edits that the "
    "table below measures. It does not meet: a trusted time-stamp (none is added offline, so a "
    "manifest is checked against the certificate's validity at reading time), a signer any verifier "
    "trusts unless a certificate chain was configured, or robustness to the edits the table shows "
    "failing; the watermark is a 32-bit tag that a determined attacker can remove."
)


def _share(value: object) -> str:
    return NOT_MEASURED if value is None else f"{100.0 * float(value):.0f}%"


def provenance_view(deepfake: AuditReport | None, copier: AssetCopier, run_id: str) -> dict[str, Any]:
    """The template's `provenance` variables (marks, signer, robustness table, chart, how to check)."""
    rows = deepfake.tables.get("mark_survival", []) if deepfake is not None else []
    signing = (deepfake.tables.get("output_signing") or [None])[0] if deepfake is not None else None
    table = md_table(
        {
            "edit": r["attack"],
            "what": r.get("what", ""),
            "images": str(r.get("images", "")),
            "C2PA manifest intact": "n/a" if r["attack"] == "unmarked" else _share(r.get("c2pa")),
            "watermark read": _share(r.get("watermark")),
            "metadata read": "n/a" if r["attack"] == "unmarked" else _share(r.get("metadata")),
        }
        for r in rows
    )
    chart = [p for p in deepfake.charts if p.name == "mark_survival.png"] if deepfake is not None else []
    if signing is None:
        signer = "no output was signed in the audit (audits.deepfake.watermark is off, or there was no deepfake audit)"
    else:
        signer = Markdown(
            f"subject {md_code(signing['subject'])}, issuer {md_code(signing['issuer'])}, "
            f"{md_text(signing['algorithm'])}: **{md_text(signing['trust'])}**"
        )
    return {
        # the signer row names the method when the audit records it; before that it was always dwtDctSvd
        "marks": marks((signing or {}).get("watermark_method") or "dwtDctSvd"),
        "signer": signer,
        "throwaway": bool(signing and signing.get("throwaway")),
        "robustness_table": table if rows else "",
        "charts": copier.add_all("provenance", chart),
        "check_command": CHECK_COMMAND.format(run_id=run_id),
        "article_50": ARTICLE_50,
    }
