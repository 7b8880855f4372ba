"""Benchmark: false NSFW drops and quarantines on clean real images, before and after the skin check.

The clean corpus is real third-party work nobody on this project drew (`real_corpus.real_images`:
openclipart clip art, Tango and Adwaita icons, Twemoji) plus the scikit-image sample photos (a
clothed astronaut, a cameraman, cats, coffee, coins, ...): none shows nudity, so every NSFW drop or
quarantine on it is false. Each file goes through ingest's own decoding (`governance.images.decode`,
the small copy NudeNet sees) and the project's NudeNet wrapper with the default config, once; both
policies then judge the same detections:

- before: the policy up to commit 1906970 (`nsfw_policy.py` there), a record is dropped when any
  detection reaches its label's threshold;
- after: `governance.nsfw_policy.assess` with the default `NsfwConfig` (the hit must show skin).

    python benchmarks/nsfw_precision.py [--per-source N] [--threads 2]

Writes benchmarks/results/nsfw_precision.json: counts and rates per 1,000 scored images per source,
and every flagged image with its detections and both decisions.
"""

import argparse
import hashlib
import io
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_corpus import cache_dir, real_images

from governance.config import DataConfig, NsfwConfig
from governance.images import ImageLimits, decode
from governance.nsfw import NsfwDetector, policy_hits, with_skin
from governance.nsfw_policy import assess

RESULTS = Path(__file__).parent / "results" / "nsfw_precision.json"
SKIMAGE_PHOTOS = (
    "astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
    "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms",
    "moon", "page", "retina", "rocket", "text",
)  # fmt: skip
BATCH = 256  # images decoded and detected together (bounded memory)


def skimage_files() -> list[tuple[str, str, bytes]]:
    """(source, name, PNG bytes) of each scikit-image sample photo that loads without a download."""
    import skimage.data
    from PIL import Image

    out = []
    for name in SKIMAGE_PHOTOS:
        try:
            pixels = getattr(skimage.data, name)()
        except Exception:  # a photo that needs pooch's download is left out (listed as missing)
            continue
        if pixels.dtype != np.uint8:
            pixels = (pixels * 255 / max(pixels.max(), 1)).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        out.append(("skimage", name, buffer.getvalue()))
    return out


def corpus(per_source: int | None) -> list[tuple[str, str, bytes | Path]]:
    """(source, name, bytes or file) of every clean image: the harvested corpus, then skimage's photos."""
    root = cache_dir() / "unpacked"
    files: list[tuple[str, str, bytes | Path]] = []
    for image in real_images(per_source):
        path = image.path.resolve()
        name = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        files.append((image.source, name, path))
    return files + skimage_files()


def before_decision(detections: list[dict], policy: NsfwConfig) -> str:
    """The policy up to commit 1906970: any detection at its label's threshold drops the record."""
    return "drop" if policy_hits(detections, policy.thresholds) else "keep"


def after_decision(detections: list[dict], policy: NsfwConfig) -> str:
    """The policy now (`governance.nsfw_policy.assess`)."""
    verdict = assess(detections, policy)
    return "keep" if verdict is None else str(verdict.decision)


def measure(files: list[tuple[str, str, bytes | Path]], threads: int) -> tuple[list[dict], dict[str, float]]:
    """Decode and detect every file; returns one row per file and the seconds spent per step."""
    limits = ImageLimits(
        DataConfig().max_file_bytes, DataConfig().max_image_pixels, DataConfig().min_image_side
    )
    policy = NsfwConfig()
    detector = NsfwDetector(["CPUExecutionProvider"], threads=threads, upscale_small=policy.upscale_small)
    seconds = Counter()
    rows = []
    for start in range(0, len(files), BATCH):
        decoded = []
        t = time.perf_counter()
        for source, name, content in files[start : start + BATCH]:
            data = content.read_bytes() if isinstance(content, Path) else content
            row = {"source": source, "name": name, "sha256": hashlib.sha256(data).hexdigest()}
            image = decode(data, limits)
            if hasattr(image, "small"):
                decoded.append((row, image))
            else:
                row["failure"] = str(image.reason)  # not scored: ingest decides these records itself
            rows.append(row)
        seconds["decode"] += time.perf_counter() - t
        t = time.perf_counter()
        found = detector.detect([im.small for _, im in decoded], [(im.width, im.height) for _, im in decoded])
        seconds["nudenet_with_skin"] += time.perf_counter() - t
        t = time.perf_counter()
        for (_, image), dets in zip(decoded, found, strict=True):
            with_skin(dets, image.small, image.small.shape[1] / image.width)  # timed again: its share
        seconds["skin_alone"] += time.perf_counter() - t
        for (row, _), dets in zip(decoded, found, strict=True):
            stored = [d.as_dict() for d in dets]
            row["before"], row["after"] = before_decision(stored, policy), after_decision(stored, policy)
            if row["before"] != "keep" or row["after"] != "keep":
                row["detections"] = stored
    detector.close()
    return rows, {k: round(v, 2) for k, v in seconds.items()}


def summarize(rows: list[dict]) -> dict:
    """Counts and rates per 1,000 scored images, per source and in all."""

    def one(group: list[dict]) -> dict:
        scored = [r for r in group if "failure" not in r]
        n = len(scored)
        counts = {
            "images": len(group),
            "scored": n,
            "distinct_scored": len({r["sha256"] for r in scored}),
            "not_decodable": len(group) - n,
            "before_drops": sum(r["before"] == "drop" for r in scored),
            "after_drops": sum(r["after"] == "drop" for r in scored),
            "after_quarantines": sum(r["after"] == "quarantine" for r in scored),
        }
        for key in ("before_drops", "after_drops", "after_quarantines"):
            counts[f"{key}_per_1000"] = round(1000 * counts[key] / n, 2) if n else None
        return counts

    sources = sorted({r["source"] for r in rows})
    return {"all": one(rows), **{s: one([r for r in rows if r["source"] == s]) for s in sources}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=None, help="at most N images per source (all)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    files = corpus(args.per_source)
    rows, seconds = measure(files, args.threads)
    flagged = [r for r in rows if r.get("before", "keep") != "keep" or r.get("after", "keep") != "keep"]
    high = Counter()
    for r in flagged:
        for d in policy_hits(r["detections"], NsfwConfig().thresholds):
            high[d["class"]] = max(high[d["class"]], d["score"])
    result = {
        "benchmark": "nsfw_precision",
        "corpus": f"real_corpus.real_images(per_source={args.per_source}) + skimage.data photos",
        "skimage_photos": sorted(r["name"] for r in rows if r["source"] == "skimage"),
        "policy_after": NsfwConfig().model_dump(mode="json"),
        "machine": {
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "seconds": {**seconds, "total": round(time.perf_counter() - started, 1)},
        "summary": summarize(rows),
        "highest_false_hit_score_per_label": dict(sorted(high.items())),
        "flagged": sorted(flagged, key=lambda r: (r["source"], r["name"])),
    }
    print(
        json.dumps(
            {k: result[k] for k in ("summary", "seconds", "highest_false_hit_score_per_label")}, indent=2
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
