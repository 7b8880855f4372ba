"""Shared fixtures: a small governed emoji table and generators whose answer is known."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audits.governed_data import GovernedRecords, load_images, read_governed, train_and_eval
from tests.audits.emoji_governed import write_governed

RESOLUTION = 32


@dataclass
class EmojiData:
    path: Path
    train: GovernedRecords
    held_out: GovernedRecords
    train_images: np.ndarray
    held_out_images: np.ndarray


@pytest.fixture(scope="session")
def emoji(tmp_path_factory) -> EmojiData:
    """~40 skin-tone families and ~100 plain emoji; whole families go to the held-out split."""
    path = write_governed(
        tmp_path_factory.mktemp("governed") / "governed.parquet",
        max_toned_bases=40,
        max_plain=100,
        eval_share=0.2,
        seed=1,
    )
    train, held_out = train_and_eval(read_governed(path))
    return EmojiData(path, train, held_out, load_images(train, RESOLUTION), load_images(held_out, RESOLUTION))


def lookup_generator(texts: list[str], images: np.ndarray, fallback: np.ndarray):
    """A generator that draws the image stored for a prompt (a perfect memoriser), else `fallback`."""
    table = dict(zip(texts, images, strict=True))

    def generate(prompts: list[str], seeds: list[int]) -> np.ndarray:
        return np.stack([table.get(p, fallback) for p in prompts])

    return generate


def noop_progress(description: str, completed: int, total: int | None) -> None:
    """Progress callback that records nothing."""
