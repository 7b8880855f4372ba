"""How often the invisible watermark is read back on 32 px emoji, by upscale size, headroom and strength.

Why `audits.provenance_marks` upscales to 512 px and squeezes pixels into [16, 239]: run
`python benchmarks/audits_watermark.py` (about a minute on 2 cores); writes
benchmarks/results/audits_watermark.json.
"""

import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from imwatermark import WatermarkDecoder, WatermarkEncoder
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.governed_data import load_image
from tests.audits.emoji_governed import ASSETS
from training.output_marks import MIN_BIT_ACCURACY, watermark_tag

SETTINGS = [(256, 0, 36), (256, 16, 36), (256, 16, 64), (512, 0, 36), (512, 16, 36), (512, 16, 64)]


def _read(img: Image.Image, tag: list[int], scale: int) -> bool:
    decoder = WatermarkDecoder("bits", len(tag))
    bits = decoder.decode(
        np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1]),
        "dwtDctSvd",
        scales=[0, scale, scale],
    )
    return float(np.mean(np.array(bits) == np.array(tag))) >= MIN_BIT_ACCURACY


def run(files: list[Path], side: int, headroom: int, scale: int) -> dict:
    found = {"none": 0, "jpeg_q75": 0, "resize_0.75": 0}
    psnr = []
    start = time.perf_counter()
    for k, f in enumerate(files):
        pixels = load_image(f, 32).astype(np.float64) * (1 - 2 * headroom / 255) + headroom
        img = Image.fromarray(np.round(pixels).astype(np.uint8)).resize(
            (side, side), Image.Resampling.NEAREST
        )
        tag = watermark_tag(f"run-{k}")
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", tag)
        marked = encoder.encode(
            np.ascontiguousarray(np.asarray(img)[:, :, ::-1]), "dwtDctSvd", scales=[0, scale, scale]
        )
        marked_img = Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1]))
        buf = io.BytesIO()
        marked_img.save(buf, format="JPEG", quality=75)
        small = marked_img.resize((side * 3 // 4,) * 2, Image.Resampling.BICUBIC)
        attacked = {
            "none": marked_img,
            "jpeg_q75": Image.open(buf),
            "resize_0.75": small.resize((side, side), Image.Resampling.BICUBIC),
        }
        for name, image in attacked.items():
            found[name] += _read(image, tag, scale)
        mse = np.mean((np.asarray(marked_img, dtype=float) - np.asarray(img, dtype=float)) ** 2)
        psnr.append(10 * np.log10(255**2 / max(mse, 1e-9)))
    n = len(files)
    return {
        "side": side,
        "headroom": headroom,
        "scale": scale,
        "images": n,
        **{f"read_{a}": v / n for a, v in found.items()},
        "psnr_db_median": float(np.median(psnr)),
        "seconds_per_image": (time.perf_counter() - start) / n,
    }


def main() -> None:
    files = sorted(ASSETS.glob("*.png"))[::120][:32]
    results = [run(files, *s) for s in SETTINGS]
    out = Path(__file__).parent / "results" / "audits_watermark.json"
    out.write_text(
        json.dumps({"machine": platform.processor() or platform.machine(), "results": results}, indent=2)
    )
    for r in results:
        print(r)


if __name__ == "__main__":
    main()
