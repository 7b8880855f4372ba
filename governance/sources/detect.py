"""Which source a dataset folder is, from its layout alone (for `pipeline run --data DIR`)."""

from dataclasses import dataclass
from pathlib import Path

from governance.errors import DatasetError
from governance.sources.webdataset import shard_paths


@dataclass(frozen=True)
class Layout:
    """The source to read a folder with, and what in the folder said so."""

    source: str
    evidence: str


def _first(root: Path, pattern: str) -> Path | None:
    # Lazy: a folder of a million shards is not listed just to learn that it has one.
    return next((p for p in root.rglob(pattern) if p.is_file()), None)


def detect_layout(root: Path) -> Layout:
    """The layout of `root`, checked from the most specific marker to the least.

    A `save_to_disk` folder (its `state.json` or `dataset_dict.json`), then an imagefolder's
    `metadata.jsonl`/`metadata.csv`, then WebDataset `.tar` shards (img2dataset's `.parquet` sidecars
    beside them are theirs, not a dataset of their own), then Parquet files with the images inside.
    Raises DatasetError naming what was looked for when none is there.
    """
    if (root / "state.json").is_file() or (root / "dataset_dict.json").is_file():
        marker = "state.json" if (root / "state.json").is_file() else "dataset_dict.json"
        return Layout("hf_disk", f"a datasets save_to_disk folder ({marker})")
    for name in ("metadata.jsonl", "metadata.csv"):
        if (root / name).exists():
            return Layout("imagefolder", f"an imagefolder ({name})")
    if _first(root, "*.tar") is not None:
        tars = shard_paths(root)
        sidecars = sum(t.with_suffix(".parquet").is_file() for t in tars)
        return Layout(
            "webdataset", f"WebDataset tar shards ({len(tars)} .tar, {sidecars} with a sidecar .parquet)"
        )
    parquet = _first(root, "*.parquet")
    if parquet is not None:
        return Layout("parquet", f"Parquet files with image bytes ({parquet.relative_to(root)})")
    raise DatasetError(
        f"{root}: no metadata.jsonl or metadata.csv, no .tar shards, no .parquet files and no "
        "save_to_disk dataset (state.json) found; give one of these layouts or set governance.data.source"
    )
