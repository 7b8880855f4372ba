"""The api wires the audits to `training.api.load_pipeline` / `denoising_losses`; a fake pipeline stands in."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import training.api
from audits.api import run_bias, run_deepfake, run_quality
from audits.config import BiasConfig, DeepfakeConfig, QualityConfig
from audits.report import AuditReport


class FakePipeline:
    """Draws the stored image for a known caption, a flat grey one otherwise; records its calls."""

    def __init__(self, emoji):
        texts = emoji.train.texts + emoji.held_out.texts
        images = np.concatenate([emoji.train_images, emoji.held_out_images]).astype(np.float32) / 255
        self.table = dict(zip(texts, images, strict=True))
        self.calls = []

    def __call__(self, prompt, num_inference_steps, guidance_scale, generator, output_type):
        self.calls.append((len(prompt), num_inference_steps, guidance_scale, output_type))
        grey = np.full((32, 32, 3), 0.5, dtype=np.float32)
        return SimpleNamespace(images=np.stack([self.table.get(p, grey) for p in prompt]))


@pytest.fixture
def fake_model(emoji, monkeypatch, tmp_path):
    pipe = FakePipeline(emoji)
    monkeypatch.setattr(training.api, "load_pipeline", lambda model_dir, device="cpu": pipe)
    monkeypatch.setattr(
        training.api,
        "denoising_losses",
        lambda model_dir, governed, split, seed, max_images=256: {
            "model": 0.25,
            "zero_velocity": 1.6,
            "mean_image": 1.25,
        },
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    return pipe, model_dir


def _progress_log():
    log = []
    return log, lambda description, completed, total: log.append((description, completed, total))


def test_run_quality_uses_the_model_and_the_held_out_loss(emoji, fake_model, tmp_path):
    pipe, model_dir = fake_model
    log, progress = _progress_log()
    cfg = QualityConfig(
        num_images=8,
        feature_resolution=64,
        probe_steps=20,
        probe_train_images=64,
        kid_subsets=3,
        sample_steps=7,
        guidance_scale=2.0,
    )
    report = run_quality(cfg, model_dir, emoji.path, tmp_path / "out", 0, progress)
    assert isinstance(report, AuditReport) and report.audit == "quality"
    assert {"heldout_denoising_loss": 0.25, "heldout_loss_ratio": 0.2}.items() <= {
        m.name: m.value for m in report.metrics
    }.items()
    assert all(call[1:] == (7, 2.0, "np") for call in pipe.calls)
    assert (tmp_path / "out" / "quality_report.json").is_file()
    assert any(d.startswith("quality") for d, _, _ in log)


def test_run_bias_and_run_deepfake_write_their_reports(emoji, fake_model, tmp_path):
    _, model_dir = fake_model
    _, progress = _progress_log()
    bias = run_bias(
        BiasConfig(bootstrap=5, max_neutral_prompts=3, prompts_per_group=2),
        model_dir,
        emoji.path,
        tmp_path / "bias",
        0,
        progress,
    )
    deepfake = run_deepfake(
        DeepfakeConfig(memorization_prompts=4, watermark_images=1),
        model_dir,
        emoji.path,
        tmp_path / "deepfake",
        0,
        progress,
        run_id="abc",
    )
    assert bias.audit == "bias" and (tmp_path / "bias" / "bias_report.json").is_file()
    assert deepfake.audit == "deepfake" and (tmp_path / "deepfake" / "deepfake_report.json").is_file()
    # the fake model replays its training images exactly: the audit must say so
    assert not next(c for c in deepfake.checks if c.name == "replication_rate").passed


def test_missing_governed_table_names_the_file(fake_model, tmp_path):
    _, model_dir = fake_model
    with pytest.raises(FileNotFoundError, match="governed table"):
        run_bias(BiasConfig(), model_dir, tmp_path / "nope.parquet", tmp_path, 0, lambda *a: None)


def test_the_deepfake_audit_marks_with_the_watermark_the_model_index_names(tmp_path):
    from audits.api import _watermark_method

    assert _watermark_method(tmp_path) == "dwtDctSvd"  # no index, or one saved before the key existed
    (tmp_path / "model_index.json").write_text(json.dumps({"model_name": "m"}))
    assert _watermark_method(tmp_path) == "dwtDctSvd"
    (tmp_path / "model_index.json").write_text(json.dumps({"watermark_method": "rivaGan"}))
    assert _watermark_method(tmp_path) == "rivaGan"
