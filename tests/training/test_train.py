"""Training end to end on real emoji with a tiny model: budget, report, export, reload, determinism, cache."""

import json
import time

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from training.api import denoising_losses, load_pipeline, train
from training.export import directory_sha256

# the DiT-style preset at its smallest: one block, width 32
TINY_TRANSFORMER = {"architecture": "transformer", "block_out_channels": [32], "layers_per_block": 1}


@pytest.fixture(scope="module")
def trained(governed, tmp_path_factory):
    """One short budget-limited run, shared by the tests of this module."""
    from tests.training.conftest import tiny_config

    root = tmp_path_factory.mktemp("train")
    cfg = tiny_config(root / "cache", checkpoint_every="4s", warmup_fraction=0.1, decay_fraction=0.5)
    logged: list[tuple[int, dict]] = []
    budget = 20.0
    deadline = time.time() + budget
    report = train(
        cfg, governed, root / "run", deadline, 0, lambda m, s: logged.append((s, m)), lambda *a: None
    )
    return {
        "report": report,
        "deadline": deadline,
        "ended": time.time(),
        "logged": logged,
        "budget": budget,
        "cfg": cfg,
        "root": root,
    }


def test_stops_before_the_deadline_and_uses_the_budget(trained):
    # the contract: return before the deadline, within 10 s of it for short budgets
    assert trained["ended"] <= trained["deadline"]
    assert trained["ended"] >= trained["deadline"] - 10
    assert trained["report"].stopped_reason == "budget"


def test_report_is_complete(trained):
    report = trained["report"]
    assert report.steps > 0 and report.images_seen == report.steps * 8
    assert report.throughput_images_per_s > 0 and report.final_loss is not None
    assert report.parameters["denoiser"] > 0 and report.parameters["text_encoder"] > 20_000_000
    assert report.compute.device_type == "cpu" and report.compute.device_hours > 0
    # a CPU run is priced per logical core-hour from the config's dated, sourced table
    from training.prices import DEFAULT_CPU_CORE_HOUR, logical_cores

    per_device_hour = DEFAULT_CPU_CORE_HOUR.price * logical_cores()
    assert report.compute.price_per_device_hour == pytest.approx(per_device_hour)
    assert report.compute.estimated_cost == pytest.approx(report.compute.device_hours * per_device_hour)
    assert report.compute.price_source == DEFAULT_CPU_CORE_HOUR.source and report.compute.price_as_of
    assert report.compute.energy_kwh is None and report.compute.energy_method.startswith("not measured")
    assert report.compute.flops_per_image and report.compute.flops_per_image > 0
    assert report.inference_images_per_s and report.cost_per_million_images
    from importlib.metadata import metadata

    torch_licence = metadata("torch").get("License-Expression") or "BSD-3-Clause"
    assert {c.name: c.license for c in report.components}["PyTorch"] == torch_licence
    assert report.text_encoder.license == "Apache-2.0"
    assert report.model_digest == directory_sha256(report.model_dir)
    assert all(p.is_file() for p in report.sample_grids + report.charts)
    assert len(report.sample_grids) >= 2  # at least one checkpoint grid and the final one
    with Image.open(report.sample_grids[-1]) as grid:
        assert json.loads(grid.text["prompts"]) == ["red heart"] and json.loads(grid.text["steps"]) == 2


def test_metrics_stream_every_n_steps_and_lr_anneals_with_the_budget(trained):
    logged = trained["logged"]
    assert [s for s, _ in logged] == list(range(5, 5 * len(logged) + 1, 5))
    assert {"loss", "lr", "images_per_s", "loss_t0", "budget_fraction"} <= set(logged[-1][1])
    fractions = [m["budget_fraction"] for _, m in logged]
    assert fractions == sorted(fractions)
    peak = trained["cfg"].learning_rate
    # the last logged step is in the decay phase (second half of the budget): below the peak
    assert logged[-1][1]["lr"] < peak
    # Up through warm-up, then down, never above the peak. The schedule follows the wall clock, so on
    # a busy machine no logged step (one in five) need land on the plateau; a step logged well inside
    # it (fraction 0.2-0.45 of the 0.1 warm-up / 0.5 decay schedule) must be at the peak.
    lrs = [m["lr"] for _, m in logged]
    top = lrs.index(max(lrs))
    assert lrs[: top + 1] == sorted(lrs[: top + 1]) and lrs[top:] == sorted(lrs[top:], reverse=True)
    assert max(lrs) <= peak * (1 + 1e-9)
    plateau = [m["lr"] for _, m in logged if 0.2 <= m["budget_fraction"] <= 0.45]
    assert plateau == pytest.approx([peak] * len(plateau))


def test_saved_model_loads_with_plain_diffusers_and_is_deterministic(trained):
    model_dir = trained["report"].model_dir
    assert json.loads((model_dir / "model_index.json").read_text())["_class_name"] == [
        "pipeline",
        "T2IPipeline",
    ]
    assert not list(model_dir.rglob("*.bin")) and not list(model_dir.rglob("*.pt"))
    remote = DiffusionPipeline.from_pretrained(model_dir, trust_remote_code=True)

    def gen(pipe, seed):
        out = pipe(
            "red heart",
            num_inference_steps=3,
            generator=torch.Generator().manual_seed(seed),
            output_type="np",
        )
        return out.images

    a, b = gen(remote, 7), gen(remote, 7)
    assert a.shape == (1, 16, 16, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, gen(remote, 8))
    local = load_pipeline(model_dir)
    assert type(local).__module__ == "training.t2i_pipeline"
    assert np.array_equal(gen(local, 7), a)


def test_held_out_loss_is_finite_and_reproducible(trained, governed, monkeypatch):
    monkeypatch.setenv("T2I_CACHE_DIR", str(trained["root"] / "cache"))
    model_dir = trained["report"].model_dir
    first = denoising_losses(model_dir, governed, "eval", seed=0)["model"]
    assert 0 < first < 10
    assert denoising_losses(model_dir, governed, "eval", seed=0)["model"] == first


def test_step_throughput_is_reported_beside_the_whole_wall_clock_rate(trained):
    """The rate inside training steps excludes set-up and saves, so it is the faster of the two."""
    report = trained["report"]
    assert report.step_images_per_s > report.throughput_images_per_s > 0
    assert report.compute.mfu is None  # no datasheet peak for a CPU


def test_second_run_reuses_cached_text_embeddings(trained, governed):
    cfg = trained["cfg"].model_copy(update={"max_steps": 2, "sample_prompts": []})
    first = trained["report"].compute.speed_options["text_embeddings"]
    report = train(
        cfg, governed, trained["root"] / "second", time.time() + 60, 1, lambda *a: None, lambda *a: None
    )
    assert first == "computed and cached"
    assert report.compute.speed_options["text_embeddings"] == "reused from cache"
    assert report.steps == 2 and report.stopped_reason == "max_steps"


def test_transformer_architecture_trains_and_reloads(governed, tiny_cfg, tmp_path):
    """The DiT-style preset (PixArt transformer with cross-attention to the caption tokens)."""
    cfg = tiny_cfg(**TINY_TRANSFORMER, max_steps=2, sample_prompts=[])
    report = train(cfg, governed, tmp_path / "dit", time.time() + 60, 0, lambda *a: None, lambda *a: None)
    assert report.architecture["class"] == "PixArtTransformer2DModel" and report.steps == 2
    pipe = DiffusionPipeline.from_pretrained(report.model_dir, trust_remote_code=True)
    image = pipe(
        "rocket", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np"
    )
    assert image.images.shape == (1, 16, 16, 3)


def test_compiled_transformer_trains_checkpoints_and_exports_plain_weights(
    governed, tiny_cfg, tmp_path, monkeypatch
):
    """`compile: true` wraps the denoiser in torch.compile's module; training must call it with the
    transformer's signature, and checkpoints, export and FLOP counting must see the plain module.

    Dynamo traces for real, but with its `eager` backend: inductor's C++ code generation takes minutes on
    this 2-core CPU (the GPU benchmark runs the real backend)."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    from torch._dynamo.utils import counters

    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model: real_compile(model, backend="eager"))
    torch._dynamo.reset()
    counters.clear()
    # fp32 and a constant learning rate (the schedule follows the wall clock): the two runs can agree exactly
    common = dict(
        **TINY_TRANSFORMER,
        max_steps=3,
        sample_prompts=[],
        precision="fp32",
        warmup_fraction=0.0,
        decay_fraction=0.0,
    )
    runs = {}
    for compiled in (True, False):
        cfg = tiny_cfg(compile=compiled, checkpoint_every="1s", **common)
        out = tmp_path / f"compile-{compiled}"
        runs[compiled] = train(cfg, governed, out, time.time() + 120, 0, lambda *a: None, lambda *a: None)
    report = runs[True]
    assert counters["stats"]["unique_graphs"] >= 1  # the training steps ran through dynamo
    assert report.compute.speed_options["torch_compile"] is True and report.steps == 3
    assert runs[False].compute.speed_options["torch_compile"] is False
    # compiled before the first step (disclosed), without changing what the run learns
    assert report.compute.speed_options["compile_time"].endswith("s, before the first step")
    assert "compile_time" not in runs[False].compute.speed_options
    ckpts = {c: sorted((tmp_path / f"compile-{c}" / "checkpoints").glob("checkpoint-*"))[-1] for c in runs}
    weights = {c: load_file(ckpts[c] / "denoiser" / "diffusion_pytorch_model.safetensors") for c in runs}
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[False])
    # counted on the eager module: the same FLOPs as the uncompiled run
    assert report.compute.flops_per_image == runs[False].compute.flops_per_image > 0
    checkpoint = sorted((tmp_path / "compile-True" / "checkpoints").glob("checkpoint-*"))[-1]
    with safe_open(str(checkpoint / "denoiser" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        names = list(f.keys())
    assert names and not any("_orig_mod" in n for n in names)
    pipe = DiffusionPipeline.from_pretrained(report.model_dir, trust_remote_code=True)
    image = pipe(
        "rocket", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np"
    )
    assert np.isfinite(image.images).all()


def test_compile_auto_is_on_for_cuda_with_budget_left_and_off_on_cpu(tiny_cfg):
    from training.session import COMPILE_MIN_BUDGET_S, resolve_compile

    cfg, cuda, cpu = tiny_cfg(), torch.device("cuda"), torch.device("cpu")
    assert cfg.compile == "auto"
    assert resolve_compile(cfg, cuda, sharded=False, budget_left_s=COMPILE_MIN_BUDGET_S)
    assert not resolve_compile(cfg, cuda, sharded=False, budget_left_s=COMPILE_MIN_BUDGET_S - 1)
    assert not resolve_compile(cfg, cuda, sharded=True, budget_left_s=3600)
    assert not resolve_compile(cfg, cpu, sharded=False, budget_left_s=3600)
    assert resolve_compile(tiny_cfg(compile=True), cpu, sharded=False, budget_left_s=1)
    assert not resolve_compile(tiny_cfg(compile=False), cuda, sharded=False, budget_left_s=3600)


def test_latent_space_with_a_user_vae(governed, tiny_cfg, tmp_path, monkeypatch):
    """A (tiny, random) AutoencoderKL given by path: training, export and sampling happen in its latents."""
    from diffusers import AutoencoderKL

    vae_dir = tmp_path / "vae"
    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4,
        sample_size=16,
    ).save_pretrained(vae_dir)
    cfg = tiny_cfg(vae=str(vae_dir), vae_license="MIT", max_steps=2, sample_prompts=[])
    report = train(cfg, governed, tmp_path / "latent", time.time() + 60, 0, lambda *a: None, lambda *a: None)
    assert report.architecture["space"] == "latent"
    assert {c.name: c.license for c in report.components}[str(vae_dir)] == "MIT"
    pipe = load_pipeline(report.model_dir)
    assert pipe.denoiser.config.in_channels == 4 and pipe.denoiser.config.sample_size == 8
    image = pipe(
        "rocket", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np"
    )
    assert image.images.shape == (1, 16, 16, 3)
    monkeypatch.setenv("T2I_CACHE_DIR", str(tmp_path / "cache"))
    assert 0 < denoising_losses(report.model_dir, governed, "eval", seed=0)["model"] < 100


def test_checkpoint_time_is_probed_until_a_checkpoint_is_timed(tmp_path):
    """The reserve for the last save comes from writing the weights once (probe file removed after)."""
    from types import SimpleNamespace

    from training.session import Session

    def session(**over):
        fields = dict(
            accelerator=SimpleNamespace(is_main_process=True),
            sharded=False,
            checkpoint_s=None,
            out_dir=tmp_path,
            unwrapped=torch.nn.Linear(512, 512),
        )
        return SimpleNamespace(**(fields | over))

    s = session()
    Session.probe_save_time(s)
    assert 0.5 < s.checkpoint_s < 60 and not list(tmp_path.iterdir())
    timed = session(checkpoint_s=7.0)
    Session.probe_save_time(timed)
    assert timed.checkpoint_s == 7.0  # a real checkpoint's time wins
    for other in (session(sharded=True), session(accelerator=SimpleNamespace(is_main_process=False))):
        Session.probe_save_time(other)
        assert other.checkpoint_s is None
