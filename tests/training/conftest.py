"""Fixtures: a small governed table of real Twemoji and a tiny, fast training config."""

from pathlib import Path

import pytest

from tests.training.fixtures import write_governed
from training.config import TrainingConfig


@pytest.fixture(scope="session")
def governed(tmp_path_factory) -> Path:
    """governed.parquet with 64 captioned emoji (about 58 train, 6 eval)."""
    return write_governed(tmp_path_factory.mktemp("governed"), 64)


def tiny_config(cache_dir: Path, **overrides) -> TrainingConfig:
    """A 16 px, two-level UNet that trains at tens of steps per second on one core."""
    fields = {
        "resolution": 16,
        "block_out_channels": [16, 32],
        "layers_per_block": 1,
        "batch_size": 8,
        "sample_prompts": ["red heart"],
        "sample_seeds": [0],
        "sample_steps": 2,
        "threads": 1,  # other tests may share the CPU: one thread avoids oversubscription stalls
        "measure_energy": False,
        "checkpoint_every": "1h",
        "log_every": 5,
        "cache_dir": str(cache_dir),
    }
    return TrainingConfig(**(fields | overrides))


@pytest.fixture
def tiny_cfg(tmp_path):
    """Factory for the tiny config, cached under this test's tmp_path unless a cache_dir is given."""

    def make(cache_dir: Path | None = None, **overrides) -> TrainingConfig:
        return tiny_config(cache_dir or tmp_path / "cache", **overrides)

    return make
