"""Parquet files with the images inside: img2dataset's parquet output and Hugging Face parquet exports.

img2dataset writes a binary `jpg` column (empty for failed downloads) beside `key`, `status` and
`error_message`; Hugging Face's `Image` feature is a struct of `bytes` and `path`. Each file is read a
row batch at a time with pyarrow and handed on one batch at a time (only that batch's bytes are
held), and each row is one record `<file>/<key>` (the row number where
there is no `key` column). Nothing is decoded here; the ingest's image checks read the bytes.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from governance.config import DataConfig, FieldMap
from governance.decisions import Finding
from governance.errors import DatasetError
from governance.metadata import record_from_row
from governance.paths import resolve_inside
from governance.reasons import Decision, Reason
from governance.records import SourceRecord
from governance.sources.metadata_join import MetadataTable
from governance.sources.metadata_join import evidence as join_evidence
from governance.sources.opened import Opened
from governance.sources.webdataset import IMG2DATASET_FIELDS, download_finding, repeated_key_finding

IMAGE_COLUMNS = ("jpg", "png", "webp", "image", "img")


def _image_column(schema: Any, path: Path) -> str:
    import pyarrow as pa

    for name in IMAGE_COLUMNS:
        if name not in schema.names:
            continue
        kind = schema.field(name).type
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            return name
        if pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0:
            return name
    raise DatasetError(
        f"{path} has no image column (one of {list(IMAGE_COLUMNS)} holding bytes, or a struct with "
        f"'bytes'); its columns are {schema.names}. Image-less metadata Parquet is not a dataset on its own"
    )


def _fields(cfg: DataConfig, columns: list[str]) -> DataConfig:
    """img2dataset's names for the fields the config leaves at their default and the file lacks."""
    img2dataset = "status" in columns  # its sha256 is of the bytes before resizing: evidence only
    update: dict[str, str] = {}
    for k, v in IMG2DATASET_FIELDS.items():
        if k in cfg.fields.model_fields_set:
            continue
        if k == "sha256":
            if img2dataset:
                update[k] = v
        elif v in columns and getattr(cfg.fields, k) not in columns:
            update[k] = v
    fields = FieldMap(**{**cfg.fields.model_dump(include=cfg.fields.model_fields_set), **update})
    return cfg.model_copy(update={"fields": fields})


def _attach_image(rec: SourceRecord, value: Any, root: Path) -> None:
    if isinstance(value, dict):
        data, inner_path = value.get("bytes"), value.get("path")
    else:
        data, inner_path = value, None
    if data:
        rec.data = bytes(data)
        return
    if inner_path:
        path, reason, detail = resolve_inside(root, str(inner_path))
        if reason is None:
            rec.path = str(path)
        else:
            rec.findings.append(Finding(rec.record_id, "file", Decision.DROP, reason, {"problem": detail}))
        return
    if not any(f.check == "download" for f in rec.findings):
        rec.findings.append(
            Finding(
                rec.record_id,
                "file",
                Decision.DROP,
                Reason.FILE_MISSING,
                {"problem": "the row has no image bytes"},
            )
        )


def _file_records(
    cfg: DataConfig,
    path: Path,
    root: Path,
    start: int,
    source: str,
    room: int | None,
    table: MetadataTable | None,
) -> Iterator[list[SourceRecord]]:
    """The file's records, one row batch at a time (at most `room` of them)."""
    import pyarrow.parquet as pq

    name = path.relative_to(root).with_suffix("").as_posix()
    try:
        handle = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        rec = SourceRecord(record_id=f"{name}/", index=start, source=source)
        problem = f"{path.name} cannot be read as Parquet ({exc.__class__.__name__}: {exc})"
        rec.findings.append(
            Finding(rec.record_id, "shard", Decision.DROP, Reason.INVALID_METADATA, {"problem": problem})
        )
        yield [rec]
        return
    column = _image_column(handle.schema_arrow, path)
    file_cfg = _fields(cfg, handle.schema_arrow.names)
    found: dict[str, dict] = {}
    if table is not None and table.cfg.on in handle.schema_arrow.names:
        found = table.rows_for(handle.read(columns=[table.cfg.on]).column(0).to_pylist())
    n = 0
    seen: set[str] = set()
    for batch in handle.iter_batches(batch_size=256):
        records: list[SourceRecord] = []
        for row in batch.to_pylist():
            if room is not None and n >= room:
                break
            key = str(row["key"]) if row.get("key") not in (None, "") else f"{n:06d}"
            repeated = key in seen
            key = f"{key}#row{n}" if repeated else key
            seen.add(key)
            image = row.pop(column)
            joined = None
            if table is not None:
                row, joined = table.join(row, found)
            rec = record_from_row(row, start + n, f"{name}/{key}", source, None, file_cfg)
            if table is not None:
                rec.extra["metadata_join"] = join_evidence(table, row, joined)
                rec.findings.extend(table.findings(rec.record_id, joined))
            if repeated:
                rec.findings.append(repeated_key_finding(rec.record_id, "the file"))
            failed = download_finding(rec.record_id, row)
            if failed is not None:
                rec.findings.append(failed)
            _attach_image(rec, image, root)
            records.append(rec)
            n += 1
        yield records
        if room is not None and n >= room:
            return


def open_parquet_bytes(cfg: DataConfig, root: Path) -> Opened:
    """The records of every `.parquet` file under `root` (first `cfg.limit`), a row batch at a time;
    the source name; and the data files."""
    import pyarrow.parquet as pq

    if not root.is_dir():
        raise DatasetError(
            f"dataset folder {root} does not exist or is not a folder; check data.path / --data"
        )
    files = sorted(p for p in root.rglob("*.parquet") if p.is_file())
    if not files:
        raise DatasetError(f"no .parquet files under {root}; check data.path / --data")
    source = f"parquet:{root.resolve()}"
    if cfg.metadata is not None:
        MetadataTable(cfg.metadata)  # a join naming a missing file or column fails before any reading
        metadata_file = cfg.metadata.path.expanduser().resolve()
        # the joined metadata lying beside the data is not a data file
        files = [p for p in files if p.resolve() != metadata_file]
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (OSError, ValueError):
            continue  # an unreadable file becomes a record when read
        _image_column(schema, path)  # a file without images stops the run before anything is read

    def batches() -> Iterator[list[SourceRecord]]:
        table = MetadataTable(cfg.metadata) if cfg.metadata is not None else None
        count = 0
        for path in files:
            room = None if cfg.limit is None else cfg.limit - count
            for records in _file_records(cfg, path, root, count, source, room, table):
                count += len(records)
                yield records
            if cfg.limit is not None and count >= cfg.limit:
                break
        if table is not None:
            table.check_matched()

    return batches, source, files, None
