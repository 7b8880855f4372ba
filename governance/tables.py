"""The Parquet tables governance keeps in its work folder, and how to read them back."""

import json
import os
from pathlib import Path

import pandas as pd

INGEST_DIR = "ingest"
SOURCE_FILE = "source.json"
RECORDS_FILE = "records.parquet"  # all shards in one table, written when the last shard is done
TEXT_COLUMNS = (
    "file_name", "path", "text", "license_raw", "license_source", "source_url", "author", "declared_sha256",
    "content_sha256", "format", "color_hash", "nsfw_detections",
)  # fmt: skip


def atomic_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a table so that a reader never sees half of it (tmp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def atomic_text(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _clean_text_columns(table: pd.DataFrame) -> pd.DataFrame:
    # A shard whose column is all null reads back as float NaN; text columns must hold None instead.
    for col in table.columns:
        if table[col].dtype == object or col in TEXT_COLUMNS:
            table[col] = table[col].astype(object).where(table[col].notna(), None)
    return table


def _all_shards(folder: Path, shards: int, fresh: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Every shard in input order; `fresh` holds shards already in memory, the rest are read back."""
    frames = [
        fresh[k] if k in fresh else pd.read_parquet(folder / f"shard-{k:05d}.parquet") for k in range(shards)
    ]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("index", kind="stable").reset_index(drop=True)


def consolidate_ingest(work_dir: Path, fresh: dict[int, pd.DataFrame]) -> Path:
    """Write every shard as one table (`ingest/records.parquet`), so later passes read one file.

    `fresh` holds the shards computed in this run (already in memory); the rest are read back.
    """
    folder = Path(work_dir) / INGEST_DIR
    table = _all_shards(folder, read_source_meta(work_dir)["shards"], fresh)
    return atomic_parquet(table, folder / RECORDS_FILE)


def read_ingest(work_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """All ingested records in input order; raises if ingest has not completed in this work folder.

    `columns` reads only those (a pass that needs four columns of a million rows skips the rest).
    """
    folder = Path(work_dir) / INGEST_DIR
    meta_path = folder / SOURCE_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} is missing: run the ingest stage on this work folder first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    missing = [k for k in range(meta["shards"]) if not (folder / f"shard-{k:05d}.done").exists()]
    if missing:
        raise FileNotFoundError(
            f"ingest in {folder} is incomplete (shards {missing[:5]}...): rerun ingest to resume"
        )
    if (folder / RECORDS_FILE).exists():
        return _clean_text_columns(pd.read_parquet(folder / RECORDS_FILE, columns=columns))
    table = _all_shards(folder, meta["shards"], {})
    return _clean_text_columns(table if columns is None else table[columns])


def read_source_meta(work_dir: Path) -> dict:
    """Source name, root folder, record and shard counts written by ingest."""
    return json.loads((Path(work_dir) / INGEST_DIR / SOURCE_FILE).read_text(encoding="utf-8"))
