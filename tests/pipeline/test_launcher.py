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


def test_metrics_are_forwarded_as_they_arrive_and_a_half_written_line_waits(tmp_path):
    from pipeline.launcher import _forward_metrics

    path = tmp_path / "metrics.jsonl"
    logged = []
    log = lambda m, s: logged.append((s, m))  # noqa: E731
    assert _forward_metrics(path, 0, log) == 0 and logged == []  # no file yet
    path.write_text('{"step": 2, "loss": 0.5}\n{"step": 4, "lo')
    offset = _forward_metrics(path, 0, log)
    assert logged == [(2, {"loss": 0.5})]
    with path.open("a") as fh:
        fh.write('ss": 0.25, "note": "text is not a metric"}\n')
    _forward_metrics(path, offset, log)
    assert logged == [(2, {"loss": 0.5}), (4, {"loss": 0.25})]
