"""The sample grid draws its images in batches, and each image stays what its prompt and seed make alone."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.training.conftest import tiny_config
from training.export import make_pipeline
from training.presets import build_denoiser
from training.samples import sample_grid
from training.text_encoder import load_text_encoder

PROMPTS, SEEDS = ["red heart", "rocket", "grinning face"], [0, 1]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    """A random-weight 16 px pipeline with the real text encoder, counting its calls (on one thread)."""
    threads = torch.get_num_threads()
    # on the shared 2-core machine two threads drew these images 25-50x slower than one
    torch.set_num_threads(1)
    cfg = tiny_config(tmp_path_factory.mktemp("cache"))
    tokenizer, encoder, _ = load_text_encoder(cfg.text_encoder)
    denoiser = build_denoiser(cfg, encoder.config.hidden_size, 3, cfg.resolution).eval()
    pipe = make_pipeline(denoiser, encoder, tokenizer, 16, 2, 3.0)
    pipe.set_progress_bar_config(disable=True)
    pipe.calls = []
    real_call = type(pipe).__call__

    def counting(self, prompt, **kwargs):
        self.calls.append(len(prompt))
        return real_call(self, prompt, **kwargs)

    pipe.__class__ = type("CountingPipeline", (type(pipe),), {"__call__": counting})
    yield pipe
    torch.set_num_threads(threads)


def grid(pipe, file, batch_size):
    pipe.calls.clear()
    rate = sample_grid(pipe, PROMPTS, SEEDS, 2, 3.0, file, batch_size=batch_size)
    with Image.open(file) as png:
        return rate, np.asarray(png.convert("RGB")).astype(int), dict(png.text), list(pipe.calls)


def test_batched_grid_matches_one_image_per_call_and_repeats_exactly(pipe, tmp_path):
    rate, batched, text, calls = grid(pipe, tmp_path / "batched.png", batch_size=4)
    assert calls == [4, 2] and rate > 0  # 6 images: one full batch and the remainder
    _, again, _, _ = grid(pipe, tmp_path / "again.png", batch_size=4)
    assert np.array_equal(batched, again)
    _, single, _, calls = grid(pipe, tmp_path / "single.png", batch_size=1)
    assert calls == [1] * 6
    # same seeds, same noise per image: only batched kernels' rounding may differ (a level or two of 255)
    assert batched.shape == single.shape and np.abs(batched - single).max() <= 2
    assert np.abs(batched - single).mean() < 0.05
    # one row per prompt, one column per seed, each 16 px image upscaled 8x (nearest) to show in the UI
    assert batched.shape == (len(PROMPTS) * 16 * 8, len(SEEDS) * 16 * 8, 3)
    assert json.loads(text["prompts"]) == PROMPTS and json.loads(text["seeds"]) == SEEDS


def test_grid_images_differ_by_seed_and_prompt(pipe, tmp_path):
    _, image, _, _ = grid(pipe, tmp_path / "grid.png", batch_size=16)
    cells = image.reshape(len(PROMPTS), 128, len(SEEDS), 128, 3)
    assert not np.array_equal(cells[0, :, 0], cells[0, :, 1])  # another seed, another image
    assert not np.array_equal(cells[0, :, 0], cells[1, :, 0])  # another prompt, another image


def test_grid_batch_size_must_be_positive(pipe):
    with pytest.raises(ValueError, match="batch_size"):
        sample_grid(pipe, PROMPTS, SEEDS, 2, 3.0, None, batch_size=0)
