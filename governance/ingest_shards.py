"""An ingest shard, as both engines write it: one Parquet table of records with their evidence, its
findings log, then a completion marker.

The local engine (`governance.ingest`) and the Ray engine (`governance.engines.ray_engine`) compute
the evidence in different places and hand it here, so the shards, and everything after ingest, do
not depend on the engine. This module imports neither of them (they both import it).
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from governance.decisions import FindingsLog, sorted_json
from governance.evidence import ImageEvidence, ImageTask
from governance.faces import count_faces
from governance.reasons import Decision, Reason
from governance.records import MemberRef, SourceRecord
from governance.tables import INGEST_DIR, atomic_parquet, atomic_text

Shard = tuple[int, list[SourceRecord]]
# Nullable integer columns. pHashes are signed 64-bit: built as floats (what pandas makes of ints
# mixed with None) they would lose their low bits above 2**53, so they are built as Int64 directly.
INT_COLUMNS = ("width", "height", "phash", "face_count")


def shard_path(folder: Path, k: int, suffix: str) -> Path:
    """`folder/shard-NNNNN.<suffix>`: the shard's table (`parquet`) or its completion marker (`done`)."""
    return folder / f"shard-{k:05d}.{suffix}"


def numbered(records: Iterable[SourceRecord], size: int) -> Iterator[Shard]:
    """Ingest's shards: `size` records each, numbered, taken from the source as they are asked for."""
    batch: list[SourceRecord] = []
    k = 0
    for r in records:
        batch.append(r)
        if len(batch) == size:
            yield k, batch
            k, batch = k + 1, []
    if batch:
        yield k, batch


class ShardTally:
    """Shards and records seen so far, and which shards a rerun of the same data already finished."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.shards = self.records = self.reused = 0

    def todo(self, shards: Iterable[Shard]) -> Iterator[Shard]:
        """The shards without a completion marker (the others are counted as reused)."""
        for k, records in shards:
            self.shards, self.records = k + 1, self.records + len(records)
            if shard_path(self.folder, k, "done").exists():
                self.reused += len(records)
                continue
            yield k, records


def image_tasks(records: list[SourceRecord]) -> list[ImageTask]:
    """The images to read; records whose metadata already failed (no path, bytes or member) are not."""
    return [
        ImageTask(r.index, r.path, r.data, r.member)
        for r in records
        if r.path is not None or r.data is not None or r.member is not None
    ]


def materialize(records: list[SourceRecord], evidence: dict[int, ImageEvidence], work_dir: Path) -> None:
    """Embedded image bytes are written once to the work folder so that later stages have a path."""
    for r in records:
        if r.path is not None or (r.data is None and r.member is None):
            continue
        e = evidence.get(r.index)
        sha = e.content_sha256 if e is not None else None
        if sha is None and r.data is None:
            continue  # a tar member that could not be read: its failure is its decision
        data = r.data if r.data is not None else (r.member or MemberRef("", 0, 0)).read()
        target = work_dir / "blobs" / f"{sha or hashlib.sha256(data).hexdigest()}.bin"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        r.path = str(target.resolve())
        r.data = None  # written: the shard's records no longer hold their images


def _row(r: SourceRecord, e: ImageEvidence | None, dets: list[dict] | None) -> dict:
    return {
        "record_id": r.record_id,
        "index": r.index,
        "source": r.source,
        "file_name": r.file_name,
        "path": r.path,
        "text": r.text,
        "license_raw": r.license_raw,
        "license_source": r.license_source,
        "source_url": r.source_url,
        "author": r.author,
        "declared_sha256": r.declared_sha256,
        "attributes": sorted_json(r.attributes),
        "extra": sorted_json(r.extra),
        "content_sha256": None if e is None else e.content_sha256,
        "width": None if e is None else e.width,
        "height": None if e is None else e.height,
        "format": None if e is None else e.format,
        "phash": None if e is None else e.phash,
        "color_hash": None if e is None else e.color_hash,
        "signals": sorted_json(e.signals if e is not None else {}),
        "nsfw_detections": None if dets is None else json.dumps(dets),
        "face_count": None if dets is None else count_faces(dets),
    }


def shard_frame(
    records: list[SourceRecord],
    evidence: dict[int, ImageEvidence],
    detections: dict[int, list[dict]],
    log: FindingsLog,
) -> pd.DataFrame:
    """The shard's table (one row per record, in the shard's order); its findings go to `log`."""
    rows = []
    for r in records:
        log.extend(r.findings)
        e = evidence.get(r.index)
        if e is not None and e.failure is not None:
            log.add(r.record_id, "image", Decision.DROP, Reason(e.failure[0]), {"problem": e.failure[1]})
        rows.append(_row(r, e, detections.get(r.index)))
    names = list(rows[0]) if rows else []
    return pd.DataFrame(
        {
            name: pd.array([row[name] for row in rows], dtype="Int64")
            if name in INT_COLUMNS
            else [row[name] for row in rows]
            for name in names
        }
    )


def write_shard(
    work_dir: Path,
    k: int,
    records: list[SourceRecord],
    evidence: dict[int, ImageEvidence],
    detections: dict[int, list[dict]],
) -> None:
    """Write shard `k`: embedded images as blobs, its table, its findings, then its completion marker.

    The marker comes last, so a shard killed half-way is computed again on resume.
    """
    folder = work_dir / INGEST_DIR
    materialize(records, evidence, work_dir)
    log = FindingsLog(f"ingest-{k:05d}")
    atomic_parquet(shard_frame(records, evidence, detections, log), shard_path(folder, k, "parquet"))
    log.write(work_dir)
    atomic_text(json.dumps({"records": len(records)}), shard_path(folder, k, "done"))
