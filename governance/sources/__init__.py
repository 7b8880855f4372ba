"""Dataset sources: each yields SourceRecords with metadata problems already recorded as findings."""

from dataclasses import dataclass
from pathlib import Path

from governance.config import DataConfig
from governance.errors import DatasetError
from governance.metadata import mark_duplicate_file_names
from governance.records import SourceRecord


@dataclass
class LoadedSource:
    name: str
    root: Path
    records: list[SourceRecord]


def load_source(cfg: DataConfig) -> LoadedSource:
    """Read every record of the configured source (raises DatasetError when the dataset is unusable)."""
    if cfg.source == "emoji":
        from governance.sources.emoji import NAME, load_emoji

        records, root = load_emoji(cfg.limit)
        return LoadedSource(NAME, root, records)
    if cfg.path is None:
        raise DatasetError(
            f"data.source is {cfg.source!r} but data.path is not set: set data.path or pass --data DIR"
        )
    root = Path(cfg.path).expanduser()
    if cfg.source == "imagefolder":
        from governance.sources.imagefolder import load_imagefolder

        records, name = load_imagefolder(cfg, root)
    elif cfg.source == "webdataset":
        from governance.sources.webdataset import load_webdataset

        records, name = load_webdataset(cfg, root)
    elif cfg.source == "parquet":
        from governance.sources.parquet_bytes import load_parquet_bytes

        records, name = load_parquet_bytes(cfg, root)
    else:
        from governance.sources.hf_disk import load_hf_disk

        records, name = load_hf_disk(cfg, root)
    mark_duplicate_file_names(records)
    return LoadedSource(name, root.resolve(), records)
