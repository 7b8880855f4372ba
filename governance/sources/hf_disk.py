"""A dataset saved with `datasets.Dataset.save_to_disk`, read 256 rows at a time (Arrow memory-maps
the files, so only the batch being handed on is in Python objects)."""

from collections.abc import Iterator
from pathlib import Path

from governance.config import DataConfig
from governance.decisions import Finding
from governance.errors import DatasetError
from governance.metadata import record_from_row
from governance.paths import resolve_inside
from governance.reasons import Decision, Reason
from governance.records import SourceRecord
from governance.sources.opened import Opened

BATCH = 256


def open_hf_disk(cfg: DataConfig, root: Path) -> Opened:
    """Records of a saved dataset, a batch at a time; images come from its Image column (bytes, or
    paths inside `root`). Also the source name and the files it is saved in."""
    import datasets

    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; check data.path / --data")
    try:
        loaded = datasets.load_from_disk(str(root))
    except FileNotFoundError as exc:
        raise DatasetError(
            f"{root} is not a dataset saved with save_to_disk ({exc}); use source imagefolder"
        ) from exc
    if isinstance(loaded, datasets.DatasetDict):
        if "train" in loaded:
            loaded = loaded["train"]
        elif len(loaded) == 1:
            loaded = next(iter(loaded.values()))
        else:
            raise DatasetError(f"{root} holds splits {list(loaded)}; save the one to govern on its own")
    image_cols = [n for n, f in loaded.features.items() if isinstance(f, datasets.Image)]
    if image_cols:
        loaded = loaded.cast_column(image_cols[0], datasets.Image(decode=False))
    elif cfg.fields.file_name not in loaded.column_names:
        raise DatasetError(
            f"{root} has no Image column and no {cfg.fields.file_name!r} column; set data.fields.file_name"
        )
    n = len(loaded) if cfg.limit is None else min(cfg.limit, len(loaded))
    source = f"hf_disk:{root.resolve()}"
    width = max(5, len(str(max(n - 1, 0))))
    image_col = image_cols[0] if image_cols else None

    def batches() -> Iterator[list[SourceRecord]]:
        for start in range(0, n, BATCH):
            rows = loaded[start : min(n, start + BATCH)]
            names = list(rows)
            yield [
                _record(cfg, root, source, dict(zip(names, values, strict=True)), start + j, width, image_col)
                for j, values in enumerate(zip(*(rows[c] for c in names), strict=True))
            ]

    files = sorted(p for p in root.rglob("*") if p.is_file())
    return batches, source, files, n


def _record(
    cfg: DataConfig, root: Path, source: str, row: dict, i: int, width: int, image_col: str | None
) -> SourceRecord:
    rid = f"hf_disk:{i:0{width}d}"
    if image_col is None:
        return record_from_row(row, i, rid, source, root, cfg)
    image = row.pop(image_col) or {}
    row.setdefault(cfg.fields.file_name, image.get("path"))
    rec = record_from_row(row, i, rid, source, None, cfg)
    if image.get("bytes"):
        rec.data = image["bytes"]
    elif image.get("path"):
        path, reason, detail = resolve_inside(root, image["path"])
        if reason is None:
            rec.path = str(path)
        else:
            rec.findings.append(Finding(rid, "file", Decision.DROP, reason, {"problem": detail}))
    else:
        rec.findings.append(Finding(rid, "file", Decision.DROP, Reason.FILE_MISSING, {"problem": "no image"}))
    return rec
