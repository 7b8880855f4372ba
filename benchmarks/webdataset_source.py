"""Benchmark: reading img2dataset WebDataset shards (tar + sidecar Parquet) into source records.

Shards are written in img2dataset's layout from real Twemoji glyphs (JPEG, 72 px), 500 samples per
shard with one failed download in ten. For 2 and 8 shards it measures the wall time of
reading every batch of `load_source` and, in a second read that keeps one tar's records at a time
(as ingest does), the peak Python allocation (tracemalloc). Records point at their tar member
instead of holding its bytes, so the peak should not grow with the number of shards.

Writes benchmarks/results/webdataset_source.json.

    python benchmarks/webdataset_source.py
"""

import io
import json
import sys
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from governance.config import DataConfig
from governance.sources import load_source
from tests.governance.img2dataset_shards import EMOJI, SCHEMA, _meta, jpeg

PER_SHARD = 500


def write_shards(root: Path, shards: int) -> int:
    images = [jpeg(stem) for stem in EMOJI]
    for s in range(shards):
        rows = []
        with tarfile.open(root / f"{s:05d}.tar", "w") as tar:
            for i in range(PER_SHARD):
                key = f"{s:05d}{i:04d}"
                failed = i % 10 == 9
                meta = _meta(
                    key, i, "failed_to_download" if failed else "success", "timeout" if failed else None
                )
                rows.append(meta)
                if failed:
                    continue
                for name, data in (
                    (f"{key}.jpg", images[i % len(images)]),
                    (f"{key}.json", json.dumps(meta, indent=4).encode()),
                    (f"{key}.txt", meta["caption"].encode()),
                ):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), root / f"{s:05d}.parquet")
    return shards * PER_SHARD


def measure(shards: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        n = write_shards(root, shards)
        tar_bytes = sum(p.stat().st_size for p in root.glob("*.tar"))
        cfg = DataConfig(source="webdataset", path=root)
        started = time.perf_counter()
        counted = sum(len(batch) for batch in load_source(cfg).batches())
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second read: tracemalloc slows allocation, so it is not timed
        held = decisions = records = 0
        for batch in load_source(cfg).batches():  # one tar's records at a time, as ingest takes them
            records += len(batch)
            decisions += sum(bool(r.findings) for r in batch)
            held = max(held, sum(len(r.data or b"") for r in batch))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert records == counted == n
        return {
            "shards": shards,
            "records": n,
            "tar_bytes": tar_bytes,
            "image_bytes_held_per_batch": held,
            "seconds": round(seconds, 3),
            "records_per_second": round(n / seconds),
            "peak_traced_bytes": peak,
            "decisions_from_source": decisions,
        }


def main() -> None:
    results = [measure(2), measure(8)]
    out = Path(__file__).with_name("results") / "webdataset_source.json"
    out.write_text(json.dumps({"per_shard": PER_SHARD, "runs": results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
