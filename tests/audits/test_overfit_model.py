"""Audit power on a real model: one overfit on a handful of images is flagged, an untrained one is not."""

import time

import pandas as pd
import pytest

from audits.config import DeepfakeConfig
from audits.deepfake import audit_deepfake
from audits.generation import pipeline_generator
from audits.governed_data import load_images, read_governed, train_and_eval
from tests.audits.conftest import noop_progress
from tests.audits.emoji_governed import write_governed
from tests.training.conftest import tiny_config
from training.api import load_pipeline, train

RESOLUTION = 16


def _train(governed, out_dir, steps):
    # the tiny model at RESOLUTION, made to memorise: a small batch, a high constant rate, a fast EMA
    cfg = tiny_config(
        out_dir / "cache",
        resolution=RESOLUTION,
        batch_size=4,
        learning_rate=3e-3,
        warmup_fraction=0.0,
        ema_decay=0.9,
        caption_dropout=0.0,
        max_steps=steps,
        sample_prompts=["rocket"],
    )
    # the step count, not the clock, ends training: the deadline only guards a stalled machine
    report = train(cfg, governed, out_dir, time.time() + 300, 0, lambda m, s: None, noop_progress)
    return load_pipeline(report.model_dir)


@pytest.mark.slow
def test_a_model_overfit_on_four_images_is_flagged_and_an_untrained_one_is_not(tmp_path):
    governed = write_governed(tmp_path / "governed.parquet", max_toned_bases=0, max_plain=40, eval_share=0.0)
    table = pd.read_parquet(governed)
    table["split"] = ["train"] * 4 + ["eval"] * (len(table) - 4)
    table.to_parquet(governed)
    train_records, held_out = train_and_eval(read_governed(governed))
    train_images = load_images(train_records, RESOLUTION)
    held_out_images = load_images(held_out, RESOLUTION)
    cfg = DeepfakeConfig(memorization_prompts=4, seeds_per_prompt=2, watermark=False)

    rates = {}
    # 300 steps: at 150 the replication rate depended on the random streams (0.375 to 0.75 over four
    # training seeds); at 300 it was 1.0 for all four
    for name, steps in (("untrained", 2), ("overfit", 300)):
        pipe = _train(governed, tmp_path / name, steps)
        report = audit_deepfake(
            cfg,
            pipeline_generator(pipe, 20, 3.0, tune_threads=False),
            train_records,
            train_images,
            tmp_path / f"audit-{name}",
            0,
            noop_progress,
            held_out_images=held_out_images,
        )
        rates[name] = next(c for c in report.checks if c.name == "replication_rate")
    assert rates["overfit"].measured >= 0.75 and not rates["overfit"].passed
    assert rates["untrained"].measured <= 0.25 and rates["untrained"].passed
