"""A Hugging Face `imagefolder` directory: images beside metadata.jsonl or metadata.csv."""

import csv
import io
import json
from pathlib import Path

from governance.config import DataConfig
from governance.errors import DatasetError
from governance.metadata import record_from_row
from governance.records import SourceRecord
from governance.sources.opened import Opened


def _metadata_file(root: Path) -> Path:
    for name in ("metadata.jsonl", "metadata.csv"):
        candidate = root / name
        if candidate.exists() or candidate.is_symlink():
            if not candidate.resolve().is_relative_to(root.resolve()):
                raise DatasetError(
                    f"{candidate} points outside the dataset folder; copy the metadata into {root}"
                )
            return candidate
    raise DatasetError(
        f"no metadata.jsonl or metadata.csv in {root}: add one with a {DataConfig().fields.file_name!r} "
        "column naming each image relative to the folder"
    )


def _rows(meta: Path) -> list[tuple[object, str]]:
    """(row, problem) pairs; a line that is not a JSON object becomes a row with its problem named."""
    # surrogateescape keeps non-UTF-8 bytes visible to the caption check instead of failing the file.
    text = meta.read_bytes().decode("utf-8", errors="surrogateescape")
    if meta.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return [
            ({k: (v if v != "" else None) for k, v in row.items() if k is not None}, "") for row in reader
        ]
    rows: list[tuple[object, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((json.loads(line), ""))
        except ValueError as exc:
            rows.append((None, f"line {number} is not valid JSON: {exc.msg}"))
    return rows


def open_imagefolder(cfg: DataConfig, root: Path) -> Opened:
    """The records in one batch (metadata only: images are read by path when processed), the source
    name, and the metadata file (its size and time tell a resume that it changed)."""
    records, source = load_imagefolder(cfg, root)
    return (lambda: iter([records])), source, [_metadata_file(root)], len(records)


def load_imagefolder(
    cfg: DataConfig, root: Path, prefix: str = "imagefolder"
) -> tuple[list[SourceRecord], str]:
    """Records of an imagefolder dataset (first `cfg.limit`), and the source name."""
    if not root.is_dir():
        raise DatasetError(
            f"dataset folder {root} does not exist or is not a folder; check data.path / --data"
        )
    rows = _rows(_metadata_file(root))
    if cfg.limit is not None:
        rows = rows[: cfg.limit]
    source = f"imagefolder:{root.resolve()}"
    width = max(5, len(str(max(len(rows) - 1, 0))))
    records = [
        record_from_row(row, i, f"{prefix}:{i:0{width}d}", source, root, cfg, line_problem=problem)
        for i, (row, problem) in enumerate(rows)
    ]
    return records, source
