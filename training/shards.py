"""Training batches streamed from Parquet shards by a multi-worker DataLoader, resumable at the exact sample.

The order is a pure function of (seed, epoch, rank, world): each epoch shuffles the list of all row
groups, process `rank` takes every `world`-th of them (each process reads its own groups, never the
same one in an epoch), groups are read `MIX_GROUPS` at a time and the rows of each such mix permuted
together. The DataLoader's workers read and permute whole mixes (map-style, so their results arrive
in order whatever the number of workers); the main process cuts them into batches. Every process takes
exactly one batch per step, so the data position is the number of samples this process has taken: a
resume recomputes the epochs' plans from the seed and skips to it without reading a shard.

Peak memory is a few mixes (about MIX_GROUPS x 4 MiB of pixels each, per worker and in flight), not
the dataset. Shards are read with pyarrow only; nothing is unpickled.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from training.shard_writer import FORMAT

MIX_GROUPS = 4  # row groups whose rows are shuffled together
PREFETCH_MIXES = 2  # per worker


@dataclass(frozen=True)
class ShardIndex:
    """What the writer's index.json says: the shard files and the sizes of their row groups."""

    directory: Path
    resolution: int
    records: int
    groups: list[tuple[str, int, int]]  # (file, group number in the file, rows), in shard order

    @classmethod
    def read(cls, index_file: Path, digest: str | None = None) -> "ShardIndex":
        """Read and check an index; `digest` (when given) must be the governed dataset's."""
        index_file = Path(index_file)
        if not index_file.exists():
            raise FileNotFoundError(
                f"{index_file} does not exist: the training shards are incomplete; write them again "
                "(training.shard_writer.write_shards resumes where it stopped)"
            )
        index = json.loads(index_file.read_text())
        if index.get("format") != FORMAT:
            raise ValueError(f"{index_file}: format {index.get('format')!r}, expected {FORMAT!r}")
        if digest is not None and index["digest"] != digest:
            raise ValueError(
                f"{index_file} holds dataset {index['digest'][:12]}, not {digest[:12]}: delete the folder"
            )
        groups = [(s["file"], g, n) for s in index["shards"] for g, n in enumerate(s["groups"])]
        return cls(index_file.parent, int(index["resolution"]), int(index["records"]), groups)


def _generator(*parts: int) -> torch.Generator:
    seed = 0
    for part in parts:
        seed = (seed * 1_000_003 + part) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


def epoch_mixes(index: ShardIndex, seed: int, epoch: int, rank: int, world: int) -> list[list[int]]:
    """This process's mixes (lists of group numbers) of one epoch, in order."""
    order = torch.randperm(len(index.groups), generator=_generator(seed, epoch)).tolist()
    mine = order[rank::world]
    return [mine[i : i + MIX_GROUPS] for i in range(0, len(mine), MIX_GROUPS)]


@dataclass
class Mix:
    """One mix as read: pixels and table rows in file order; `order` the rows still to serve, permuted."""

    pixels: torch.Tensor
    rows: torch.Tensor
    order: torch.Tensor
    epoch: int


class MixDataset(Dataset):
    """Item (epoch, mix number, group numbers): that mix's pixels uint8 [n, 3, R, R], table rows [n] and
    their permutation (a `Mix`). Read in the DataLoader's workers."""

    def __init__(self, index: ShardIndex, seed: int, rank: int):
        self.index, self.seed, self.rank = index, seed, rank

    def __len__(self) -> int:
        return len(self.index.groups)  # the sampler is unbounded; this is only informative

    def _read(self, group: int) -> tuple[np.ndarray, np.ndarray]:
        name, number, rows = self.index.groups[group]
        # opened per read (a footer of a few KB): every open reader keeps its own decompression buffers,
        # and kept open over 298 shards they added 200 MB of peak RSS at 256 px
        table = pq.ParquetFile(self.index.directory / name).read_row_group(number, columns=["row", "image"])
        side = self.index.resolution
        image = table.column("image").combine_chunks()
        # fixed-size binary: the values buffer holds the rows' pixels back to back
        pixels = np.frombuffer(image.buffers()[1], dtype=np.uint8, count=rows * 3 * side * side)
        return pixels.reshape(rows, 3, side, side), table.column("row").to_numpy()

    def __getitem__(self, item: tuple[int, int, tuple[int, ...]]) -> Mix:
        epoch, mix, groups = item
        parts = [self._read(g) for g in groups]
        # one copy, which owns its memory (not pyarrow's read-only buffers); the rows are gathered in the
        # permuted order only when batches are cut, so no second copy of the whole mix is made
        pixels = torch.from_numpy(np.concatenate([p for p, _ in parts]))
        rows = torch.from_numpy(np.concatenate([r for _, r in parts]))
        order = torch.randperm(len(rows), generator=_generator(self.seed, epoch, self.rank, mix))
        return Mix(pixels, rows, order, epoch)


class MixSampler(Sampler):
    """Unbounded: (epoch, mix, groups) from a start position on, epoch after epoch."""

    def __init__(self, index: ShardIndex, seed: int, rank: int, world: int, epoch: int, mix: int):
        self.index, self.seed, self.rank, self.world = index, seed, rank, world
        self.epoch, self.mix = epoch, mix

    def __iter__(self):
        epoch, mix = self.epoch, self.mix
        while True:
            mixes = epoch_mixes(self.index, self.seed, epoch, self.rank, self.world)
            for m in range(mix, len(mixes)):
                yield epoch, m, tuple(mixes[m])
            epoch, mix = epoch + 1, 0


class ShardBatches:
    """This process's batches from the shards: `next_batch()` -> (pixels uint8 [B, 3, R, R], rows [B]).

    `state()` / `load_state()` carry the data position for a checkpoint, like `EpochSampler`'s.
    """

    def __init__(
        self,
        index: ShardIndex,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        workers: int = 0,
    ):
        if len(index.groups) < world:
            raise ValueError(
                f"{index.directory}: {len(index.groups)} row groups for {world} processes; every process "
                "needs its own: train this dataset from memory (raise training.data_in_memory_max_mb)"
            )
        self.index, self.batch_size, self.seed = index, batch_size, seed
        self.rank, self.world, self.workers = rank, world, workers
        self.samples = 0  # taken by this process since the run began: the data position
        self.epoch = 0
        self._iter = None
        self._buffer: list[Mix] = []
        self._buffered = 0

    def _start(self) -> None:
        epoch, mix, skip = self._locate(self.samples)
        sampler = MixSampler(self.index, self.seed, self.rank, self.world, epoch, mix)
        loader = DataLoader(
            MixDataset(self.index, self.seed, self.rank),
            sampler=sampler,
            batch_size=None,
            num_workers=self.workers,
            prefetch_factor=PREFETCH_MIXES if self.workers else None,
            persistent_workers=False,
        )
        self._iter = iter(loader)
        self._buffer, self._buffered = [], 0
        self._fill(skip)
        self._buffer[0].order = self._buffer[0].order[skip:]
        self._buffered -= skip

    def _locate(self, samples: int) -> tuple[int, int, int]:
        """(epoch, mix, offset in the mix) of this process's `samples`-th sample; from the plans alone."""
        epoch = 0
        while True:
            mixes = epoch_mixes(self.index, self.seed, epoch, self.rank, self.world)
            sizes = [sum(self.index.groups[g][2] for g in mix) for mix in mixes]
            if samples < sum(sizes):
                for m, size in enumerate(sizes):
                    if samples < size:
                        self.epoch = epoch
                        return epoch, m, samples
                    samples -= size
            samples -= sum(sizes)
            epoch += 1

    def _fill(self, need: int) -> None:
        """Read mixes until more than `need` samples are buffered."""
        while self._buffered <= need:
            mix = next(self._iter)
            self._buffer.append(mix)
            self._buffered += len(mix.order)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `batch_size` samples of this process (they run on across epochs)."""
        if self._iter is None:
            self._start()
        self._fill(self.batch_size - 1)
        taken, pixels, rows = 0, [], []
        while taken < self.batch_size:
            mix = self._buffer[0]
            self.epoch = mix.epoch
            take = min(self.batch_size - taken, len(mix.order))
            idx = mix.order[:take]
            pixels.append(mix.pixels.index_select(0, idx))
            rows.append(mix.rows.index_select(0, idx))
            taken += take
            mix.order = mix.order[take:]
            if not len(mix.order):
                self._buffer.pop(0)
        self._buffered -= self.batch_size
        self.samples += self.batch_size
        if len(pixels) == 1:
            return pixels[0], rows[0]
        return torch.cat(pixels), torch.cat(rows)

    def state(self) -> dict[str, int | str]:
        """The data position, for a checkpoint."""
        return {"source": "shards", "samples": self.samples, "world": self.world}

    def load_state(self, state: dict) -> None:
        """Continue from a checkpoint's data position (written by the same number of processes)."""
        if state.get("source") != "shards":
            raise ValueError(
                "the checkpoint's data position is in the in-memory order, not the shards': resume with "
                "the same training.data_in_memory_max_mb as the run that wrote it"
            )
        if int(state["world"]) != self.world:
            raise ValueError(
                f"the checkpoint was written by {state['world']} processes reading their own shards; "
                f"resume on {state['world']} processes, not {self.world}"
            )
        self.samples = int(state["samples"])
        self._iter = None

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `n` samples of the first shard (repeated if fewer), for fixed probes; no generator."""
        pixels, rows = MixDataset(self.index, self.seed, self.rank)._read(0)
        take = np.arange(n) % len(rows)
        return torch.from_numpy(pixels[take]), torch.from_numpy(rows[take])
