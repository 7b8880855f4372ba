"""Can the quality gates fail? Their relative measures for models that must not be approved.

Trains the default `tiny` model (32 px, the default training config) on the full built-in emoji data
for a few step counts (1 step: untrained; 20: "a handful"; more if asked), and audits each with the
default `QualityConfig` through `audits.api.run_quality`, exactly as the pipeline does: held-out loss
against the predictors that ignore their input, FD against the real-vs-real FD, alignment against
chance. Two generators with known answers frame them: uniform noise (a model that outputs noise) and
the held-out images themselves (a perfect model). Writes benchmarks/results/audits_gate_baselines.json.

    python benchmarks/audits_gate_baselines.py [--steps 1 20 100]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.api import run_quality
from audits.config import QualityConfig
from audits.governed_data import load_images, read_governed, train_and_eval
from audits.quality import audit_quality
from tests.audits.emoji_governed import write_governed

RESULT = Path(__file__).resolve().parent / "results" / "audits_gate_baselines.json"


def _train(governed: Path, out_dir: Path, steps: int) -> Path:
    from training.api import train
    from training.config import TrainingConfig

    cfg = TrainingConfig(measure_energy=False, max_steps=steps, cache_dir=str(out_dir.parent / "cache"))
    report = train(cfg, governed, out_dir, time.time() + 3600, 0, lambda m, s: None, lambda d, c, t: None)
    return report.model_dir


def _summary(report) -> dict:
    return {
        "approved_by_quality": report.passed,
        "checks": {
            c.name: {"measured": c.measured, "threshold": c.threshold, "verdict": str(c.verdict)}
            for c in report.checks
        },
        "metrics": {m.name: m.value for m in report.metrics},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 20])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audits-gates-"))
    governed = write_governed(work / "governed.parquet", eval_share=0.05)
    cfg = QualityConfig()
    results: dict[str, dict] = {}
    load_before = os.getloadavg()
    for steps in args.steps:
        model_dir = _train(governed, work / f"train-{steps}", steps)
        report = run_quality(cfg, model_dir, governed, work / f"quality-{steps}", 0, lambda *a: None)
        results[f"trained_{steps}_steps"] = _summary(report)
        print(steps, json.dumps(results[f"trained_{steps}_steps"]["checks"]), flush=True)

    train, held_out = train_and_eval(read_governed(governed))
    train_images, held_images = load_images(train, 32), load_images(held_out, 32)
    by_text = dict(zip(held_out.texts, held_images, strict=True))

    def noise(prompts, seeds):
        rng = np.random.default_rng(seeds[0] if seeds else 0)
        return rng.integers(0, 256, (len(prompts), 32, 32, 3), dtype=np.uint8)

    def perfect(prompts, seeds):
        return np.stack([by_text[p] for p in prompts])

    for name, generate in (("noise_output", noise), ("perfect_heldout_images", perfect)):
        report = audit_quality(
            cfg, generate, train, train_images, held_out, held_images, None, work / name, 0, lambda *a: None
        )
        results[name] = _summary(report)
        print(name, json.dumps(results[name]["checks"]), flush=True)

    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average_before": load_before},
                "data": {"train": len(train), "held_out": len(held_out)},
                "config": cfg.model_dump(),
                "results": results,
            },
            indent=1,
        )
    )
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
