"""WebDataset tar shards as img2dataset writes them: `NNNNN.tar` beside its sidecar `NNNNN.parquet`.

A shard holds `<key>.jpg|png|webp`, `<key>.txt` (caption) and `<key>.json` (the sample's metadata);
the sidecar has one row per input URL, including those that failed to download (`status`,
`error_message`). Every sidecar row and every key found in the tar becomes one record with id
`<shard>/<key>`, so reruns and resumes line up. Shards are read one at a time, and an image member
becomes a reference (the tar, the member's data offset and size) that ingest reads when it processes
the record, so no shard's images are held in memory. Members are read with `tarfile` only: nothing
is extracted, unpickled or decoded here (WebDataset's default decoders would unpickle `.pyd`/`.pkl` and
`torch.load` `.pt` members), and a broken shard becomes findings on its records, never an exception.
"""

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from governance.config import DataConfig, FieldMap
from governance.decisions import Finding
from governance.errors import DatasetError
from governance.metadata import record_from_row
from governance.reasons import Decision, Reason
from governance.records import MemberRef, SourceRecord, printable
from governance.sources.metadata_join import MetadataTable
from governance.sources.metadata_join import evidence as join_evidence
from governance.sources.opened import Opened

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
# img2dataset's own column names, used for each data.fields entry the config does not set. Its sha256
# is of the bytes as downloaded, before resizing, so it is not compared with the stored image unless
# data.fields.sha256 is set (it stays in `extra` as evidence).
IMG2DATASET_FIELDS = {"text": "caption", "source_url": "url", "sha256": ""}
# The downloader's wording when a response carried a disallowing X-Robots-Tag (noai, noimageai, ...).
ROBOTS_REFUSAL = "x-robots-tag"


@dataclass
class _Sample:
    """The members of one key in a tar: where the image lies, caption and metadata, and what was wrong."""

    images: dict[str, MemberRef] = field(default_factory=dict)  # extension -> the member's data
    text: str | None = None
    meta: Any = None
    ignored: list[str] = field(default_factory=list)  # members never read (.pkl, .pt, ...)
    problems: list[tuple[Reason, str]] = field(default_factory=list)


def shard_paths(root: Path) -> list[Path]:
    """The tar shards under `root`, in name order (img2dataset numbers them)."""
    return sorted(p for p in root.rglob("*.tar") if p.is_file())


def effective_fields(cfg: DataConfig) -> DataConfig:
    """`cfg` with img2dataset's column names for every field mapping the user left at its default."""
    update = {k: v for k, v in IMG2DATASET_FIELDS.items() if k not in cfg.fields.model_fields_set}
    fields = FieldMap(**{**cfg.fields.model_dump(include=cfg.fields.model_fields_set), **update})
    return cfg.model_copy(update={"fields": fields})


def _split(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name as WebDataset splits it: at the first dot of the base name."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or "\x00" in name:
        return None
    base, dot, ext = path.name.partition(".")
    if not dot or not base:
        return None
    return str(path.with_name(base)), ext.lower()


def _add_member(
    samples: dict[str, _Sample], tar: tarfile.TarFile, member: tarfile.TarInfo, max_bytes: int, tar_size: int
) -> None:
    split = _split(member.name)
    if split is None:
        # Never a key: its own record, so the member is accounted for without using its name as a path.
        sample = samples.setdefault(printable(member.name) or "?", _Sample())
        sample.problems.append(
            (Reason.PATH_OUTSIDE_DATASET, f"member name {member.name!r} is absolute, climbs or has no key")
        )
        return
    key, ext = split
    sample = samples.setdefault(key, _Sample())
    if not member.isfile():
        sample.problems.append(
            (Reason.NOT_AN_IMAGE, f"member {member.name!r} is not a regular file; never read")
        )
        return
    if ext in IMAGE_EXTENSIONS or ext in ("txt", "json"):
        seen = (
            ext in sample.images
            or (ext == "txt" and sample.text is not None)
            or (ext == "json" and sample.meta is not None)
        )
        if seen:
            # Two members with one name: which one the sample means is unknowable, so neither is used.
            sample.problems.append(
                (Reason.DUPLICATE_FILE_NAME, f"the shard holds member {member.name!r} twice")
            )
            return
    if ext in IMAGE_EXTENSIONS:
        if member.size > max_bytes:
            sample.problems.append(
                (
                    Reason.IMAGE_TOO_LARGE,
                    f"member {member.name!r} has {member.size} bytes; the limit is {max_bytes}",
                )
            )
            return
        if member.offset_data + member.size > tar_size:
            return  # cut off: the tar ends inside it (reading on says where, for the record)
        sample.images[ext] = MemberRef(str(tar.name), member.offset_data, member.size)
    elif ext == "txt":
        sample.text = _read(tar, member, 1_000_000).decode("utf-8", errors="surrogateescape")
    elif ext == "json":
        raw = _read(tar, member, 1_000_000)
        try:
            sample.meta = json.loads(raw)
        except ValueError as exc:
            sample.meta = {}
            sample.problems.append(
                (Reason.INVALID_METADATA, f"member {member.name!r} is not valid JSON: {exc}")
            )
    else:
        sample.ignored.append(member.name)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int | None = None) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        return b""
    return handle.read(limit if limit is not None else member.size)


def read_shard(path: Path, max_bytes: int) -> tuple[dict[str, _Sample], str]:
    """The samples of one tar by key, and why reading stopped early ("" when the whole tar was read)."""
    samples: dict[str, _Sample] = {}
    if not path.exists():
        return samples, f"{path.name} is missing beside its sidecar {path.with_suffix('.parquet').name}"
    try:
        tar_size = path.stat().st_size
        with tarfile.open(path, mode="r:") as tar:
            while True:
                member = tar.next()
                if member is None:
                    return samples, ""
                _add_member(samples, tar, member, max_bytes, tar_size)
    except (tarfile.TarError, EOFError, OSError) as exc:
        return samples, f"{path.name} cannot be read past this point ({exc.__class__.__name__}: {exc})"


def read_sidecar(path: Path) -> tuple[list[dict], str]:
    """The sidecar's rows, and why it could not be read ("" when it was, or when there is none)."""
    if not path.exists():
        return [], ""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist(), ""
    except (OSError, ValueError) as exc:  # pyarrow's errors for a broken or foreign file derive from these
        return [], f"sidecar {path.name} cannot be read ({exc.__class__.__name__}: {exc})"


def download_finding(record_id: str, row: dict) -> Finding | None:
    """A sidecar row whose status is not success: an opt-out when a robots header refused it."""
    status = row.get("status")
    if status in (None, "success"):
        return None
    message = str(row.get("error_message") or "")
    evidence = {"status": str(status), "error_message": message, "url": row.get("url")}
    if ROBOTS_REFUSAL in message.lower():
        return Finding(
            record_id, "download", Decision.DROP, Reason.OPT_OUT, {"signal": "X-Robots-Tag", **evidence}
        )
    return Finding(record_id, "download", Decision.DROP, Reason.DOWNLOAD_FAILED, evidence)


def repeated_key_finding(record_id: str, where: str) -> Finding:
    """A record whose key `where` (the sidecar, the file) already gave another: dropped, kept as a record."""
    return Finding(
        record_id,
        "metadata",
        Decision.DROP,
        Reason.INVALID_METADATA,
        {"problem": f"{where} repeats this key"},
    )


@dataclass
class _Shard:
    """What every record of one shard shares."""

    name: str
    source: str
    cut: str  # why the tar could not be read to its end ("" when it could)
    table: MetadataTable | None = None
    found: dict[str, dict] = field(default_factory=dict)  # the metadata rows of this shard's samples


def _record(
    cfg: DataConfig, shard: _Shard, key: str, row: dict | None, sample: _Sample | None, index: int
) -> SourceRecord:
    record_id = f"{shard.name}/{key}"
    meta = sample.meta if sample is not None and isinstance(sample.meta, dict) else {}
    merged: dict[str, Any] = {**meta, **(row or {})}
    if sample is not None and sample.text is not None and merged.get(cfg.fields.text) in (None, ""):
        merged[cfg.fields.text] = sample.text
    image_ext = next((e for e in IMAGE_EXTENSIONS if sample is not None and e in sample.images), None)
    merged[cfg.fields.file_name] = f"{key}.{image_ext}" if image_ext else None
    merged.setdefault("shard", shard.name)
    joined = None
    if shard.table is not None:
        merged, joined = shard.table.join(merged, shard.found)
    rec = record_from_row(merged, index, record_id, shard.source, None, cfg)
    if shard.table is not None:
        rec.extra["metadata_join"] = join_evidence(shard.table, merged, joined)
        rec.findings.extend(shard.table.findings(record_id, joined))
    failed = download_finding(record_id, row) if row is not None else None
    if failed is not None:
        rec.findings.append(failed)
    for reason, detail in sample.problems if sample is not None else []:
        rec.findings.append(Finding(record_id, "file", Decision.DROP, reason, {"problem": detail}))
    if sample is not None and sample.ignored:
        rec.extra["ignored_members"] = sample.ignored
    if image_ext is not None and not (sample and sample.problems):
        rec.member = sample.images[image_ext]  # type: ignore[union-attr]
    elif failed is None and not (sample and sample.problems):
        what = "the sidecar lists it as downloaded but the shard" if row is not None else "its key"
        problem = f"{what} has no image member" + (f"; {shard.cut}" if shard.cut else "")
        reason = Reason.FILE_MISSING
        if sample is not None and sample.ignored:
            reason, problem = Reason.NOT_AN_IMAGE, f"{problem}, only {sample.ignored} (never read)"
        rec.findings.append(Finding(record_id, "file", Decision.DROP, reason, {"problem": problem}))
    return rec


def _shard_records(
    cfg: DataConfig, tar_path: Path, root: Path, start: int, source: str, table: MetadataTable | None
) -> list[SourceRecord]:
    """One record per sidecar row and per key of the tar that no row names."""
    name = tar_path.relative_to(root).with_suffix("").as_posix()
    samples, cut = read_shard(tar_path, cfg.max_file_bytes)
    rows, sidecar_problem = read_sidecar(tar_path.with_suffix(".parquet"))
    shard = _Shard(name, source, cut, table)
    if table is not None:
        metas = [s.meta for s in samples.values() if isinstance(s.meta, dict)]
        shard.found = table.rows_for([r.get(table.cfg.on) for r in [*rows, *metas]])
    records: list[SourceRecord] = []
    seen: set[str] = set()
    for row in rows:
        key = str(row.get("key") or f"row{len(records):06d}")
        if key in seen:
            key = f"{key}#row{len(records)}"  # a repeated key still gets its own, stable record
        seen.add(key)
        rec = _record(cfg, shard, key, row, samples.get(key), start + len(records))
        if key.partition("#")[2]:
            rec.findings.append(repeated_key_finding(rec.record_id, "sidecar"))
        records.append(rec)
    for key, sample in samples.items():
        if key not in seen:
            records.append(_record(cfg, shard, key, None, sample, start + len(records)))
    if sidecar_problem:
        records.append(
            _shard_problem_record(
                name, Reason.INVALID_METADATA, sidecar_problem, start + len(records), source
            )
        )
    if cut and not records:
        records.append(_shard_problem_record(name, Reason.FILE_MISSING, cut, start, source))
    return records


def _shard_problem_record(shard: str, reason: Reason, problem: str, index: int, source: str) -> SourceRecord:
    """A record for the shard itself, so a problem no sample carries still ends in the manifest."""
    rec = SourceRecord(record_id=f"{shard}/", index=index, source=source)
    rec.findings.append(Finding(rec.record_id, "shard", Decision.DROP, reason, {"problem": problem}))
    return rec


def _with_orphan_sidecars(tars: list[Path], root: Path, cfg: DataConfig) -> list[Path]:
    """The shards, plus the tar path of each sidecar whose tar is gone (its rows must not vanish)."""
    joined = cfg.metadata.path.expanduser().resolve() if cfg.metadata is not None else None
    have = set(tars)
    orphans = [
        p.with_suffix(".tar")
        for p in root.rglob("*.parquet")
        if p.with_suffix(".tar") not in have and p.resolve() != joined and p.is_file()
    ]
    return sorted([*tars, *orphans])


def open_webdataset(cfg: DataConfig, root: Path) -> Opened:
    """The records of every shard under `root` (first `cfg.limit`), one shard per batch; the source
    name; and the files read (tars and sidecars), whose sizes and times tell a resume what changed."""
    if not root.is_dir():
        raise DatasetError(
            f"dataset folder {root} does not exist or is not a folder; check data.path / --data"
        )
    tars = shard_paths(root)
    if not tars:
        raise DatasetError(
            f"no .tar shards under {root}: give the output folder of img2dataset (output_format webdataset)"
        )
    cfg = effective_fields(cfg)
    source = f"webdataset:{root.resolve()}"
    shards = _with_orphan_sidecars(tars, root, cfg)
    if cfg.metadata is not None:
        MetadataTable(cfg.metadata)  # a join naming a missing file or column fails before any reading

    def batches() -> Iterator[list[SourceRecord]]:
        table = MetadataTable(cfg.metadata) if cfg.metadata is not None else None
        count = 0
        for tar_path in shards:
            records = _shard_records(cfg, tar_path, root, count, source, table)
            if cfg.limit is not None and count + len(records) >= cfg.limit:
                yield records[: cfg.limit - count]
                break
            count += len(records)
            yield records
        if table is not None:
            table.check_matched()

    files = [p for t in shards for p in (t, t.with_suffix(".parquet")) if p.is_file()]
    return batches, source, files, None
