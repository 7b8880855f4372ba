"""Checks on one metadata row: field types, captions, file names. Shared by the user-data sources."""

import json
import unicodedata
from pathlib import Path
from typing import Any

from governance.config import DataConfig
from governance.decisions import Finding
from governance.paths import resolve_inside
from governance.reasons import Decision, Reason
from governance.records import SourceRecord, printable

_STRING_FIELDS = ("text", "license", "source_url", "author", "sha256")


def _has_surrogates(value: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def caption_problem(text: Any, max_chars: int) -> tuple[Reason, str] | None:
    """Why a caption cannot be trained on, or None when it is fine."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return Reason.CAPTION_MISSING, "no caption"
    if not isinstance(text, str):
        return Reason.INVALID_METADATA, f"caption is {type(text).__name__}, not a string"
    if _has_surrogates(text) or "\ufffd" in text:
        return Reason.CAPTION_INVALID, "caption is not valid UTF-8"
    if len(text) > max_chars:
        return Reason.CAPTION_INVALID, f"caption has {len(text)} characters; the limit is {max_chars}"
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
        return Reason.CAPTION_INVALID, "caption contains control characters"
    return None


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return printable(repr(value))


def record_from_row(
    row: Any,
    index: int,
    record_id: str,
    source: str,
    root: Path | None,
    cfg: DataConfig,
    line_problem: str = "",
) -> SourceRecord:
    """Build a SourceRecord from one metadata row; every problem becomes a finding, never an exception."""
    rec = SourceRecord(record_id=record_id, index=index, source=source)

    def problem(reason: Reason, detail: str, check: str = "metadata") -> None:
        rec.findings.append(Finding(record_id, check, Decision.DROP, reason, {"problem": detail}))

    if line_problem or not isinstance(row, dict):
        problem(Reason.INVALID_METADATA, line_problem or f"row is {type(row).__name__}, not an object")
        return rec
    names = cfg.fields
    mapped = {
        "file_name": names.file_name,
        "text": names.text,
        "license": names.license,
        "source_url": names.source_url,
        "author": names.author,
        "sha256": names.sha256,
    }
    values = {key: row.get(field) for key, field in mapped.items()}
    bad_types = [
        mapped[key] for key in _STRING_FIELDS if values[key] is not None and not isinstance(values[key], str)
    ]
    if bad_types:
        problem(Reason.INVALID_METADATA, f"fields {bad_types} must be strings")
    strings = {k: (printable(v) if isinstance(v, str) else None) for k, v in values.items()}
    rec.text = strings["text"]
    rec.license_raw = strings["license"]
    rec.license_source = f"metadata field {names.license!r}" if strings["license"] else None
    rec.source_url = strings["source_url"]
    rec.author = strings["author"]
    rec.declared_sha256 = strings["sha256"]
    rec.attributes = {
        f: _json_safe(row[f]) for f in cfg.attribute_fields if f in row and row[f] not in (None, "")
    }
    used = set(mapped.values()) | set(cfg.attribute_fields)
    rec.extra = {printable(str(k)): _json_safe(v) for k, v in row.items() if k not in used}

    caption = caption_problem(values["text"], cfg.max_caption_chars)
    if caption is not None and not (caption[0] is Reason.INVALID_METADATA and bad_types):
        problem(caption[0], caption[1], check="caption")

    file_name = values["file_name"]
    if isinstance(file_name, str):
        rec.file_name = printable(file_name)
    if root is not None and rec.data is None:
        if not isinstance(file_name, str) or not file_name:
            problem(Reason.INVALID_METADATA, f"field {names.file_name!r} must be a non-empty string")
        else:
            path, reason, detail = resolve_inside(root, file_name)
            if reason is not None:
                problem(reason, detail, check="file")
            else:
                rec.path = str(path)
    return rec


def mark_duplicate_file_names(records: list[SourceRecord], first: dict[str, str] | None = None) -> None:
    """Records naming a file an earlier record already named are dropped (the first one stays).

    `first` (path -> first record id) carries what earlier batches named, when read in batches.
    """
    first = {} if first is None else first
    for rec in records:
        if rec.path is None:
            continue
        if rec.path in first:
            rec.findings.append(
                Finding(
                    rec.record_id,
                    "file",
                    Decision.DROP,
                    Reason.DUPLICATE_FILE_NAME,
                    {"problem": "another record names the same file", "first": first[rec.path]},
                )
            )
        else:
            first[rec.path] = rec.record_id
