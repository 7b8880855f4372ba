"""What a default `pipeline run` on the built-in emoji measured: stage times, training steps, the verdicts.

Runs `pipeline run` in a new project (`--set` pairs passed on), or, with `--summarize RUN_DIR...`, reads
runs already made. Writes benchmarks/results/default_run.json (or `--out`): per run the settings, the
audits' seconds, the training steps, the bias audit's representation sample (images, prompts, the
prompt correlation, images needed) and every check's verdict, with the load average, since a shared
machine's other work shows in every number.

    python benchmarks/default_run.py [--set audits.reserve=6m ...]
    python benchmarks/default_run.py --summarize runs/<id> [--load "6-8 (uptime during the run)"]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _report(run_dir: Path, name: str) -> dict:
    path = run_dir / "reports" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def summarize(run_dir: Path) -> dict:
    """The numbers of one run folder."""
    training, bias = _report(run_dir, "training"), _report(run_dir, "bias")
    metrics = {m["name"]: m for m in bias.get("metrics", [])}
    sample = metrics.get("representation_prompt_correlation", {})
    checks = {}
    for audit in ("quality", "bias", "deepfake"):
        for c in _report(run_dir, audit).get("checks", []):
            verdict = "not measured" if c["measured"] is None else ("pass" if c["passed"] else "FAIL")
            checks[f"{audit}.{c['name']}"] = {"measured": c["measured"], "verdict": verdict}
    config = (run_dir / "config.resolved.yaml").read_text()
    return {
        "run_dir": str(run_dir),
        "reserve": next(
            (ln.split(":", 1)[1].strip() for ln in config.splitlines() if "reserve:" in ln), None
        ),
        "training_steps": training.get("steps"),
        "audit_seconds": {
            a: round(_report(run_dir, a).get("seconds", 0.0), 1) for a in ("quality", "bias", "deepfake")
        },
        "representation_sample": {
            "images_with_skin": sample.get("details", {}).get("images_with_skin"),
            "prompts_with_skin": sample.get("details", {}).get("prompts_with_skin"),
            "prompt_correlation": sample.get("value"),
            "effective_images": sample.get("details", {}).get("effective_images"),
            "images_needed": metrics.get("representation_images_needed", {}).get("value"),
        },
        "checks": checks,
    }


def run(sets: list[str]) -> Path:
    """A default run in a new project; returns its run folder."""
    project = Path(tempfile.mkdtemp(prefix="default-run-"))
    pipeline = Path(sys.executable).with_name("pipeline")
    subprocess.run([pipeline, "init"], cwd=project, check=True, capture_output=True)
    args = [a for s in sets for a in ("--set", s)]
    subprocess.run(
        [pipeline, "run", *args], cwd=project, capture_output=True, text=True
    )  # exit 4 is a verdict
    return next(project.glob("runs/*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    parser.add_argument("--summarize", nargs="+", type=Path)
    parser.add_argument("--load", help="load average observed during runs summarized afterwards")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "default_run.json")
    args = parser.parse_args()
    before = os.getloadavg()
    runs = [summarize(d) for d in args.summarize] if args.summarize else [summarize(run(args.sets))]
    machine = {"cpus": os.cpu_count()}
    if args.summarize:
        machine["load_average_observed"] = args.load
    else:
        machine |= {"load_average_before": before, "load_average_after": os.getloadavg()}
    args.out.write_text(json.dumps({"machine": machine, "runs": runs}, indent=1) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
