from types import SimpleNamespace

import numpy as np
import pytest
import torch

from audits.generation import generate_batched, pipeline_generator
from tests.audits.conftest import noop_progress


class NoisePipeline:
    """Each image is the noise its own generator draws: shows which generator served which image."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, prompt, num_inference_steps, guidance_scale, generator, output_type):
        assert isinstance(generator, list) and len(generator) == len(prompt)
        self.batch_sizes.append(len(prompt))
        noise = [torch.rand((4, 4, 3), generator=g).numpy() for g in generator]
        return SimpleNamespace(images=np.stack(noise))


def test_an_image_depends_on_its_seed_only_not_on_its_batch():
    pipe = NoisePipeline()
    generate = pipeline_generator(pipe, 2, 1.0, batch_size=5, tune_threads=False)
    seeds = list(range(20))
    together = generate(["p"] * 20, seeds)
    alone = np.concatenate([generate(["p"], [s]) for s in seeds])
    np.testing.assert_array_equal(together, alone)
    assert together.dtype == np.uint8 and not (together[0] == together[1]).all()
    assert pipe.batch_sizes[:4] == [4, 4, 5, 5]  # two small probe batches, then batch_size


def test_generate_batched_checks_the_generator_contract():
    with pytest.raises(ValueError, match="uint8"):
        generate_batched(lambda p, s: np.zeros((len(p), 4, 4, 3)), ["a"], [0], noop_progress, "x")
    with pytest.raises(ValueError, match="seeds"):
        pipeline_generator(NoisePipeline(), 1, 1.0, tune_threads=False)(["a", "b"], [0])
