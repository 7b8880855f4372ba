"""Dataset sources: each yields SourceRecords with metadata problems already recorded as findings.

A source is read lazily, one batch of records at a time (a tar shard, a Parquet row batch), and the
shard sources carry where each image lies rather than its bytes, so reading a dataset never holds
all of it in memory.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from governance.config import DataConfig
from governance.errors import DatasetError
from governance.metadata import mark_duplicate_file_names
from governance.records import SourceRecord
from governance.sources.opened import Batches


@dataclass
class LoadedSource:
    """A source opened but not yet read: `batches()` reads it (again) from the start."""

    name: str
    root: Path
    batches: Batches
    files: list[Path] = field(default_factory=list)  # what the records are read from (for resume)
    size: int | None = None  # the number of records, where known before reading them (progress bars)

    def iter_records(self) -> Iterator[SourceRecord]:
        """Every record in input order, read as the caller goes."""
        return chain.from_iterable(self.batches())

    @property
    def records(self) -> list[SourceRecord]:
        """Every record at once (small datasets, tests and the CLI's checks)."""
        return list(self.iter_records())


def _marked(batches: Batches) -> Batches:
    """`batches` with records naming a file an earlier record named dropped (the first one stays)."""

    def run() -> Iterator[list[SourceRecord]]:
        first: dict[str, str] = {}  # path -> the record that named it first, across batches
        for batch in batches():
            mark_duplicate_file_names(batch, first)
            yield batch

    return run


def load_source(cfg: DataConfig) -> LoadedSource:
    """Open the configured source (raises DatasetError when the dataset is unusable)."""
    if cfg.source == "emoji":
        from governance.sources.emoji import NAME, load_emoji

        records, root = load_emoji(cfg.limit)
        return LoadedSource(NAME, root, lambda: iter([records]), size=len(records))
    if cfg.path is None:
        raise DatasetError(
            f"data.source is {cfg.source!r} but data.path is not set: set data.path or pass --data DIR"
        )
    root = Path(cfg.path).expanduser()
    if cfg.source == "imagefolder":
        from governance.sources.imagefolder import open_imagefolder as opener
    elif cfg.source == "webdataset":
        from governance.sources.webdataset import open_webdataset as opener
    elif cfg.source == "parquet":
        from governance.sources.parquet_bytes import open_parquet_bytes as opener
    else:
        from governance.sources.hf_disk import open_hf_disk as opener
    batches, name, files, size = opener(cfg, root)
    if cfg.metadata is not None:
        files = [*files, cfg.metadata.path.expanduser()]
    return LoadedSource(name, root.resolve(), _marked(batches), files, size)
