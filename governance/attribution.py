"""The attribution list of the kept records: author, caption, source URL, licence with its URL.

Every field but the licence link comes from the dataset, so the Markdown list escapes it (captions and
authors as text, source URLs as code spans): a caption cannot become an image, a link or HTML in it.
"""

import json
import re
from pathlib import Path

import pandas as pd

from governance.licenses import license_url
from governance.markdown_text import Markdown, md_cell, md_code, md_text
from governance.tables import atomic_text

_PLAIN_HTTPS = re.compile(r"https://[A-Za-z0-9._~/-]+")


def _present(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _licence_cell(spdx: object, url: str | None) -> str:
    if not url or not _PLAIN_HTTPS.fullmatch(url):
        return md_cell(_present(spdx))
    # The link target is the licence's canonical URL from our own table, never the dataset's.
    return md_cell(Markdown(f"[{md_text(spdx)}]({url})"))


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
        cells = [
            md_cell(e["record_id"]),
            md_cell(_present(e["title"])),
            md_cell(_present(e["author"])),
            md_cell(md_code(_present(e["source_url"]))),
            _licence_cell(e["license"], e["license_url"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    md = atomic_text("\n".join(lines) + "\n", out_dir / "attribution.md")
    # One entry per line: readable, and json's C encoder (an `indent` falls back to pure Python).
    encoder = json.JSONEncoder(ensure_ascii=False)
    listing = "[\n" + ",\n".join(encoder.encode(e) for e in entries) + "\n]\n"
    js = atomic_text(listing, out_dir / "attribution.json")
    return md, js
