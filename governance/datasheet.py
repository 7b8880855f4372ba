"""The datasheet (in the spirit of Datasheets for Datasets): markdown, a JSON summary and two charts.

Licence ids, attribute values and the source name come from the dataset: the Markdown escapes them.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure  # Figure + savefig uses the Agg canvas; no pyplot global state

from governance.markdown_text import md_cell, md_code, md_text
from governance.reasons import Decision
from governance.report import Obligations
from governance.tables import atomic_text


def summarize(manifest: pd.DataFrame, obligations: Obligations, duplicate_groups: int) -> dict[str, Any]:
    """The machine-readable summary: counts by decision, reason, licence, source, faces, splits, attributes."""
    kept = manifest[manifest["decision"] == Decision.KEEP]
    reasons = Counter(r for rs in manifest["reasons"] for r in rs)
    faces = manifest["face_count"].dropna().astype(int)
    attributes: dict[str, Counter] = {}
    for raw in kept["attributes"]:
        for key, value in json.loads(raw or "{}").items():
            attributes.setdefault(key, Counter())[str(value)] += 1
    return {
        "records_in": len(manifest),
        "decisions": {d: int((manifest["decision"] == d).sum()) for d in Decision},
        "reasons": dict(sorted(reasons.items())),
        "licenses_all": dict(sorted(Counter(manifest["license_spdx"].fillna("unknown")).items())),
        "licenses_kept": dict(sorted(Counter(kept["license_spdx"].fillna("unknown")).items())),
        "sources": dict(Counter(manifest["source"])),
        "splits": dict(sorted(Counter(kept["split"].dropna()).items())),
        "duplicate_groups": duplicate_groups,
        "faces": {
            "images_scored": len(faces),
            "images_with_faces": int((faces > 0).sum()),
            "faces_total": int(faces.sum()),
            "faces_in_kept": int(kept["face_count"].fillna(0).astype(int).sum()),
        },
        "attributes_kept": {k: dict(sorted(v.items())) for k, v in sorted(attributes.items())},
        "obligations": obligations.model_dump(),
    }


def _bar_chart(counts: dict[str, int], title: str, path: Path) -> Path:
    fig = Figure(figsize=(7, 0.4 * max(len(counts), 3) + 1.2))
    ax = fig.add_subplot()
    labels = list(counts) or ["(none)"]
    values = list(counts.values()) or [0]
    ax.barh(labels, values, color="#4c72b0")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel("records")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v}", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def write_charts(summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """licence_mix.png (kept records by licence) and exclusions_by_reason.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _bar_chart(summary["licenses_kept"], "Licence mix of kept records", out_dir / "licence_mix.png"),
        _bar_chart(
            summary["reasons"],
            "Records by reason code (not kept, or flagged)",
            out_dir / "exclusions_by_reason.png",
        ),
    ]


def _table(counts: dict[str, Any], head: tuple[str, str]) -> list[str]:
    rows = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    rows += [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in counts.items()] or ["| (none) | 0 |"]
    return rows


def _attributes(attributes: dict[str, dict[str, int]]) -> str:
    """`skin_tone: light (3), dark (2)` per attribute; names and values are the dataset's, escaped."""
    if not attributes:
        return "none"
    return "; ".join(
        f"{md_text(name)}: " + ", ".join(f"{md_text(value)} ({n})" for value, n in counts.items())
        for name, counts in attributes.items()
    )


def write_datasheet(
    summary: dict[str, Any], source: str, policy: dict[str, Any], out_dir: Path
) -> tuple[Path, Path]:
    """Write datasheet.md and datasheet.json; return both paths."""
    faces = summary["faces"]
    ob = summary["obligations"]
    lines = [
        "# Datasheet: governed training data",
        "",
        "## Motivation",
        "Training data for a small text-to-image diffusion model, governed record by record before training.",
        "",
        "## Composition",
        f"- Source: {md_code(source)}; {summary['records_in']} input records.",
        f"- Kept: {summary['decisions']['keep']}, quarantined (needs a human): {summary['decisions']['quarantine']}, "
        f"dropped: {summary['decisions']['drop']}.",
        f"- Splits of the kept records: {md_text(summary['splits'])}.",
        f"- Faces (NudeNet face labels): {faces['images_with_faces']} of {faces['images_scored']} scored images show "
        f"faces; {faces['faces_in_kept']} faces in kept records.",
        f"- Sensitive attributes carried from the source (kept records): {_attributes(summary['attributes_kept'])}.",
        "",
        "### Licences of kept records",
        *_table(summary["licenses_kept"], ("licence (SPDX)", "records")),
        "",
        "## Collection and governance",
        "Every record ends in exactly one decision with its reason codes and evidence (see the manifest).",
        f"Exact and near-duplicate groups: {summary['duplicate_groups']}.",
        "",
        *_table(summary["reasons"], ("reason code", "records")),
        "",
        "Policy applied:",
        "```json",
        json.dumps(policy, indent=2, default=str),
        "```",
        "",
        "## Uses and obligations",
        *[f"- {md_text(s)}" for s in ob["statements"]],
        *[f"- CONFLICT: {md_text(c)}" for c in ob["conflicts"]],
        "",
        "## Distribution and maintenance",
        "The manifest, this datasheet and the attribution list travel with the model; digests tie them together.",
    ]
    md = atomic_text("\n".join(lines) + "\n", out_dir / "datasheet.md")
    js = atomic_text(json.dumps(summary, indent=2, default=str), out_dir / "datasheet.json")
    return md, js
