"""What the dedup pass reads: the records the passes before it left alive, a few columns each.

The ingested table is read a batch at a time. Per record only what the pass decides on stays in
memory, as Arrow and numpy arrays (a few hundred bytes): record id, content sha256, path, both
64-bit hashes, pixel count and the earlier passes' most severe decision. The 768-byte colour grids,
most of the evidence, go to a temporary file in the work folder as they are read (`GridStore`), and
pair verification reads back only the rows of the pairs it checks, so memory holds a chunk of
pairs' grids, not the dataset's. Measured in benchmarks/governance_memory.py.
"""

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from governance.color import GRID
from governance.decisions import findings_files
from governance.perceptual_hash import grid_dhash_int64
from governance.reasons import Decision
from governance.stage_names import GovernanceStage, decided_before
from governance.tables import iter_ingest_tables, positions, read_columns

GRID_BYTES = GRID * GRID * 3
_COLUMNS = ["record_id", "content_sha256", "phash", "color_hash", "width", "height", "path"]
# Decisions in the order of their severity, so that a decision's position is its severity.
_HEX = np.full(256, 255, dtype=np.uint8)  # ASCII code -> the hex digit's value (255: not a digit)
for _value, _digit in enumerate(b"0123456789abcdef"):
    _HEX[_digit] = _HEX[ord(bytes([_digit]).upper())] = _value
_BY_SEVERITY = pa.array(sorted((str(d) for d in Decision), key=lambda d: Decision(d).severity))
_ALIVE = pa.schema(
    [(c, pa.string()) for c in ("record_id", "content_sha256", "path")]
    + [(c, pa.int64()) for c in ("phash", "dhash", "pixels")]
    + [("severity", pa.int8())]
)


class GridStore:
    """Colour grids appended to an unnamed temporary file; `read` returns the rows asked for.

    Rows are read with `os.pread`, not a memory map: the pages stay in the page cache, outside the
    process's resident memory.
    """

    def __init__(self, folder: Path):
        # Not a `with` block: the store outlives this call; `close` (run_dedup's finally) removes it.
        self.file = tempfile.TemporaryFile(dir=folder, prefix="dedup-grids-")  # noqa: SIM115
        self.rows = 0

    def append(self, grids: np.ndarray) -> None:
        """Add (N, 768) uint8 rows after those already stored."""
        self.file.write(np.ascontiguousarray(grids, dtype=np.uint8).tobytes())
        self.rows += len(grids)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The (len(rows), 768) grids of the stored rows `rows` (any order, repeats allowed)."""
        self.file.flush()
        wanted, inverse = np.unique(np.asarray(rows, dtype=np.int64), return_inverse=True)
        out = np.empty((len(wanted), GRID_BYTES), dtype=np.uint8)
        # Consecutive rows are one read: runs of neighbours are common (a copy beside its original).
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        fd = self.file.fileno()
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(wanted)], strict=True):
            data = os.pread(fd, int(stop - start) * GRID_BYTES, int(wanted[start]) * GRID_BYTES)
            out[start:stop] = np.frombuffer(data, dtype=np.uint8).reshape(-1, GRID_BYTES)
        return out[inverse.reshape(-1)]

    def close(self) -> None:
        """Delete the file (it has no name; closing removes it)."""
        self.file.close()


@dataclass(frozen=True)
class GridView:
    """Grids indexed like an (N, 768) array, as `verify_pairs` reads them: `view[index]`.

    Index i < len(rows) is the stored row rows[i]; the indices after it are the in-memory `extra`
    rows (an evaluation set's grids, appended to the training records').
    """

    store: GridStore
    rows: np.ndarray
    extra: np.ndarray

    def __len__(self) -> int:
        return len(self.rows) + len(self.extra)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        out = np.empty((len(index), GRID_BYTES), dtype=np.uint8)
        stored = index < len(self.rows)
        if stored.any():
            out[stored] = self.store.read(self.rows[index[stored]])
        if not stored.all():
            out[~stored] = self.extra[index[~stored] - len(self.rows)]
        return out


@dataclass(frozen=True)
class DedupInputs:
    """The records dedup judges, in preference order, and how many records the dataset has."""

    record_id: pa.Array
    content_sha256: pa.Array
    path: pa.Array
    phash: np.ndarray  # int64
    dhash: np.ndarray  # int64, of the colour grid
    grid_row: np.ndarray  # the record's row in `grids`
    grids: GridStore
    records_in: int

    def __len__(self) -> int:
        return len(self.record_id)

    def take(self, index: np.ndarray) -> "DedupInputs":
        """The records at `index` (positions in this table), in that order."""
        at = pa.array(index, pa.int64())
        return DedupInputs(
            self.record_id.take(at),
            self.content_sha256.take(at),
            self.path.take(at),
            self.phash[index],
            self.dhash[index],
            self.grid_row[index],
            self.grids,
            self.records_in,
        )

    def grid_view(self, extra: np.ndarray | None = None) -> GridView:
        """These records' grids, indexed by their position here (then `extra`'s rows)."""
        return GridView(
            self.grids, self.grid_row, np.zeros((0, GRID_BYTES), np.uint8) if extra is None else extra
        )


def earlier_severity(work_dir: Path, record_ids: pa.Array) -> np.ndarray:
    """Per record (in `record_ids` order) the severity of the most severe decision before dedup.

    Reads the record id and decision columns of the earlier passes' findings only; ValueError for a
    finding on a record that is not in the dataset or with an unknown decision.
    """
    severity = np.zeros(len(record_ids), dtype=np.int8)
    for path in findings_files(work_dir, decided_before(GovernanceStage.DEDUP)):
        table = pq.read_table(path, columns=["record_id", "decision"])
        if not len(table):
            continue
        at = positions(table.column("record_id"), record_ids, f"a finding in {path.name}")
        level = pc.index_in(table.column("decision").cast(pa.string()), value_set=_BY_SEVERITY)
        if level.null_count:
            unknown = table.column("decision").filter(pc.is_null(level))[0].as_py()
            raise ValueError(f"{path}: unknown decision {unknown!r}")
        np.maximum.at(severity, at, level.to_numpy().astype(np.int8))
    return severity


def grids_from_hex(hashes: pa.Array) -> np.ndarray:
    """Colour hashes (hex strings) as an (N, 768) uint8 array, as `color_array` reads them.

    Decoded from the Arrow buffer with a lookup table: no Python string per record. ValueError
    names the first record position whose hash is not 1,536 hex digits.
    """
    hashes = hashes.cast(pa.string())
    if hashes.null_count:
        raise ValueError(
            f"record {pc.index(pc.is_null(hashes), True).as_py()} has a pHash but no colour hash"
        )
    lengths = pc.binary_length(hashes).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != 2 * GRID_BYTES).any():
        raise ValueError(
            f"record {int(np.argmax(lengths != 2 * GRID_BYTES))} has a colour hash of another size"
        )
    offsets = np.frombuffer(hashes.buffers()[1], np.int32)[hashes.offset : hashes.offset + len(hashes) + 1]
    data = hashes.buffers()[2]
    digits = np.frombuffer(data, np.uint8)[offsets[0] : offsets[-1]] if len(hashes) else np.zeros(0, np.uint8)
    nibbles = _HEX[digits].reshape(len(hashes), 2 * GRID_BYTES)
    if (nibbles == 255).any():
        raise ValueError(
            f"record {int(np.argmax((nibbles == 255).any(axis=1)))} has a colour hash that is not hex"
        )
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]


def _alive_batches(work_dir: Path, severity: np.ndarray, grids: GridStore) -> Iterator[pa.Table]:
    """The ingested records dedup judges, a batch at a time, their colour grids stored in `grids`."""
    start = 0
    for batch in iter_ingest_tables(work_dir, _COLUMNS):
        sev = severity[start : start + len(batch)]
        start += len(batch)
        live = (sev < Decision.DROP.severity) & pc.is_valid(batch.column("phash")).to_numpy(
            zero_copy_only=False
        )
        alive = batch.filter(pa.array(live))
        colors = grids_from_hex(alive.column("color_hash").combine_chunks())
        grids.append(colors)
        size = [alive.column(c).cast(pa.int64()) for c in ("width", "height")]
        columns = {c: alive.column(c) for c in ("record_id", "content_sha256", "path", "phash")}
        columns |= {"dhash": grid_dhash_int64(colors), "pixels": pc.multiply(*size), "severity": sev[live]}
        yield pa.table(columns).cast(_ALIVE)


def read_dedup_inputs(work_dir: Path) -> DedupInputs:
    """The records still alive (not dropped before dedup, with a pHash), in preference order.

    The preference: not quarantined first (its licence and provenance are in order), then the larger
    image, then the smaller record id. The caller closes `inputs.grids`.
    """
    record_ids = read_columns(work_dir, ["record_id"]).column("record_id").combine_chunks()
    severity = earlier_severity(work_dir, record_ids)
    grids = GridStore(Path(work_dir))
    try:
        alive = pa.concat_tables([_ALIVE.empty_table(), *_alive_batches(work_dir, severity, grids)])
    except BaseException:
        grids.close()
        raise
    alive = alive.append_column("grid_row", pa.array(np.arange(len(alive), dtype=np.int64)))
    alive = alive.sort_by([("severity", "ascending"), ("pixels", "descending"), ("record_id", "ascending")])
    return DedupInputs(
        *(alive.column(c).combine_chunks() for c in ("record_id", "content_sha256", "path")),
        *(alive.column(c).to_numpy() for c in ("phash", "dhash", "grid_row")),
        grids,
        len(record_ids),
    )
