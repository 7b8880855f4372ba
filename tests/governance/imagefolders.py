"""Small imagefolders for the governance tests: noise PNGs, and metadata that provenance accepts."""

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from tests.governance.messy_dataset import _png_bytes, _xmp

AI_GENERATED_XMP = _xmp(
    "<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
    "trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
)


def noise_png(seed: int, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    """A 48 px PNG of 8x8 random blocks, distinct per seed (no near duplicate of another seed's)."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
        (48, 48), Image.Resampling.NEAREST
    )
    return _png_bytes(im, info)


def write_imagefolder(data: Path, files: dict[str, bytes]) -> Path:
    """`files` (name -> bytes) in `data` with a metadata.jsonl whose every record passes provenance."""
    data.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, blob in files.items():
        (data / name).write_bytes(blob)
        meta = {
            "file_name": name,
            "text": "t",
            "license": "CC0",
            "source_url": "https://x.org",
            "author": "A",
        }
        lines.append(json.dumps(meta))
    (data / "metadata.jsonl").write_text("\n".join(lines))
    return data


def ai_generated_folder(data: Path, n: int, ai: Iterable[int]) -> Path:
    """`n` noise PNGs (`{i}.png`), those numbered in `ai` declaring IPTC trainedAlgorithmicMedia in XMP."""
    ai = set(ai)
    files = {}
    for i in range(n):
        info = None
        if i in ai:
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", AI_GENERATED_XMP)
        files[f"{i}.png"] = noise_png(100 + i, info)
    return write_imagefolder(data, files)
