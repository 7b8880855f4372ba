"""Wall-clock of the three audits with their default configs on the full built-in emoji data.

Trains a default `tiny` model (32 px) for `--train-seconds` unless `--model-dir` is given, then runs
`run_quality`, `run_bias` and `run_deepfake` exactly as the pipeline does. The target (issue 5): all three
within 180 s on 2 CPU cores. Writes benchmarks/results/audits_speed.json, with the load average, because
a shared machine's other work shows in every number.

    python benchmarks/audits_speed.py [--model-dir DIR] [--train-seconds 120]
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.api import run_bias, run_deepfake, run_quality
from audits.config import AuditsConfig
from tests.audits.emoji_governed import write_governed


def _train(governed: Path, out_dir: Path, seconds: float) -> Path:
    from training.api import train
    from training.config import TrainingConfig

    cfg = TrainingConfig(measure_energy=False, cache_dir=str(out_dir / "cache"))
    report = train(cfg, governed, out_dir, time.time() + seconds, 0, lambda m, s: None, lambda d, c, t: None)
    return report.model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--train-seconds", type=float, default=120.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audits-speed-"))
    governed = write_governed(work / "governed.parquet", eval_share=0.05)
    model_dir = args.model_dir or _train(governed, work / "train", args.train_seconds)
    cfg = AuditsConfig()
    load_before = os.getloadavg()
    seconds, verdicts = {}, {}
    for name, fn in (
        (
            "quality",
            lambda: run_quality(cfg.quality, model_dir, governed, work / "quality", 0, lambda *a: None),
        ),
        ("bias", lambda: run_bias(cfg.bias, model_dir, governed, work / "bias", 0, lambda *a: None)),
        (
            "deepfake",
            lambda: run_deepfake(
                cfg.deepfake, model_dir, governed, work / "deepfake", 0, lambda *a: None, run_id="bench"
            ),
        ),
    ):
        start = time.perf_counter()
        report = fn()
        seconds[name] = round(time.perf_counter() - start, 1)
        verdicts[name] = {
            c.name: {"measured": c.measured, "threshold": c.threshold, "passed": c.passed}
            for c in report.checks
        }
        print(name, seconds[name], "s", verdicts[name])
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "model_dir": str(model_dir),
        "trained_seconds": None if args.model_dir else args.train_seconds,
        "seconds": seconds,
        "total_seconds": round(sum(seconds.values()), 1),
        "target_seconds": 180,
        "checks": verdicts,
    }
    out = Path(__file__).parent / "results" / "audits_speed.json"
    out.write_text(json.dumps(result, indent=2))
    print("total", result["total_seconds"], "s ->", out)


if __name__ == "__main__":
    main()
