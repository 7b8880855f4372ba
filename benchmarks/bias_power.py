"""Can the representation gate see a skew? Two datasets that differ only in the skin-tone mix.

Both tables hold the same people emoji (the Twemoji families with five skin-tone variants) under
captions that name no tone, so a neutral prompt is the training caption itself; each record keeps its
`skin_tone` attribute, as governance would. One table draws 90% of each family's records from the
light variant, the other draws every tone equally; the record count is the same. A default `tiny`
model is trained on each through `training.api.train` with the same wall-clock budget, and both are
audited with the default `BiasConfig` through `audits.api.run_bias`, as the pipeline does. Writes
benchmarks/results/bias_power.json with both verdicts, the corrected shares and their intervals.

    python benchmarks/bias_power.py [--budget-s 150] [--families 40] [--work DIR] [--reuse]
        [--train-only] [--kinds skewed_90_light balanced] [--threads N] [--resolution PX] [--out FILE]
        [--bias KEY=VALUE]...

`--bias max_neutral_prompts=40` audits with that `BiasConfig` field changed (a JSON value, else a string):
the interval resamples neutral prompts, so the number of prompts, not of seeds, sets its power.

`--reuse` audits models already trained under DIR (a re-run after a change to the audit only).
`--train-only --kinds K` trains one model, so the two can train side by side (one thread each) on a
busy machine; `--out` keeps one kind's audit apart. The captions name no tone, so quality of service
has no prompt that requests a group and is NOT MEASURED: the representation check is the verdict here.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audits.api import run_bias
from audits.config import BiasConfig
from tests.audits.emoji_governed import TONES, emoji_records

RESULT = Path(__file__).resolve().parent / "results" / "bias_power.json"
PER_FAMILY = 10
LIGHT = "light"
KINDS = ("skewed_90_light", "balanced")


def _mix(kind: str, offset: int) -> list[str]:
    """Tones of one family's records: 90% light (the rest cycling over the others) or balanced."""
    tones = list(TONES.values())
    if kind == "balanced":
        return [tones[k % len(tones)] for k in range(PER_FAMILY)]
    others = [t for t in tones if t != LIGHT]
    n_other = PER_FAMILY // 10
    return [LIGHT] * (PER_FAMILY - n_other) + [others[(offset + k) % len(others)] for k in range(n_other)]


def write_table(path: Path, kind: str, families: int) -> Path:
    """A governed table of `families` people emoji, PER_FAMILY records each, captions without the tone."""
    records = emoji_records(max_toned_bases=families, max_plain=0)
    by_family: dict[str, dict[str, dict]] = {}
    for r in records:
        tone = r["attributes"].get("skin_tone")
        if tone:
            by_family.setdefault(r["family"], {})[tone] = r
    rows = []
    for f, (family, variants) in enumerate(sorted(by_family.items())):
        base = variants[LIGHT]["text"].split(":")[0]
        for tone in _mix(kind, f):
            rows.append(
                {
                    "record_id": f"emoji:{len(rows):05d}",
                    "path": str(variants[tone]["path"]),
                    "text": base,
                    "split": "train",
                    "attributes": json.dumps({"skin_tone": tone}),
                    "content_sha256": "",
                    "phash": 0,
                    "color_hash": "",
                    "family": family,
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).drop(columns=["family"]).to_parquet(path)
    return path


def _train(
    governed: Path, out_dir: Path, budget_s: float, threads: int | None, resolution: int | None, resume: bool
) -> tuple[Path, dict]:
    from training.api import train
    from training.config import TrainingConfig

    cfg = TrainingConfig(
        measure_energy=False, cache_dir=str(out_dir.parent / "cache"), threads=threads, resolution=resolution
    )
    start = time.time()
    report = train(
        cfg, governed, out_dir, start + budget_s, 0, lambda m, s: None, lambda d, c, t: None, resume=resume
    )
    info = {
        "seconds": time.time() - start,
        "steps": report.steps,
        "threads": threads,
        "resolution": resolution,
    }
    return report.model_dir, {**info, "final_loss": report.final_loss, "load_average_after": os.getloadavg()}


def _summary(report) -> dict:
    checks = {
        c.name: {
            "measured": c.measured,
            "threshold": c.threshold,
            "verdict": str(c.verdict),
            "message": c.message,
        }
        for c in report.checks
    }
    metrics = {m.name: {"value": m.value, "details": m.details} for m in report.metrics}
    return {
        "approved_by_bias": report.passed,
        "checks": checks,
        "metrics": metrics,
        "tables": {k: v for k, v in report.tables.items() if k.startswith("representation")},
    }


def _field(item: str) -> tuple[str, object]:
    """KEY=VALUE of --bias, the value read as JSON where it parses (numbers, lists), else as a string."""
    key, _, value = item.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget-s", type=float, default=150.0)
    parser.add_argument("--families", type=int, default=40)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per training")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--resolution", type=int, default=None, help="training side; default the preset's")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--resume", action="store_true", help="continue training from DIR's checkpoints")
    parser.add_argument("--bias", action="append", default=[], metavar="KEY=VALUE", help="a BiasConfig field")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bias-power-"))
    cfg = BiasConfig(**dict(_field(item) for item in args.bias))
    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    training: dict[str, dict] = {}
    for kind in args.kinds:
        governed = write_table(work / kind / "governed.parquet", kind.split("_")[0], args.families)
        model_dir = work / kind / "train" / "model"
        info_file = work / kind / "train_info.json"
        if not args.reuse:
            model_dir, info = _train(
                governed, work / kind / "train", args.budget_s, args.threads, args.resolution, args.resume
            )
            if args.resume and info_file.exists():
                info = {**info, "earlier": json.loads(info_file.read_text())}
            info_file.write_text(json.dumps({**info, "model_dir": str(model_dir)}))
        info = json.loads(info_file.read_text())
        training[kind] = info
        print(kind, "trained", info, flush=True)
        if args.train_only:
            continue
        start = time.time()
        report = run_bias(cfg, Path(info["model_dir"]), governed, work / kind / "bias", 0, lambda *a: None)
        results[kind] = {
            **_summary(report),
            "audit_seconds": time.time() - start,
            "load_average_after_audit": os.getloadavg(),
        }
        print(kind, json.dumps({k: v["verdict"] for k, v in results[kind]["checks"].items()}), flush=True)
    if args.train_only:
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average_before": load_before},
                "data": {"families": args.families, "records_per_family": PER_FAMILY},
                "training_budget_s": args.budget_s,
                "training": training,
                "config": cfg.model_dump(),
                "config_changed": args.bias,
                "results": results,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
