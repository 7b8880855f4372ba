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
    record_ids: list[str],
    paths: list[str],
    digest: str,
    resolution: int,
    out_dir: Path,
    group_rows: int | None = None,
    groups_per_shard: int = GROUPS_PER_SHARD,
) -> list[ShardJob]:
    """The shards for a table (records in the table's order): a fixed shuffle, cut into equal shards."""
    group_rows = group_rows or group_rows_for(resolution)
    order = np.random.default_rng(WRITE_ORDER_SEED).permutation(len(record_ids))
    per_shard = group_rows * groups_per_shard
    jobs = []
    for number, start in enumerate(range(0, len(order), per_shard)):
        rows = [int(r) for r in order[start : start + per_shard]]
        jobs.append(
            ShardJob(
                number=number,
                file=str(out_dir / f"shard-{number:05d}.parquet"),
                rows=rows,
                record_ids=[record_ids[r] for r in rows],
                paths=[paths[r] for r in rows],
                resolution=resolution,
                group_rows=group_rows,
                digest=digest,
            )
        )
    return jobs


def write_shards(
    record_ids: list[str],
    paths: list[str],
    digest: str,
    resolution: int,
    out_dir: Path,
    workers: int = 0,
    progress=lambda *a: None,
    group_rows: int | None = None,
    groups_per_shard: int = GROUPS_PER_SHARD,
) -> Path:
    """Write (or finish writing) the training shards of a table; returns the index file.

    `workers` processes decode in parallel (0: all CPUs); an existing complete index is returned as is.
    """
    out_dir = Path(out_dir)
    index_file = out_dir / INDEX_FILE
    if index_file.exists():
        index = json.loads(index_file.read_text())
        if index.get("digest") == digest and index.get("resolution") == resolution:
            return index_file
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = plan_shards(record_ids, paths, digest, resolution, out_dir, group_rows, groups_per_shard)
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    groups: list[list[int]] = []
    if workers <= 1:
        for i, job in enumerate(jobs):
            groups.append(write_shard(job))
            progress("write training shards", i + 1, len(jobs))
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            for i, sizes in enumerate(pool.map(write_shard, jobs)):
                groups.append(sizes)
                progress("write training shards", i + 1, len(jobs))
    index = {
        "format": FORMAT,
        "digest": digest,
        "resolution": resolution,
        "records": len(record_ids),
        "shards": [
            {"file": Path(job.file).name, "rows": len(job.rows), "groups": sizes}
            for job, sizes in zip(jobs, groups, strict=True)
        ],
    }
    tmp = index_file.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, index_file)
    return index_file
