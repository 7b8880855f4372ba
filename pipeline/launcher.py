"""Training on several processes or GPUs from `pipeline run`: `accelerate launch` of `training.launch`.

With `run.train_processes: 1` (the default) the pipeline calls `training.api.train` in-process. With
N > 1 it starts `accelerate launch --num_processes N -m training.launch` and waits for it, showing the
budget as progress and forwarding the metrics the main process streams to MLflow as they arrive. The training code is
the same either way: that is the point.
"""

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from training.config import TrainingConfig
from training.report import TrainingReport


def accelerate_prefix(processes: int, gpus: bool) -> list[str]:
    """`accelerate launch` with its settings for `processes` processes on one machine, before the module."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    # --multi_gpu also serves CPUs: without CUDA accelerate forms a gloo process group.
    cmd += ["--multi_gpu"]
    return cmd + (["--gpu_ids", "all"] if gpus else [])


def launch_command(
    processes: int,
    config_json: Path,
    governed: Path,
    out_dir: Path,
    deadline: float,
    seed: int,
    resume: bool,
    report: Path,
    metrics: Path,
    gpus: bool,
) -> list[str]:
    """The `accelerate launch` command line for one training stage."""
    return [
        *accelerate_prefix(processes, gpus),
        "-m",
        "training.launch",
        "--config",
        str(config_json),
        "--governed",
        str(governed),
        "--out",
        str(out_dir),
        "--deadline",
        repr(deadline),
        "--seed",
        str(seed),
        "--report",
        str(report),
        "--metrics",
        str(metrics),
        *(["--resume"] if resume else []),
    ]


def train_distributed(
    cfg: TrainingConfig,
    processes: int,
    governed: Path,
    out_dir: Path,
    deadline: float,
    seed: int,
    resume: bool,
    log: Callable[[dict[str, float], int | None], None],
    progress: Callable[[str, int, int | None], None],
    run_id: str = "",
    model_name: str = "",
) -> TrainingReport:
    """Run the training stage under `accelerate launch`; raises with the launcher's output on failure."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    config_json, report, metrics = (
        out_dir / "launch-config.json",
        out_dir / "report.json",
        out_dir / "metrics.jsonl",
    )
    config_json.write_text(cfg.model_dump_json(), encoding="utf-8")
    report.unlink(missing_ok=True)
    metrics.unlink(missing_ok=True)
    gpus = torch.cuda.is_available() and torch.cuda.device_count() >= processes
    cmd = launch_command(
        processes, config_json, governed, out_dir, deadline, seed, resume, report, metrics, gpus
    )
    cmd += ["--run-id", run_id, "--model-name", model_name]  # saved with the model for its outputs' marks
    log_path = out_dir / "launch.log"
    start, total = time.time(), max(1, round(deadline - time.time()))
    forwarded = 0  # bytes of metrics.jsonl already passed on
    with log_path.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            forwarded = _forward_metrics(metrics, forwarded, log)
            progress(f"train ({processes} processes, s)", min(total, round(time.time() - start)), total)
            time.sleep(1)
    if proc.returncode != 0 or not report.is_file():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"accelerate launch exited {proc.returncode}; last output ({log_path}):\n{tail}")
    _forward_metrics(metrics, forwarded, log)
    return TrainingReport.model_validate_json(report.read_text())


def _forward_metrics(path: Path, offset: int, log: Callable[[dict[str, float], int | None], None]) -> int:
    """Pass on the complete lines appended to `path` since `offset`; returns the new offset."""
    if not path.is_file():
        return offset
    with path.open("rb") as fh:
        fh.seek(offset)
        chunk = fh.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is read on the next call
    for line in complete.decode("utf-8").splitlines():
        row = json.loads(line)
        step = row.pop("step", None)
        log({k: v for k, v in row.items() if isinstance(v, int | float)}, step)
    return offset + len(complete)
