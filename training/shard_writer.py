"""The governed training records as Parquet shards of pixels already at the training resolution.

Parquet (pyarrow) rather than WebDataset tar: the loader must find any row group from its number alone
to resume at an exact position, which Parquet's footer gives and a tar (no index) does not; the columns
are plain typed values, so nothing is ever unpickled. Each row holds `row` (the record's index in the
governed table sorted by record_id, which the caption embeddings share), `record_id` and `image`: raw
uint8 RGB [3, R, R] bytes, zstd-compressed per column chunk (no image decoder on the read path).

Rows are written in one fixed pseudo-random order, so every row group is already a sample of the whole
dataset and the loader's group-level shuffle mixes records that are neighbours by name. Shards are
written by a pool of forked processes (as the DataLoader's workers are; spawning would re-import the
launching script's torch in each, seconds per worker), each to a temporary file renamed when complete; a rerun keeps the shards whose metadata matches and writes the
rest; `index.json`, written last, is the completion marker the loader requires.
"""

import json
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from training.images import decode_image

FORMAT = "t2i-train-shards/1"
INDEX_FILE = "index.json"
GROUP_BYTES = 4 << 20  # raw pixel bytes per row group: the unit the loader reads
GROUPS_PER_SHARD = 16
WRITE_ORDER_SEED = 20_251_202


@dataclass(frozen=True)
class ShardJob:
    """One shard to write: its file, the table rows it holds (in order) and their image paths."""

    number: int
    file: str
    rows: list[int]
    record_ids: list[str]
    paths: list[str]
    resolution: int
    group_rows: int
    digest: str


def shard_dir_for(cache_dir: Path, digest: str, resolution: int) -> Path:
    """Where the shards of one governed dataset at one resolution live."""
    return Path(cache_dir) / f"shards-{digest[:16]}-{resolution}"


def group_rows_for(resolution: int) -> int:
    """Rows per row group: about GROUP_BYTES of raw pixels."""
    return max(1, GROUP_BYTES // (3 * resolution * resolution))


def _metadata(job: ShardJob) -> dict[bytes, bytes]:
    return {
        b"t2i.format": FORMAT.encode(),
        b"t2i.digest": job.digest.encode(),
        b"t2i.resolution": str(job.resolution).encode(),
        b"t2i.shard": str(job.number).encode(),
        b"t2i.rows": str(len(job.rows)).encode(),
    }


def _complete(job: ShardJob) -> bool:
    """A shard from an earlier attempt is kept only if its footer says it is this very shard."""
    try:
        meta = pq.read_metadata(job.file)
    except (OSError, pa.ArrowException):
        return False
    return meta.metadata is not None and all(meta.metadata.get(k) == v for k, v in _metadata(job).items())


def write_shard(job: ShardJob) -> list[int]:
    """Decode, resize and write one shard (skipped when already complete); returns its row-group sizes."""
    if _complete(job):
        return [
            pq.ParquetFile(job.file).metadata.row_group(g).num_rows
            for g in range(pq.read_metadata(job.file).num_row_groups)
        ]
    side, size = job.resolution, 3 * job.resolution * job.resolution
    pixels = np.empty((len(job.rows), size), dtype=np.uint8)
    for i, path in enumerate(job.paths):
        try:
            pixels[i] = decode_image(path, side).reshape(-1)
        except (OSError, ValueError) as err:
            raise RuntimeError(
                f"record {job.record_ids[i]}: image {path} could not be decoded although governance kept it"
                " (rerun governance: the file changed or vanished)"
            ) from err
    images = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(size), len(job.rows), [None, pa.py_buffer(pixels)]
    )
    table = pa.table(
        {"row": pa.array(job.rows, pa.int64()), "record_id": pa.array(job.record_ids), "image": images}
    ).replace_schema_metadata(_metadata(job))
    tmp = f"{job.file}.tmp{os.getpid()}"
    pq.write_table(table, tmp, row_group_size=job.group_rows, compression="zstd", compression_level=1)
    os.replace(tmp, job.file)
    return [min(job.group_rows, len(job.rows) - s) for s in range(0, len(job.rows), job.group_rows)]


def plan_shards(
    records: int,
    out_dir: Path,
    resolution: int,
    group_rows: int | None = None,
    groups_per_shard: int = GROUPS_PER_SHARD,
) -> list[tuple[str, np.ndarray]]:
    """The shards of a table of `records` rows: (file, table rows in write order) each, a fixed shuffle
    cut into equal shards. Rows only: a job's ids and paths are taken when it is written."""
    group_rows = group_rows or group_rows_for(resolution)
    order = np.random.default_rng(WRITE_ORDER_SEED).permutation(records)
    per_shard = group_rows * groups_per_shard
    return [
        (str(Path(out_dir) / f"shard-{number:05d}.parquet"), order[start : start + per_shard])
        for number, start in enumerate(range(0, records, per_shard))
    ]


def _take(values, rows: np.ndarray) -> list[str]:
    """values[rows] as str: `take` on an array (Arrow or numpy), indexing on a list."""
    if hasattr(values, "take"):
        return [str(v) for v in values.take(rows).tolist()]
    return [str(values[int(r)]) for r in rows]


def _in_order(pool: ProcessPoolExecutor, jobs, ahead: int):
    """pool.map's results in order, with at most `ahead` jobs submitted and not yet collected:
    `pool.map` would build and queue every job (each shard's ids and paths) before the first returns."""
    pending: deque = deque()
    for job in jobs:
        pending.append(pool.submit(write_shard, job))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def write_shards(
    record_ids,
    paths,
    digest: str,
    resolution: int,
    out_dir: Path,
    workers: int = 0,
    progress=lambda *a: None,
    group_rows: int | None = None,
    groups_per_shard: int = GROUPS_PER_SHARD,
) -> Path:
    """Write (or finish writing) the training shards of a table; returns the index file.

    `record_ids` and `paths` are the table's columns in its order: lists, or arrays with `take` (a
    pandas column's `.array`), so that no whole-table list of strings is made for the shard plan.
    `workers` processes decode in parallel (0: all CPUs); an existing complete index is returned as is.
    """
    out_dir = Path(out_dir)
    index_file = out_dir / INDEX_FILE
    if index_file.exists():
        index = json.loads(index_file.read_text())
        if index.get("digest") == digest and index.get("resolution") == resolution:
            return index_file
    out_dir.mkdir(parents=True, exist_ok=True)
    group_rows = group_rows or group_rows_for(resolution)
    plans = plan_shards(len(record_ids), out_dir, resolution, group_rows, groups_per_shard)
    jobs = (
        ShardJob(
            number,
            file,
            rows.tolist(),
            _take(record_ids, rows),
            _take(paths, rows),
            resolution,
            group_rows,
            digest,
        )
        for number, (file, rows) in enumerate(plans)
    )
    workers = min(workers or os.cpu_count() or 1, len(plans))
    groups: list[list[int]] = []
    if workers <= 1:
        for i, job in enumerate(jobs):
            groups.append(write_shard(job))
            progress("write training shards", i + 1, len(plans))
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            for i, sizes in enumerate(_in_order(pool, jobs, 2 * workers)):
                groups.append(sizes)
                progress("write training shards", i + 1, len(plans))
    index = {
        "format": FORMAT,
        "digest": digest,
        "resolution": resolution,
        "records": len(record_ids),
        "shards": [
            {"file": Path(file).name, "rows": len(rows), "groups": sizes}
            for (file, rows), sizes in zip(plans, groups, strict=True)
        ],
    }
    tmp = index_file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, index_file)
    return index_file
