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


_ENCODER = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


def digest_start(columns: list[str]) -> "hashlib._Hash":
    """The hash `table_digest` feeds its rows into (it starts with the column names)."""
    h = hashlib.sha256()
    h.update(json.dumps(columns).encode())
    return h


def encoded_rows(frame: pd.DataFrame, columns: list[str]) -> list[bytes]:
    """Each row of `frame` (in its order) as the line `table_digest` hashes for it."""
    # Column by column, one encoder: json.dumps with options builds a new encoder on every call.
    values = [list(map(_plain, frame[c].tolist())) for c in columns]
    return [_ENCODER.encode(list(row)).encode() + b"\n" for row in zip(*values, strict=True)]


def table_digest(frame: pd.DataFrame, columns: list[str]) -> str:
    """sha256 over the given columns of every row, rows ordered by record_id, one JSON line per row.

    A table too big to hold is digested in record_id order a batch at a time: `digest_start`, then
    `encoded_rows` of each batch.
    """
    h = digest_start(columns)
    for line in encoded_rows(frame.sort_values("record_id", kind="stable"), columns):
        h.update(line)
    return h.hexdigest()
