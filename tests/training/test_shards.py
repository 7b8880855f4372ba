"""Training shards of real Twemoji: written in parallel and resumably, streamed in an exact, resumable order."""

import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from training import shard_writer
from training.data import cached_images, dataset_digest, read_governed, training_images
from training.shard_writer import write_shards
from training.shards import ShardBatches, ShardIndex

SIDE = 16


@pytest.fixture(scope="module")
def table(governed):
    return read_governed(governed, "train")


def _write(table, out, workers=2):
    return write_shards(
        table["record_id"].tolist(),
        table["path"].tolist(),
        dataset_digest(table),
        SIDE,
        out,
        workers=workers,
        group_rows=5,
        groups_per_shard=3,
    )


@pytest.fixture(scope="module")
def index(table, tmp_path_factory):
    return ShardIndex.read(_write(table, tmp_path_factory.mktemp("shards")), dataset_digest(table))


@pytest.fixture(scope="module")
def decoded(table, tmp_path_factory):
    """The in-memory path's pixels: the shards must hold exactly these."""
    return cached_images(table, dataset_digest(table), SIDE, tmp_path_factory.mktemp("mem"), lambda *a: None)


def test_shards_hold_the_decoded_pixels_as_plain_columns(index, table, decoded):
    assert index.records == len(table) and sum(n for *_, n in index.groups) == len(table)
    file = pq.ParquetFile(index.directory / index.groups[0][0])
    # typed columns only: nothing a reader would have to unpickle
    assert file.schema_arrow.field("image").type == pa.binary(3 * SIDE * SIDE)
    assert file.schema_arrow.field("row").type == pa.int64()
    batches = ShardBatches(index, batch_size=7, seed=0)
    for _ in range(10):
        pixels, rows = batches.next_batch()
        assert pixels.dtype == torch.uint8 and pixels.shape == (7, 3, SIDE, SIDE)
        assert torch.equal(pixels, decoded[rows])


def test_each_process_reads_its_own_groups_and_an_epoch_visits_every_record_once(index, table):
    n = len(table)
    epochs = {}
    for rank in range(2):
        batches = ShardBatches(index, batch_size=1, seed=3, rank=rank, world=2)
        rows = []
        while True:
            _, row = batches.next_batch()
            if batches.epoch > 0:
                break
            rows.append(int(row))
        epochs[rank] = rows
    assert set(epochs[0]).isdisjoint(epochs[1])
    assert sorted(epochs[0] + epochs[1]) == list(range(n))
    # the next epoch is another order
    again = ShardBatches(index, batch_size=n, seed=3)
    assert not torch.equal(again.next_batch()[1], again.next_batch()[1])


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_continues_at_the_exact_sample(index, workers):
    straight = ShardBatches(index, batch_size=6, seed=1, workers=workers)
    first = [straight.next_batch()[1] for _ in range(23)]  # past the end of the first epoch
    resumed = ShardBatches(index, batch_size=6, seed=1, workers=workers)
    resumed.load_state(json.loads(json.dumps(straight.state())))  # as a checkpoint stores it
    for _ in range(12):
        assert torch.equal(straight.next_batch()[1], resumed.next_batch()[1])
    # the workers only read: the order does not depend on how many there are
    alone = ShardBatches(index, batch_size=6, seed=1, workers=0)
    assert all(torch.equal(alone.next_batch()[1], rows) for rows in first)


def test_resume_refuses_another_world_size_or_the_in_memory_position(index):
    batches = ShardBatches(index, batch_size=2, seed=0, rank=0, world=2)
    with pytest.raises(ValueError, match="resume on 1 processes"):
        batches.load_state({"source": "shards", "samples": 4, "world": 1})
    with pytest.raises(ValueError, match="data_in_memory_max_mb"):
        batches.load_state({"epoch": 0, "offset": 4})


def test_an_interrupted_write_keeps_complete_shards_and_redoes_the_rest(table, tmp_path):
    out = tmp_path / "shards"
    index_file = _write(table, out, workers=1)
    files = sorted(out.glob("shard-*.parquet"))
    before = {f.name: f.stat().st_mtime_ns for f in files}
    # as if killed: no index, one shard truncated, one missing
    index_file.unlink()
    files[0].write_bytes(files[0].read_bytes()[:100])
    files[1].unlink()
    time.sleep(0.01)
    _write(table, out, workers=2)
    after = {f.name: f.stat().st_mtime_ns for f in sorted(out.glob("shard-*.parquet"))}
    assert after.keys() == before.keys()
    rewritten = {name for name in after if after[name] != before[name]}
    assert rewritten == {files[0].name, files[1].name}
    assert ShardIndex.read(index_file).records == len(table)


def test_missing_index_or_other_dataset_is_named(index, tmp_path):
    with pytest.raises(FileNotFoundError, match="incomplete"):
        ShardIndex.read(tmp_path / "index.json")
    with pytest.raises(ValueError, match="delete the folder"):
        ShardIndex.read(index.directory / "index.json", digest="f" * 64)


def test_a_kept_image_that_vanished_names_the_record(table, tmp_path):
    broken = table.head(4).copy()
    broken.loc[2, "path"] = str(tmp_path / "gone.png")
    with pytest.raises(RuntimeError, match=f"record {broken['record_id'][2]}: image .*gone.png"):
        _write(broken, tmp_path / "s", workers=1)


def test_the_size_threshold_picks_memory_or_shards(table, tmp_path):
    digest = dataset_digest(table)
    bytes_ = len(table) * 3 * SIDE * SIDE
    in_memory = training_images(table, digest, SIDE, tmp_path, bytes_ / 1e6, lambda *a: None)
    streamed = training_images(table, digest, SIDE, tmp_path, (bytes_ - 1) / 1e6, lambda *a: None)
    assert isinstance(in_memory, torch.Tensor) and isinstance(streamed, ShardIndex)
    assert streamed.records == len(in_memory) == len(table)


def test_training_from_shards_resumes_bit_for_bit(governed, tiny_cfg, tmp_path, monkeypatch):
    """Resumed from step 2 of a 4-step run, every batch streamed from shards, training ends on the same
    weights bit for bit (data position, generators and optimiser all come back)."""
    import shutil

    from safetensors.torch import load_file

    from training.api import train
    from training.checkpoint import WEIGHTS_FILE, checkpoint_name, latest_checkpoint

    monkeypatch.setattr(shard_writer, "GROUP_BYTES", 3 * SIDE * SIDE * 5)  # 5 images a group
    fixed = {"warmup_fraction": 0.0, "decay_fraction": 0.0, "precision": "fp32", "sample_prompts": []}
    cfg = tiny_cfg(
        max_steps=4,
        data_in_memory_max_mb=0.0,
        num_workers=1,
        checkpoint_every="0.001s",
        keep_checkpoints=9,
        **fixed,
    )
    straight, split = tmp_path / "straight", tmp_path / "split"
    report = train(cfg, governed, straight, time.time() + 60, 0, lambda *a: None, lambda *a: None)
    assert "streamed from 12 Parquet row groups" in report.compute.speed_options["training_images"]
    shutil.copytree(straight / "checkpoints" / checkpoint_name(2), split / "checkpoints" / checkpoint_name(2))
    resumed = train(cfg, governed, split, time.time() + 60, 0, lambda *a: None, lambda *a: None, resume=True)
    assert resumed.resumed_from_step == 2 and resumed.steps == report.steps == 4
    for which in ("denoiser", "ema"):
        a, b = (
            load_file(latest_checkpoint(d / "checkpoints") / which / WEIGHTS_FILE) for d in (straight, split)
        )
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), which


def test_shards_from_the_table_columns_are_the_shards_from_lists(table, index, tmp_path):
    """training_images hands the writer the columns' arrays, not lists: the same files, byte for byte."""
    out = tmp_path / "from_arrays"
    write_shards(
        table["record_id"].astype(str).array,
        table["path"].astype(str).array,
        dataset_digest(table),
        SIDE,
        out,
        workers=2,
        group_rows=5,
        groups_per_shard=3,
    )
    listed = sorted(p.name for p in index.directory.glob("shard-*.parquet"))
    assert listed == sorted(p.name for p in out.glob("shard-*.parquet"))
    for name in listed:
        assert (out / name).read_bytes() == (index.directory / name).read_bytes()
    assert (out / "index.json").read_text() == (index.directory / "index.json").read_text()
