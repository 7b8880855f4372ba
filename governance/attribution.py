"""The attribution list of the kept records: author, caption, source URL, licence with its URL.

Every field but the licence link comes from the dataset, so the Markdown list escapes it (captions and
authors as text, source URLs as code spans): a caption cannot become an image, a link or HTML in it.
"""

import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd
import pyarrow.parquet as pq

from governance.licenses import license_url
from governance.markdown_text import Markdown, md_cell, md_code, md_text
from governance.tables import iter_tables

_PLAIN_HTTPS = re.compile(r"https://[A-Za-z0-9._~/-]+")
_COLUMNS = ("record_id", "author", "text", "source_url", "license_spdx")
_HEADING = (
    "# Attribution\n\nThe model was trained on {records} records. Their authors and licences:\n\n"
    "| record | title / caption | author | source | licence |\n|---|---|---|---|---|\n"
)


def _present(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _licence_cell(spdx: object, url: str | None) -> str:
    if not url or not _PLAIN_HTTPS.fullmatch(url):
        return md_cell(_present(spdx))
    # The link target is the licence's canonical URL from our own table, never the dataset's.
    return md_cell(Markdown(f"[{md_text(spdx)}]({url})"))


def _entries(kept: pd.DataFrame) -> Iterator[dict]:
    # pandas reads a missing string as NaN: null in the JSON (NaN is not JSON), no licence link.
    for rid, author, text, url, spdx in kept[list(_COLUMNS)].itertuples(index=False, name=None):
        spdx = _present(spdx)
        yield {
            "record_id": rid,
            "author": _present(author),
            "title": _present(text),
            "source_url": _present(url),
            "license": spdx,
            "license_url": license_url(spdx) if spdx else None,
        }


def _row(e: dict) -> str:
    cells = [
        md_cell(e["record_id"]),
        md_cell(_present(e["title"])),
        md_cell(_present(e["author"])),
        md_cell(md_code(_present(e["source_url"]))),
        _licence_cell(e["license"], e["license_url"]),
    ]
    return "| " + " | ".join(cells) + " |\n"


@contextmanager
def _atomic_lines(path: Path) -> Iterator[TextIO]:
    """A text file written piece by piece that appears under its name only when complete."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as out:
            yield out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_attribution_batches(
    batches: Iterable[pd.DataFrame], records: int, out_dir: Path
) -> tuple[Path, Path]:
    """Write attribution.md and attribution.json from the kept records, a batch at a time.

    `records` is their number (the table's heading says it before the rows). Memory holds one
    batch's entries, not the list; the files are the same whatever the batches.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "attribution.md", out_dir / "attribution.json"
    # One entry per line: readable, and json's C encoder (an `indent` falls back to pure Python).
    encoder = json.JSONEncoder(ensure_ascii=False)
    with _atomic_lines(md_path) as md, _atomic_lines(json_path) as js:
        md.write(_HEADING.format(records=records))
        js.write("[\n")
        separator, written = "", 0
        for batch in batches:
            for entry in _entries(batch):
                md.write(_row(entry))
                js.write(separator + encoder.encode(entry))
                separator, written = ",\n", written + 1
        js.write("\n]\n")
        if written != records:
            raise ValueError(f"attribution: {written} kept records were listed, {records} announced")
    return md_path, json_path


def write_attribution(kept: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """Write attribution.md (a table people read) and attribution.json (for tools); return both paths."""
    return write_attribution_batches([kept], len(kept), out_dir)


def write_governed_attribution(governed: Path, out_dir: Path) -> tuple[Path, Path]:
    """The attribution list of a governed table (Parquet), read a row group at a time: five columns."""
    records = pq.ParquetFile(governed).metadata.num_rows
    batches = (t.to_pandas() for t in iter_tables(governed, list(_COLUMNS)))
    return write_attribution_batches(batches, records, out_dir)
