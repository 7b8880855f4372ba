"""A dataset saved with `datasets.Dataset.save_to_disk`."""

from pathlib import Path

from governance.config import DataConfig
from governance.decisions import Finding
from governance.errors import DatasetError
from governance.metadata import record_from_row
from governance.paths import resolve_inside
from governance.reasons import Decision, Reason
from governance.records import SourceRecord


def load_hf_disk(cfg: DataConfig, root: Path) -> tuple[list[SourceRecord], str]:
    """Records of a saved dataset; images come from its Image column (bytes, or paths inside `root`)."""
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
    records = []
    for i in range(n):
        row = dict(loaded[i])
        rid = f"hf_disk:{i:0{width}d}"
        if not image_cols:
            records.append(record_from_row(row, i, rid, source, root, cfg))
            continue
        image = row.pop(image_cols[0]) or {}
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
            rec.findings.append(
                Finding(rid, "file", Decision.DROP, Reason.FILE_MISSING, {"problem": "no image"})
            )
        records.append(rec)
    return records, source
