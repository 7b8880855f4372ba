"""Benchmark: governance on the built-in emoji dataset vs the bare sum of its kernels on the same images.

The kernels are what governance cannot avoid: read + decode each image to its small copy, the pHash,
the colour hash and NudeNet inference (batched, same session settings), timed one after another in one
process. Governance is the real stages (ingest, provenance, dedup, nsfw, finalize) with the default
config. Target (issue 3): governance <= 1.2x the kernel sum. Kernels and governance are timed
alternately, `--repeats` times each, and the ratio uses the fastest of each (other work on a shared
machine slows single runs by up to 2x); every run is in the JSON.

    python benchmarks/governance_throughput.py [--limit N] [--repeats 2]

Writes benchmarks/results/governance_throughput.json.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from governance import stages
from governance.color import color_hash
from governance.config import DataConfig, GovernanceConfig
from governance.images import ImageLimits, decode
from governance.nsfw import NsfwDetector
from governance.perceptual_hash import phash_int64
from governance.sources.emoji import load_emoji

RESULTS = Path(__file__).parent / "results" / "governance_throughput.json"


def kernel_seconds(paths: list[str], cfg: GovernanceConfig) -> dict[str, float]:
    """Each kernel alone over all images, in one process."""
    limits = ImageLimits(cfg.data.max_file_bytes, cfg.data.max_image_pixels, cfg.data.min_image_side)
    t = time.perf_counter()
    smalls = []
    for p in paths:
        with open(p, "rb") as handle:
            smalls.append(decode(handle.read(), limits).small)
    out = {"read_and_decode": time.perf_counter() - t}
    t = time.perf_counter()
    for s in smalls:
        phash_int64(s)
    out["phash"] = time.perf_counter() - t
    t = time.perf_counter()
    for s in smalls:
        color_hash(s)
    out["color_hash"] = time.perf_counter() - t
    detector = NsfwDetector(
        cfg.nsfw.providers, upscale_small=cfg.nsfw.upscale_small, batch_size=cfg.nsfw.batch_size
    )
    detector.detect(smalls[:1])  # session warm-up is not per-image work
    t = time.perf_counter()
    detector.detect(smalls)  # all at once: its batches spread over the cores as fast as it can
    out["nsfw_inference"] = time.perf_counter() - t
    detector.close()
    out["sum"] = sum(out.values())
    return {k: round(v, 3) for k, v in out.items()}


def governance_seconds(cfg: GovernanceConfig) -> dict[str, float]:
    """The real stages, timed one by one, in a fresh work folder."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("ingest", "provenance", "dedup", "nsfw"):
            t = time.perf_counter()
            getattr(stages, name)(cfg, work, lambda *_: None)
            out[name] = time.perf_counter() - t
        t = time.perf_counter()
        report = stages.finalize(cfg, work, seed=0)
        out["finalize"] = time.perf_counter() - t
    out["total"] = sum(out.values())
    rounded = {k: round(v, 3) for k, v in out.items()}
    rounded["kept"] = report.decisions["keep"]
    rounded["dropped"] = report.decisions["drop"]
    rounded["quarantined"] = report.decisions["quarantine"]
    return rounded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cfg = GovernanceConfig(data=DataConfig(limit=args.limit))
    records, _ = load_emoji(args.limit)
    paths = [r.path for r in records]
    kernel_runs, governance_runs = [], []
    for _ in range(args.repeats):
        kernel_runs.append(kernel_seconds(paths, cfg))
        governance_runs.append(governance_seconds(cfg))
    kernels = min(kernel_runs, key=lambda r: r["sum"])
    governance = min(governance_runs, key=lambda r: r["total"])
    result = {
        "benchmark": "governance_throughput",
        "dataset": "emoji (built in)",
        "records": len(paths),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "load_average_at_end": os.getloadavg(),
        "kernel_runs": kernel_runs,
        "governance_runs": governance_runs,
        "kernels_fastest": kernels,
        "governance_fastest": governance,
        "records_per_second": round(len(paths) / governance["total"], 1),
        "ratio_governance_to_kernel_sum": round(governance["total"] / kernels["sum"], 3),
        "ratio_ingest_to_kernel_sum": round(governance["ingest"] / kernels["sum"], 3),
        "target_ratio": 1.2,
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
