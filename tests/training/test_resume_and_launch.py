"""Killed with SIGKILL mid-training, a resume finishes and the model loads; 2-process runs under accelerate."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pipeline.launcher import accelerate_prefix
from training.api import load_pipeline, train
from training.checkpoint import WEIGHTS_FILE, latest_checkpoint, list_checkpoints, read_state
from training.report import TrainingReport

REPO = Path(__file__).resolve().parents[2]


def _write_config(path: Path, cfg) -> Path:
    path.write_text(cfg.model_dump_json())
    return path


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_sigkill_then_resume_finishes_and_loads(governed, tiny_cfg, tmp_path):
    cfg = tiny_cfg(checkpoint_every="2s", sample_prompts=[])
    out = tmp_path / "run"
    deadline = time.time() + 45
    cmd = [
        sys.executable,
        "-m",
        "training.launch",
        "--config",
        str(_write_config(tmp_path / "c.json", cfg)),
        "--governed",
        str(governed),
        "--out",
        str(out),
        "--deadline",
        str(deadline),
    ]
    log_file = tmp_path / "stderr.txt"
    with log_file.open("wb") as stderr:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        # wait for a checkpoint past step 0, then kill without warning
        while time.time() < deadline - 15:
            found = latest_checkpoint(out / "checkpoints")
            if found is not None and read_state(found)["step"] > 0:
                break
            if proc.poll() is not None:
                pytest.fail(f"training exited early: {log_file.read_text()[-2000:]}")
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = time.time()
    assert not (out / "model").exists()
    step = read_state(latest_checkpoint(out / "checkpoints"))["step"]
    spent_before = read_state(latest_checkpoint(out / "checkpoints"))["time_spent_s"]

    # a few more steps are enough to show it continues (max_steps keeps the test short)
    more = cfg.model_copy(update={"max_steps": step + 5})
    report = train(more, governed, out, deadline, 0, lambda *a: None, lambda *a: None, resume=True)
    assert time.time() <= deadline
    assert report.resumed_from_step is not None and report.resumed_from_step >= step
    assert report.steps == step + 5 and report.stopped_reason == "max_steps"
    # time spent before the kill counts: the budget is the first attempt's, the clock kept running
    assert report.compute.wall_clock_s > spent_before
    assert report.budget_s > deadline - killed_at + spent_before * 0.9
    assert len(list_checkpoints(out / "checkpoints")) <= cfg.keep_checkpoints
    assert not list((out / "checkpoints").glob(".tmp-*"))
    pipe = load_pipeline(report.model_dir)
    assert pipe("red heart", num_inference_steps=2, output_type="np").images.shape == (1, 16, 16, 3)


def test_resumed_run_continues_exactly_where_it_stopped(governed, tiny_cfg, tmp_path):
    """2 steps, stop, resume to 4 == 4 steps in one go: weights, optimiser, data position and both
    generators (noise levels and dropout on the CPU, noise on the training device) come back."""
    fixed = {"warmup_fraction": 0.0, "decay_fraction": 0.0, "precision": "fp32", "sample_prompts": []}

    def run(out: Path, steps: int, resume: bool = False):
        cfg = tiny_cfg(max_steps=steps, **fixed)
        return train(cfg, governed, out, time.time() + 60, 0, lambda *a: None, lambda *a: None, resume=resume)

    straight = run(tmp_path / "straight", 4)
    run(tmp_path / "split", 2)
    resumed = run(tmp_path / "split", 4, resume=True)
    assert resumed.resumed_from_step == 2 and resumed.steps == straight.steps == 4
    for which in ("denoiser", "ema"):
        a, b = _weights(tmp_path / "straight", which), _weights(tmp_path / "split", which)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), which


def _launch(governed: Path, out: Path) -> list[str]:
    # the pipeline's own accelerate settings (pipeline.launcher), on two CPU processes
    return [
        *accelerate_prefix(2, gpus=False),
        "-m",
        "training.launch",
        "--governed",
        str(governed),
        "--out",
        str(out),
        "--budget",
        "60s",
    ]


def _run_two(governed, tiny_cfg, tmp_path, out: Path, max_steps: int, *extra: str, **cfg) -> TrainingReport:
    # A constant learning rate (the schedule follows the wall clock, which differs between runs) and
    # fp32: in bf16 the rounding differs between the two ways of computing the same gradients.
    fixed = {"warmup_fraction": 0.0, "decay_fraction": 0.0, "precision": "fp32"}
    config = _write_config(
        tmp_path / f"{out.name}-c{max_steps}.json",
        tiny_cfg(max_steps=max_steps, sample_prompts=[], **(fixed | cfg)),
    )
    report_file = tmp_path / f"{out.name}-report{max_steps}.json"
    done = subprocess.run(
        [*_launch(governed, out), "--config", str(config), "--report", str(report_file), *extra],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return TrainingReport.model_validate_json(report_file.read_text())


def _weights(out: Path, which: str) -> dict:
    from safetensors.torch import load_file

    return load_file(latest_checkpoint(out / "checkpoints") / which / WEIGHTS_FILE)


def _distance(a: dict, b: dict) -> float:
    """Euclidean distance between two sets of weights with the same names."""
    return torch.cat([(a[k] - b[k]).flatten() for k in a]).norm().item()


def test_two_processes_under_accelerate_train_checkpoint_and_resume(governed, tiny_cfg, tmp_path):
    out = tmp_path / "ddp"
    first = _run_two(governed, tiny_cfg, tmp_path, out, 3)
    assert first.compute.processes == 2 and first.steps == 3
    assert first.images_seen == 3 * 8 * 2  # per-process batch x processes
    assert first.compute.speed_options["sharding"] == "none"
    state = read_state(latest_checkpoint(out / "checkpoints"))
    assert state["world_size"] == 2 and state["step"] == 3
    at_step3 = {which: _weights(out, which) for which in ("denoiser", "ema")}
    assert {p.name for p in latest_checkpoint(out / "checkpoints").glob("rng-rank*")} == {
        "rng-rank0.safetensors",
        "rng-rank1.safetensors",
    }

    # FSDP: the same run with weights, gradients and optimiser state split over the 2 processes. Same
    # seed and data give the same weights as the replicated (DDP) run up to rounding: the gradients
    # are summed in another order, and Adam's first steps (about lr * sign(gradient)) turn rounding in
    # near-zero gradients into whole steps, so the weights are compared as a whole against how far
    # two more steps move them, not element by element.
    sharded_out = tmp_path / "fsdp"
    sharded = _run_two(governed, tiny_cfg, tmp_path, sharded_out, 3, sharding="fsdp")
    described = str(sharded.compute.speed_options["sharding"])
    assert described.startswith("fsdp (")
    # really split: the main process holds about half of the weights (blocks split by rows, so not exactly)
    held = float(described.split("holds ")[1].split("%")[0]) / 100
    assert 0.4 < held < 0.6, described
    assert sharded.steps == 3 and sharded.images_seen == first.images_seen
    sharded_at_step3 = {which: _weights(sharded_out, which) for which in ("denoiser", "ema")}

    # A sharded checkpoint holds full weights: it resumes sharded (here in bf16: weights gathered in
    # bf16, gradients reduced in fp32, master weights kept fp32), and the model loads on its own.
    # Each two-process launch costs about 20 s of start-up, so resume and bf16 share one.
    resumed = _run_two(
        governed, tiny_cfg, tmp_path, sharded_out, 5, "--resume", sharding="fsdp", precision="bf16"
    )
    assert resumed.resumed_from_step == 3 and resumed.steps == 5 and resumed.images_seen == 5 * 16
    assert "bf16 gathers, fp32 gradient reduction" in str(resumed.compute.speed_options["sharding"])
    assert json.loads((resumed.model_dir / "model_index.json").read_text())["_class_name"][1] == "T2IPipeline"
    pipe = load_pipeline(resumed.model_dir)
    assert pipe("red heart", num_inference_steps=2, output_type="np").images.shape == (1, 16, 16, 3)
    step5 = _weights(sharded_out, "denoiser")
    assert {w.dtype for w in step5.values()} == {torch.float32}
    assert all(torch.isfinite(w).all() for w in step5.values())
    two_steps = _distance(step5, sharded_at_step3["denoiser"])
    assert two_steps > 0
    for which in ("denoiser", "ema"):
        assert at_step3[which].keys() == sharded_at_step3[which].keys()
        assert _distance(at_step3[which], sharded_at_step3[which]) < 0.01 * two_steps, which
