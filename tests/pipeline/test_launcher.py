"""`run.train_processes > 1`: the pipeline trains through `accelerate launch` (2 CPU processes here)."""

import time

import pandas as pd
import pytest
from PIL import Image

from pipeline.launcher import train_distributed
from training.config import TrainingConfig

pytestmark = pytest.mark.slow


def test_two_processes_train_and_stream_metrics(tmp_path):
    rows = []
    for i in range(16):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (24, 24), (15 * i, 200 - 10 * i, 90)).save(path)
        rows.append(
            {
                "record_id": f"r{i}",
                "path": str(path),
                "text": f"swatch {i}",
                "split": "train",
                "content_sha256": f"{i:064x}",
                "attributes": "{}",
            }
        )
    governed = tmp_path / "governed.parquet"
    pd.DataFrame(rows).to_parquet(governed)
    cfg = TrainingConfig(
        resolution=16, block_out_channels=[16, 32], batch_size=4, max_steps=4, log_every=2, sample_prompts=[]
    )
    logged = []
    report = train_distributed(
        cfg,
        2,
        governed,
        tmp_path / "train",
        time.time() + 120,
        0,
        False,
        lambda m, s: logged.append((s, m)),
        lambda *a: None,
    )
    assert report.compute.processes == 2
    assert report.steps == 4 and report.images_seen == 4 * 4 * 2
    assert (report.model_dir / "model_index.json").is_file()
    assert logged and all("loss" in m for _, m in logged)
