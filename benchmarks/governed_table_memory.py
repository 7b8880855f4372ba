"""Benchmark: memory that training and the audits take to read the governed table, per record.

Before a step or an audit runs, both read the governed table (governance's output, kept records
only): training its five columns of the train split (`training.data.read_governed`), then the dataset
digest, the captions as a list (as `training.session` makes it for the embeddings) and the shards'
plan and jobs (`training.data.training_images` with the shard writer's per-shard work replaced by a
stub, so no image is decoded); the audits all records with paths, captions,
splits and attributes (`audits.governed_data.read_governed`, then `train_and_eval`). Nothing is
trained: this is the per-record index, whatever the images cost. The peak is that of the main
process (the writer's forked workers only receive jobs).

The table is a real governed.parquet (a `pipeline run --until governance` output, e.g. the one
benchmarks/governance_memory.py makes), tiled with new record ids to larger sizes (`--sizes`), so
1,000,000 records cost a copy of a file, not a governance run. Each reader runs in a fresh
subprocess; its peak is `ru_maxrss` minus the RSS after its imports. PYTHONPATH picks the code, so
two versions are measured on the same tables. Load averages are recorded before and after each.

    python benchmarks/governed_table_memory.py --governed runs/.../governed.parquet \\
        --sizes 100000 1000000 --label after
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "governed_table_memory.json"

_READER = """
import json, resource, sys, tempfile
from pathlib import Path
import psutil
which, path = sys.argv[1], Path(sys.argv[2])
if which == "training":
    import training.shard_writer
    from training.data import dataset_digest, read_governed, training_images

    def write_shard(job):  # the plan and the jobs as training makes them; no image decoded or written
        return [min(job.group_rows, len(job.rows) - s) for s in range(0, len(job.rows), job.group_rows)]

    training.shard_writer.write_shard = write_shard
else:
    from audits.governed_data import read_governed, train_and_eval
import pandas, pyarrow.parquet  # either code may import them lazily: not the table's memory
base = psutil.Process().memory_info().rss
if which == "training":
    table = read_governed(path, "train")
    digest = dataset_digest(table)
    texts = table["text"].astype(str).tolist()  # as training.session lists them for the embeddings
    with tempfile.TemporaryDirectory() as cache:
        index = training_images(table, digest, 32, Path(cache), 0, lambda *a: None)
    out = {"records": len(table), "digest": digest, "row_groups": len(index.groups)}
else:
    train, held_out = train_and_eval(read_governed(path))
    out = {"records": len(train) + len(held_out), "train": len(train),
           "first": train.record_ids[0], "attributes": sum(bool(a) for a in train.attributes)}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out["imports_rss_mb"] = round(base / 2**20, 1)
out["peak_above_imports_mb"] = round((peak - base) / 2**20, 1)
print(json.dumps(out))
"""


def tiled(governed: Path, records: int, out: Path) -> Path:
    """`governed` repeated (record ids suffixed `~k` for the k-th copy) to `records` rows."""
    table = pq.read_table(governed)
    parts, k = [], 0
    while sum(len(p) for p in parts) < records:
        part = table.slice(0, records - sum(len(p) for p in parts))
        if k:
            ids = pc.binary_join_element_wise(part["record_id"], pa.scalar(f"~{k}"), "")
            part = part.set_column(part.schema.get_field_index("record_id"), "record_id", ids)
        parts.append(part)
        k += 1
    pq.write_table(pa.concat_tables(parts), out)
    return out


def measure(which: str, table: Path) -> dict:
    """Peak memory of one reader on one table, in a fresh process."""
    load_before = os.getloadavg()
    done = subprocess.run(
        [sys.executable, "-c", _READER, which, str(table)], capture_output=True, text=True, env=os.environ
    )
    if done.returncode:
        raise SystemExit(f"{which} on {table} failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["load_average_before"] = [round(x, 2) for x in load_before]
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--governed", type=Path, required=True, help="a governed.parquet to tile")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--label", default="after")
    parser.add_argument("--code", default="this change", help="which code was measured (a commit)")
    parser.add_argument("--tables", type=Path, help="keep the tiled tables here (reused when present)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    columns = pq.read_schema(args.governed).names
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.tables or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            table = folder / f"governed-{size}.parquet"
            if not table.exists():
                tiled(args.governed, size, table)
            run = {"records": size, "file_mb": round(table.stat().st_size / 2**20, 1)}
            for which in ("training", "audits"):
                run[which] = measure(which, table)
                print(json.dumps({"size": size, which: run[which]}), flush=True)
            runs.append(run)
    results[args.label] = {"code": args.code, "columns": columns, "cores": os.cpu_count(), "runs": runs}
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
