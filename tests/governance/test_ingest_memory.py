"""Ingest reads shard sources as it goes, and a resume notices a tar rewritten under the same names."""

import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from governance import stages
from governance.config import DataConfig, GovernanceConfig, NsfwConfig
from governance.sources import load_source
from governance.sources import webdataset as wds
from governance.tables import read_ingest
from tests.governance.img2dataset_shards import EMOJI, SCHEMA, _meta, _sample, jpeg

PER_TAR = 3


def _write(root: Path, tars: int, offset: int = 0) -> None:
    """`tars` shards of PER_TAR Twemoji samples; `offset` picks other glyphs for the same keys."""
    root.mkdir(exist_ok=True)
    for s in range(tars):
        rows = []
        with tarfile.open(root / f"{s:05d}.tar", "w") as tar:
            for i in range(PER_TAR):
                meta = _meta(f"{s:05d}{i:04d}", i)
                rows.append(meta)
                _sample(tar, meta, jpeg(EMOJI[(s * PER_TAR + i + offset) % len(EMOJI)]))
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), root / f"{s:05d}.parquet")


def _cfg(root: Path) -> GovernanceConfig:
    return GovernanceConfig(
        data=DataConfig(source="webdataset", path=root),
        nsfw=NsfwConfig(enabled=False),
        num_proc=1,
        batch_size=PER_TAR,
    )


def test_records_point_at_their_tar_member_and_come_one_tar_at_a_time(tmp_path):
    _write(tmp_path / "data", 3)
    batches = list(load_source(DataConfig(source="webdataset", path=tmp_path / "data")).batches())
    assert [len(b) for b in batches] == [PER_TAR] * 3
    rec = batches[1][2]
    assert rec.data is None and rec.member is not None
    assert rec.member.file == str((tmp_path / "data" / "00001.tar").resolve())
    assert rec.member.read() == jpeg(EMOJI[5])


def test_ingest_writes_a_shard_before_reading_the_whole_source(tmp_path, monkeypatch):
    tars = 6
    _write(tmp_path / "data", tars)
    opened: list[str] = []
    real = wds.read_shard

    def counting(path, max_bytes):
        opened.append(path.name)
        return real(path, max_bytes)

    monkeypatch.setattr(wds, "read_shard", counting)
    read_when_first_written: list[int] = []

    def progress(stage, done, total):
        if done > 0 and not read_when_first_written:
            read_when_first_written.append(len(opened))

    counts = stages.ingest(_cfg(tmp_path / "data"), tmp_path / "work", progress)
    assert counts.metrics["records_ingested_now"] == tars * PER_TAR
    assert len(opened) == tars  # every tar read once
    # the first shard was written while most tars were still unread
    assert read_when_first_written and read_when_first_written[0] <= 2


def test_a_tar_rewritten_under_the_same_names_is_ingested_again_on_resume(tmp_path):
    data, work = tmp_path / "data", tmp_path / "work"
    _write(data, 2)
    first = stages.ingest(_cfg(data), work, lambda *a: None)
    before = read_ingest(work).set_index("record_id")["content_sha256"]
    again = stages.ingest(_cfg(data), work, lambda *a: None)
    assert first.metrics["records_ingested_now"] == 6 and again.metrics["records_ingested_now"] == 0

    stat = (data / "00001.tar").stat()
    _write(data, 2, offset=1)  # same keys and member names, other images
    os.utime(data / "00001.tar", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = stages.ingest(_cfg(data), work, lambda *a: None)
    after = read_ingest(work).set_index("record_id")["content_sha256"]
    assert changed.metrics["records_ingested_now"] == 6
    assert list(after.index) == list(before.index)
    assert (after != before).all()
    assert after["00001/000010000"] == before["00001/000010001"]  # the glyph now under that key
