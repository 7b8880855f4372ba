"""Deterministic sha256 digests of tables: computed from the rows, never from Parquet bytes."""

import hashlib
import json

import pandas as pd


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return value


def table_digest(frame: pd.DataFrame, columns: list[str]) -> str:
    """sha256 over the given columns of every row, rows ordered by record_id, one JSON line per row."""
    h = hashlib.sha256()
    h.update(json.dumps(columns).encode())
    ordered = frame.sort_values("record_id", kind="stable")
    # Column by column, one encoder: json.dumps with options builds a new encoder on every call.
    encoder = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)
    values = [list(map(_plain, ordered[c].tolist())) for c in columns]
    for row in zip(*values, strict=True):
        h.update(encoder.encode(list(row)).encode())
        h.update(b"\n")
    return h.hexdigest()
