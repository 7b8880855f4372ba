"""Compiled generation draws the images eager generation draws, for the same prompts and seeds.

On a CPU the test compiles through torch.compile's graph capture with the `eager`
backend: inductor's code generation took 313 s (and `aot_eager` 48 s) for this one-layer transformer on
the shared 2-core machine, far over a unit test's seconds. The inductor comparison runs where CUDA is.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from audits.config import AuditsConfig
from audits.generation import compile_denoiser, pipeline_generator, should_compile
from training.config import TrainingConfig
from training.export import make_pipeline
from training.presets import build_denoiser

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "blue", "circle", "square"]
PROMPTS = ["a red circle", "a blue square", "a red square", "", "a blue circle"]


def _pipeline(tmp_path: Path, device: str = "cpu"):
    """A one-layer transformer denoiser (the GPU presets' architecture) and a two-layer BERT, random."""
    torch.manual_seed(0)
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    encoder = BertModel(
        BertConfig(
            vocab_size=len(WORDS),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).eval()
    cfg = TrainingConfig(
        architecture="transformer", resolution=16, block_out_channels=[32], layers_per_block=1
    )
    denoiser = build_denoiser(cfg, 32, 3, 16).eval()
    return make_pipeline(denoiser, encoder, tokenizer, 8, 2, 3.0).to(device)


def _images(pipe, batch_size: int) -> np.ndarray:
    generate = pipeline_generator(pipe, 2, 3.0, batch_size=batch_size, tune_threads=False)
    return generate(PROMPTS * 2, list(range(10)))


def test_compiled_denoiser_draws_the_eager_images_for_each_seed(tmp_path):
    pipe = _pipeline(tmp_path)
    eager = _images(pipe, batch_size=3)
    assert compile_denoiser(pipe, "on", backend="eager")
    assert hasattr(pipe.denoiser, "_compiled_call_impl") and pipe.denoiser._compiled_call_impl is not None
    # batches of 4, 4, 2 images (two probe batches, the remainder): one dynamic graph serves each size
    np.testing.assert_array_equal(_images(pipe, batch_size=3), eager)
    assert not (eager[0] == eager[5]).all()  # same prompt, other seed: another image


def test_compile_modes_follow_the_device():
    assert should_compile("auto", "cuda") and not should_compile("auto", "cpu")
    assert should_compile("on", "cpu") and not should_compile("off", "cuda")
    with pytest.raises(ValueError, match=r"audits\.compile"):
        should_compile("yes", "cuda")
    assert AuditsConfig().compile == "auto"
    assert AuditsConfig(compile=False).compile == "off"  # how YAML reads `audits.compile: off`
    with pytest.raises(ValueError, match="compile"):
        AuditsConfig(compile="yes")


def test_compile_off_leaves_the_denoiser_eager(tmp_path):
    pipe = _pipeline(tmp_path)
    generate = pipeline_generator(pipe, 2, 3.0, tune_threads=False, compile_mode="auto")
    assert generate.compiled is False and getattr(pipe.denoiser, "_compiled_call_impl", None) is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="inductor on CUDA needs a GPU")
def test_inductor_on_cuda_draws_the_eager_images_up_to_rounding(tmp_path):
    pipe = _pipeline(tmp_path, "cuda")
    eager = _images(pipe, batch_size=3)
    assert compile_denoiser(pipe, "auto")
    compiled = _images(pipe, batch_size=3)
    difference = np.abs(compiled.astype(int) - eager.astype(int))
    # fused kernels round differently: at most a level or two on a few pixels, never another image
    assert difference.max() <= 2 and (difference > 0).mean() < 0.01
