"""Command-line entry for one training stage, the target of `accelerate launch` on several devices.

    accelerate launch --num_processes 2 -m training.launch --config train.json \\
        --governed work/governed.parquet --out runs/x/train --budget 2h [--resume]

Every process runs the same code; only the main process writes the model, the report and the metrics.
"""

import argparse
import json
import time
from pathlib import Path

from training.config import TrainingConfig
from training.durations import parse_duration


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.launch", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config", type=Path, help="JSON file with training config fields (default: all defaults)"
    )
    parser.add_argument(
        "--governed", type=Path, required=True, help="governed.parquet from the governance stage"
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory (checkpoints/, model/)")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--budget", help="wall-clock budget from now, e.g. 90s, 20m, 2h")
    when.add_argument(
        "--deadline", type=float, help="absolute deadline as a Unix time (resume with the same one)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    parser.add_argument("--report", type=Path, help="where to write the TrainingReport JSON (main process)")
    parser.add_argument("--metrics", type=Path, help="append streamed metrics as JSON lines (main process)")
    parser.add_argument("--run-id", default="", help="run id saved with the model (its outputs' marks)")
    parser.add_argument("--model-name", default="", help="model name saved with the model")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, train, write the report."""
    from training.api import train

    args = parse_args(argv)
    deadline = args.deadline if args.deadline is not None else time.time() + parse_duration(args.budget)
    cfg = TrainingConfig.model_validate_json(args.config.read_text()) if args.config else TrainingConfig()

    def log(metrics: dict[str, float], step: int | None) -> None:
        if args.metrics is not None:
            with args.metrics.open("a") as fh:
                fh.write(json.dumps({"step": step, **metrics}) + "\n")

    report = train(
        cfg,
        args.governed,
        args.out,
        deadline,
        args.seed,
        log,
        lambda *a: None,
        resume=args.resume,
        run_id=args.run_id,
        model_name=args.model_name,
    )
    from accelerate import PartialState

    if args.report is not None and PartialState().is_main_process:
        args.report.write_text(report.model_dump_json(indent=1))


if __name__ == "__main__":
    main()
