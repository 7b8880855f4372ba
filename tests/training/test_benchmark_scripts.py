"""The GPU benchmark must measure the same `base` preset that training builds, and run on a CPU with --smoke."""

import importlib.util
import json
import sys
from pathlib import Path

from training.presets import PRESETS

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_benchmark_sizes_match_the_base_preset():
    base, preset = _load("gpu_mfu").BASE, PRESETS["base"]
    assert (base["resolution"], base["width"], base["depth"], base["heads"], base["patch"]) == (
        preset.resolution,
        preset.dit_width,
        preset.dit_depth,
        preset.dit_heads,
        preset.dit_patch,
    )


def test_gpu_benchmark_smoke_runs_on_cpu(tmp_path, monkeypatch, capsys):
    out = tmp_path / "mfu.json"
    monkeypatch.setattr(sys, "argv", ["gpu_mfu.py", str(out), "--smoke", "--profile"])
    _load("gpu_mfu").main()
    result = json.loads(out.read_text())
    assert result["images_per_s"] > 0 and result["flops_per_image"] > 0 and result["mfu"] is None
    assert result["top_kernels_one_step"] and result["top_kernels_one_step"][0]["self_ms"] > 0


def test_gpu_training_loop_benchmark_smoke_runs_on_cpu(tmp_path, monkeypatch, capsys):
    """The project's whole training stage on synthetic data and a random small encoder, tiny on a CPU."""
    monkeypatch.setattr(sys, "argv", ["gpu_train_loop.py", str(tmp_path), "--smoke", "--budget", "10"])
    _load("gpu_train_loop").main()
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["steps"] > 0 and result["stopped_reason"] == "budget"
    assert 0 <= result["returned_s_before_deadline"] <= 10
    assert result["report_step_images_per_s"] >= result["report_images_per_s"] > 0
    assert result["compute"]["device_type"] == "cpu" and result["steady_mfu"] is None


def test_gpu_generation_benchmark_smoke_runs_on_cpu(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["gpu_generation.py", str(tmp_path), "--smoke"])
    _load("gpu_generation").main()
    result = json.loads((tmp_path / "result.json").read_text())
    assert set(result["results"]) == {"eager", "compiled"} and result["device_type"] == "cpu"
    for variant in result["results"].values():
        assert variant["batch_1"]["images_per_s"] > 0 and variant["batch_4"]["images"] == 12
    assert result["cost_per_million_images"] > 0 and result["device_name"]
