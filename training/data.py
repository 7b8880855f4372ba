"""The governed table as training pixels: a cached uint8 tensor batched by index, or shards to stream."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from governance.manifest import Col, Split
from training.images import decode_image
from training.shard_writer import shard_dir_for, write_shards
from training.shards import ShardIndex

REQUIRED_COLUMNS = (Col.RECORD_ID, Col.PATH, Col.TEXT, Col.SPLIT, Col.CONTENT_SHA256)


def read_governed(governed_path: Path, split: str | None = Split.TRAIN) -> pd.DataFrame:
    """Kept records of one split (all when `split` is None), sorted by record_id for a stable order."""
    if not Path(governed_path).exists():
        raise FileNotFoundError(
            f"governed table {governed_path} does not exist: run the governance stages first"
        )
    import pyarrow.parquet as pq

    present = set(pq.read_schema(governed_path).names)
    missing = [str(c) for c in REQUIRED_COLUMNS if str(c) not in present]
    if missing:
        raise ValueError(
            f"governed table {governed_path} lacks columns {missing}; see governance/manifest.py"
        )
    # only the columns training reads, and only the split's rows: the governed table also carries
    # evidence (hashes, licences, attributes) that would double what each training process holds
    table = pd.read_parquet(
        governed_path,
        columns=[str(c) for c in REQUIRED_COLUMNS],
        filters=None if split is None else [(str(Col.SPLIT), "==", str(split))],
    )
    if table.empty:
        raise ValueError(
            f"governed table {governed_path} has no records in split {split!r}: nothing to train on"
        )
    return table.sort_values(Col.RECORD_ID).reset_index(drop=True)


def dataset_digest(table: pd.DataFrame) -> str:
    """sha256 over (record_id, content_sha256, caption) of every row, in the table's order."""
    digest = hashlib.sha256()
    for rid, sha, text in zip(table[Col.RECORD_ID], table[Col.CONTENT_SHA256], table[Col.TEXT], strict=True):
        digest.update(f"{rid}\x1f{sha}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def cached_images(
    table: pd.DataFrame, digest: str, resolution: int, cache_dir: Path, progress
) -> torch.Tensor:
    """All images of `table` as uint8 [N, 3, R, R], decoded once and cached on disk by dataset digest."""
    file = cache_dir / f"images-{digest[:16]}-{resolution}.safetensors"
    if file.exists():
        images = load_file(file)["images"]
        if images.shape[0] == len(table):
            return images
    out = np.empty((len(table), 3, resolution, resolution), dtype=np.uint8)
    paths = table[Col.PATH].tolist()
    for i, path in enumerate(paths):
        try:
            out[i] = decode_image(path, resolution)
        except (OSError, ValueError) as err:
            raise RuntimeError(
                f"record {table[Col.RECORD_ID][i]}: image {path} could not be decoded although governance kept it"
                " (rerun governance: the file changed or vanished)"
            ) from err
        if i % 256 == 0 or i == len(paths) - 1:
            progress("decode images", i + 1, len(paths))
    images = torch.from_numpy(out)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    save_file({"images": images}, tmp)
    os.replace(tmp, file)
    return images


def pixel_bytes(records: int, resolution: int) -> int:
    """Bytes of the decoded uint8 RGB images of `records` records at `resolution`."""
    return records * 3 * resolution * resolution


def training_images(
    table: pd.DataFrame, digest: str, resolution: int, cache_dir: Path, in_memory_max_mb: float, progress
) -> torch.Tensor | ShardIndex:
    """The training pixels: one cached uint8 tensor when they fit in `in_memory_max_mb`, otherwise
    Parquet shards at the training resolution (written in parallel, resumable) to stream from."""
    if pixel_bytes(len(table), resolution) <= in_memory_max_mb * 1e6:
        return cached_images(table, digest, resolution, cache_dir, progress)
    # the columns as arrays, not lists: each shard takes its own ids and paths when it is written, so
    # no list of Python strings the size of the table is made (at 1,000,000 records two such lists and
    # the shard plan held 225 MB)
    index_file = write_shards(
        table[Col.RECORD_ID].astype(str).array,
        table[Col.PATH].astype(str).array,
        digest,
        resolution,
        shard_dir_for(cache_dir, digest, resolution),
        progress=progress,
    )
    return ShardIndex.read(index_file, digest)


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


class EpochSampler:
    """Shuffled indices per epoch from (seed, epoch): the data position is just (epoch, offset).

    Each process takes its own contiguous slice of every global batch, so the processes never
    see the same example in one step and resume at the same place.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.epoch, self.offset = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=gen)

    def next_indices(self) -> torch.Tensor:
        """Indices of this process's share of the next global batch (wraps across epochs)."""
        global_batch = self.batch_size * self.world
        picked = []
        while sum(len(p) for p in picked) < global_batch:
            take = min(global_batch - sum(len(p) for p in picked), self.n - self.offset)
            picked.append(self._perm[self.offset : self.offset + take])
            self.offset += take
            if self.offset >= self.n:
                self.epoch, self.offset = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
        batch = torch.cat(picked)
        return batch[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def state(self) -> dict[str, int]:
        """The data position, for a checkpoint."""
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state(self, state: dict[str, int]) -> None:
        """Continue from a checkpoint's data position."""
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._perm = self._permutation(self.epoch)
