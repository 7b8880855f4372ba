"""Charts and files the card shows, copied next to README.md so every link is relative."""

import re
import shutil
from pathlib import Path

from pydantic import BaseModel

ASSETS_DIR = "assets"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"})


class Asset(BaseModel):
    """One file the card links to."""

    group: str  # "governance", "training", "samples", "quality", "bias", "deepfake", ...
    title: str  # alt text / caption, from the file name
    source: Path  # where the report said it is
    rel_path: str | None  # relative to the card folder; None when the file is missing
    is_image: bool

    @property
    def missing(self) -> bool:
        return self.rel_path is None


def _title(path: Path) -> str:
    return re.sub(r"[_\-]+", " ", path.stem).strip() or path.name


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "file"


class AssetCopier:
    """Copies report files into `out_dir/assets/` under unique, safe names, once each."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.assets: list[Asset] = []
        self._by_source: dict[Path, Asset] = {}
        self._names: set[str] = set()

    def add(self, group: str, source: Path) -> Asset:
        """Copy `source` (if it exists) and return how the card refers to it."""
        source = Path(source)
        key = source.resolve() if source.exists() else source
        if key in self._by_source:
            return self._by_source[key]
        is_image = source.suffix.lower() in IMAGE_SUFFIXES
        rel_path = None
        if source.is_file():
            name = _safe_name(f"{group}-{source.name}")
            stem, suffix = Path(name).stem, Path(name).suffix
            n = 2
            while name in self._names:
                name, n = f"{stem}-{n}{suffix}", n + 1
            self._names.add(name)
            target = self.out_dir / ASSETS_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            rel_path = f"{ASSETS_DIR}/{name}"
        asset = Asset(group=group, title=_title(source), source=source, rel_path=rel_path, is_image=is_image)
        self._by_source[key] = asset
        self.assets.append(asset)
        return asset

    def add_all(self, group: str, sources: list[Path]) -> list[Asset]:
        """Copy each source; a file a report lists twice is shown once."""
        return list({id(a): a for a in (self.add(group, s) for s in sources)}.values())

    def copy_file(self, source: Path | None, name: str | None = None) -> str | None:
        """Copy a non-chart file (attribution list, datasheet) to the card's top folder; its relative path."""
        if source is None or not Path(source).is_file():
            return None
        target_name = _safe_name(name or Path(source).name)
        shutil.copyfile(source, self.out_dir / target_name)
        return target_name
