import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from training.data import EpochSampler, cached_images, dataset_digest, decode_image, read_governed


def test_transparent_pixels_become_white(tmp_path):
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    img.save(tmp_path / "a.png")
    out = decode_image(str(tmp_path / "a.png"), 8)
    assert out.shape == (3, 8, 8)
    assert tuple(out[:, 7, 7]) == (255, 255, 255)
    assert tuple(out[:, 0, 0]) == (255, 0, 0)


def test_image_cache_is_written_once_and_reused(tmp_path, governed):
    table = read_governed(governed, "train").head(10)
    digest = dataset_digest(table)
    first = cached_images(table, digest, 16, tmp_path, lambda *a: None)
    files = list(tmp_path.glob("images-*.safetensors"))
    assert len(files) == 1
    # point the table at missing files: the second call must not decode them
    broken = table.assign(path="/nonexistent.png")
    second = cached_images(broken, digest, 16, tmp_path, lambda *a: None)
    assert torch.equal(first, second) and first.dtype == torch.uint8


def test_digest_changes_with_content(governed):
    table = read_governed(governed, "train")
    changed = table.copy()
    changed.loc[0, "content_sha256"] = "0" * 64
    assert dataset_digest(table) != dataset_digest(changed)


def test_missing_column_names_the_column(tmp_path):
    pd.DataFrame({"record_id": ["a"], "path": ["x"]}).to_parquet(tmp_path / "g.parquet")
    with pytest.raises(ValueError, match="text"):
        read_governed(tmp_path / "g.parquet")


def test_only_the_split_and_the_columns_training_reads_are_loaded(tmp_path):
    pd.DataFrame(
        {
            "record_id": ["c", "a", "b"],
            "path": ["x", "y", "z"],
            "text": ["t1", "t2", "t3"],
            "split": ["train", "train", "eval"],
            "content_sha256": ["1", "2", "3"],
            "evidence": ["big"] * 3,  # what governance adds: not needed to train
        }
    ).to_parquet(tmp_path / "g.parquet")
    train = read_governed(tmp_path / "g.parquet")
    assert list(train["record_id"]) == ["a", "c"] and "evidence" not in train.columns
    assert list(read_governed(tmp_path / "g.parquet", None)["record_id"]) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="no records in split 'test'"):
        read_governed(tmp_path / "g.parquet", "test")


def test_epoch_sampler_visits_each_record_once_per_epoch_and_ranks_are_disjoint():
    # 12 records, 2 processes x batch 2: one epoch is 3 steps
    ranks = [EpochSampler(12, batch_size=2, seed=3, rank=r, world=2) for r in range(2)]
    seen = [np.concatenate([s.next_indices().numpy() for _ in range(3)]) for s in ranks]
    assert set(seen[0]).isdisjoint(seen[1])
    assert sorted(np.concatenate(seen)) == list(range(12))
    assert ranks[0].state() == {"epoch": 1, "offset": 0}


def test_epoch_sampler_resumes_at_the_same_position():
    a = EpochSampler(7, batch_size=3, seed=1)
    for _ in range(4):
        a.next_indices()
    b = EpochSampler(7, batch_size=3, seed=1)
    b.load_state(a.state())
    assert all(torch.equal(a.next_indices(), b.next_indices()) for _ in range(5))
