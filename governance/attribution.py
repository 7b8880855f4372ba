"""The attribution list of the kept records: author, caption, source URL, licence with its URL."""

import json
from pathlib import Path

import pandas as pd

from governance.licenses import license_url
from governance.tables import atomic_text


def _cell(value: object) -> str:
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def write_attribution(kept: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """Write attribution.md (a table people read) and attribution.json (for tools); return both paths."""
    entries = [
        {
            "record_id": row.record_id,
            "author": row.author,
            "title": row.text,
            "source_url": row.source_url,
            "license": row.license_spdx,
            "license_url": license_url(row.license_spdx) if row.license_spdx else None,
        }
        for row in kept.itertuples(index=False)
    ]
    lines = [
        "# Attribution",
        "",
        f"The model was trained on {len(entries)} records. Their authors and licences:",
        "",
        "| record | title / caption | author | source | licence |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        licence = f"[{e['license']}]({e['license_url']})" if e["license_url"] else _cell(e["license"])
        lines.append(
            f"| {e['record_id']} | {_cell(e['title'])} | {_cell(e['author'])} | {_cell(e['source_url'])} | {licence} |"
        )
    md = atomic_text("\n".join(lines) + "\n", out_dir / "attribution.md")
    # One entry per line: readable, and json's C encoder (an `indent` falls back to pure Python).
    encoder = json.JSONEncoder(ensure_ascii=False)
    listing = "[\n" + ",\n".join(encoder.encode(e) for e in entries) + "\n]\n"
    js = atomic_text(listing, out_dir / "attribution.json")
    return md, js
