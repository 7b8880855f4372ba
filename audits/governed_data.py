"""Reading the governed table and its images the same way for every audit."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from governance.manifest import Col, Split

REQUIRED_COLUMNS = (Col.RECORD_ID, Col.PATH, Col.TEXT, Col.SPLIT)
RESIZE_METHOD = "RGBA composited on white, centre-cropped square, PIL box (area) resize"


@dataclass(frozen=True)
class GovernedRecords:
    """The kept records of one split (or all), in table order."""

    record_ids: list[str]
    paths: list[str]
    texts: list[str]
    splits: list[str]
    attributes: list[dict]

    def __len__(self) -> int:
        return len(self.record_ids)

    def subset(self, index: np.ndarray | list[int]) -> "GovernedRecords":
        """The records at `index`, in that order."""
        idx = [int(i) for i in index]
        return GovernedRecords(
            [self.record_ids[i] for i in idx],
            [self.paths[i] for i in idx],
            [self.texts[i] for i in idx],
            [self.splits[i] for i in idx],
            [self.attributes[i] for i in idx],
        )

    def split(self, name: str) -> "GovernedRecords":
        """Only the records of split `name` ("train" or "eval")."""
        return self.subset([i for i, s in enumerate(self.splits) if s == name])

    def attribute(self, key: str) -> list[str | None]:
        """The value of one sensitive attribute per record (None where the record has none)."""
        return [a.get(key) if isinstance(a.get(key), str) else None for a in self.attributes]


def _parse_attributes(value: object, record_id: str) -> dict:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"governed table: column 'attributes' of {record_id} is not JSON: {value!r}"
        ) from exc
    return parsed if isinstance(parsed, dict) else {}


def read_governed(governed_path: Path) -> GovernedRecords:
    """Read the governed Parquet table (kept records only) written by the governance stage.

    Only the columns the audits use are read, straight from Arrow to lists: the table also carries
    every check's evidence (hashes, licences, reasons), which a whole-table pandas read held as well.
    """
    import pyarrow.parquet as pq

    governed_path = Path(governed_path)
    if not governed_path.is_file():
        raise FileNotFoundError(f"governed table {governed_path} not found: run the governance stages first")
    present = set(pq.read_schema(governed_path).names)
    missing = [str(c) for c in REQUIRED_COLUMNS if str(c) not in present]
    if missing:
        raise ValueError(
            f"governed table {governed_path} lacks columns {missing}: regenerate it with governance"
        )
    wanted = [str(c) for c in (*REQUIRED_COLUMNS, Col.ATTRIBUTES) if str(c) in present]
    table = pq.read_table(governed_path, columns=wanted)
    n = table.num_rows

    def column(name: str) -> list:
        return table.column(name).to_pylist() if name in wanted else [None] * n

    ids = [str(r) for r in column(str(Col.RECORD_ID))]
    paths = [str(p) for p in column(str(Col.PATH))]
    texts = ["" if t is None else str(t) for t in column(str(Col.TEXT))]
    splits = [str(s) for s in column(str(Col.SPLIT))]
    attrs = [_parse_attributes(a, i) for a, i in zip(column(str(Col.ATTRIBUTES)), ids, strict=True)]
    return GovernedRecords(record_ids=ids, paths=paths, texts=texts, splits=splits, attributes=attrs)


def load_image(path: str | Path, resolution: int) -> np.ndarray:
    """One image as uint8 (resolution, resolution, 3), prepared exactly as training prepares it.

    RGBA composited on white, centre-cropped to a square, area (box) resized: the model's own view of
    its data, so distances between generated and real images measure the model, not the resizing.
    """
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(canvas, rgba).convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    rgb = rgb.crop((left, top, left + side, top + side))
    if rgb.size != (resolution, resolution):
        rgb = rgb.resize((resolution, resolution), Image.Resampling.BOX)
    return np.asarray(rgb, dtype=np.uint8)


def load_images(records: GovernedRecords, resolution: int) -> np.ndarray:
    """All images of `records` as uint8 (N, resolution, resolution, 3)."""
    if len(records) == 0:
        return np.zeros((0, resolution, resolution, 3), dtype=np.uint8)
    return np.stack([load_image(p, resolution) for p in records.paths])


def train_and_eval(records: GovernedRecords) -> tuple[GovernedRecords, GovernedRecords]:
    """The train and eval splits; raises when there is no train record (nothing was trained on).

    An empty or tiny eval split is not an error: each check that needs held-out images says it was not
    measured, with the reason and the setting to change.
    """
    train, held_out = records.split(Split.TRAIN), records.split(Split.EVAL)
    if len(train) == 0:
        raise ValueError(f"governed table has no '{Split.TRAIN}' records: the audits need a trained split")
    return train, held_out
