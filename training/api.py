"""What the pipeline and the audits call in `training`."""

import time
from collections.abc import Callable
from pathlib import Path

from governance.progress import ProgressFn
from training.config import TrainingConfig
from training.report import TrainingReport

LogFn = Callable[[dict[str, float], int | None], None]


def train(
    cfg: TrainingConfig,
    governed_path: Path,
    out_dir: Path,
    deadline: float,
    seed: int,
    log: LogFn,
    progress: ProgressFn,
    resume: bool = False,
    run_id: str = "",
    model_name: str = "",
) -> TrainingReport:
    """Train on the `train` split of the governed table until `deadline` (a `time.time()` value).

    Writes checkpoints under `out_dir/checkpoints/` and the final diffusers pipeline under
    `out_dir/model/`. With `resume=True` it continues from the newest complete checkpoint.
    Under `accelerate launch` every process calls this; only the main process writes the model,
    and every process returns the same report. `run_id` and `model_name` are saved with the model: the
    saved pipeline's `save_image` marks and signs for them.
    """
    start = time.time()  # first: even importing torch and diffusers counts against the budget
    from training import checkpoint as ckpt
    from training.compute import EnergyMeter
    from training.finalize import finalize, measure_flops
    from training.loop import run_loop
    from training.session import build_session

    if deadline <= start:
        raise ValueError(
            f"training deadline {deadline} is already past (now {start}): give the run a larger budget"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    import torch

    threads_before = torch.get_num_threads()
    energy = EnergyMeter(cfg.country_iso_code, enabled=cfg.measure_energy)
    try:
        s = build_session(cfg, Path(governed_path), out_dir, deadline, seed, progress, start)
        latest = ckpt.latest_checkpoint(s.checkpoints) if resume else None
        if latest is not None:
            s.resume_from(latest)
        s.probe_grid_time()  # sizes the time held back for the final sample grid
        s.probe_save_time()  # and for the last checkpoint and the model directory
        flops = measure_flops(s)
        s.warm_up_compiled()
        s.last_checkpoint = time.time()  # the checkpoint timer starts with the loop
        stopped = run_loop(s, log, progress)
        if s.resumed_from_step != s.step or latest is None:
            s.save_checkpoint(
                grid=False
            )  # the last state, so a later --resume (or a larger budget) continues
        s.ema.gather()  # collective when sharded: the main process exports the full EMA weights
        s.accelerator.wait_for_everyone()
        main = s.accelerator.is_main_process
        report = finalize(s, stopped, energy.stop(), flops, run_id, model_name) if main else None
        report = _share(s, report)
        s.accelerator.wait_for_everyone()
    finally:
        energy.stop()  # no-op when already stopped; a failed run must not leave the tracker's thread running
        torch.set_num_threads(threads_before)  # the tuned count was for this stage only
    progress("train (s)", round(s.budget.total_s), round(s.budget.total_s))
    return report


def _share(s, report: TrainingReport | None) -> TrainingReport:
    """The main process's report, on every process."""
    if s.accelerator.num_processes == 1:
        return report
    import torch
    from accelerate.utils import broadcast

    # JSON bytes in a tensor rather than broadcast_object_list, which pickles
    data = report.model_dump_json().encode() if report is not None else b""
    size = broadcast(torch.tensor([len(data)], device=s.device), from_process=0)
    buf = torch.zeros(int(size[0]), dtype=torch.uint8, device=s.device)
    if data:
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(s.device)
    buf = broadcast(buf, from_process=0)
    return TrainingReport.model_validate_json(bytes(buf.cpu().tolist()))


def load_pipeline(model_dir: Path, device: str = "cpu"):
    """Load a saved model directory as the project's diffusers pipeline (no remote code, no pickle)."""
    from training.export import load_model_dir

    return load_model_dir(Path(model_dir), device)


def denoising_losses(
    model_dir: Path, governed_path: Path, split: str, seed: int, max_images: int = 256
) -> dict[str, float]:
    """The held-out loss (`model`) and, on the same batch and noise, the losses of two predictors that
    ignore their input (`zero_velocity`, `mean_image`): the baselines a trained model must beat."""
    from training.evaluate import held_out_losses

    return held_out_losses(Path(model_dir), Path(governed_path), split, seed, max_images)
