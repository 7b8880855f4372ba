"""Benchmark: ingest records/s with governance.engine=local vs ray on the same 2 CPUs.

Ingest is the stage the engine runs (the passes after it are the same code either way). Each pair
runs the local engine, then the Ray engine on a local Ray instance started once with `num_cpus=2`
(its start-up is reported apart: a cluster is started once, not per run), each in a fresh work
folder, alternating `--repeats` times; the ratio uses the fastest of each, every run is in the JSON,
and the two engines' ingest tables are checked to be identical. Target: ray within 1.3x of local.
The machine is shared, so the load average is recorded before and after.

    python benchmarks/governance_engines.py [--limit N] [--repeats 2]          # the built-in emoji
    python benchmarks/governance_engines.py --synthetic 10000                    # img2dataset shards

`--synthetic N` writes N records of img2dataset output first (benchmarks/governance_memory.py's
shards: 64 px JPEGs, 3% failed downloads, planted exact and near copies). Results are merged into
benchmarks/results/governance_engines.json under `<source>_<records>`.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from governance import stages
from governance.config import DataConfig, GovernanceConfig

RESULTS = Path(__file__).parent / "results" / "governance_engines.json"


def _ingest(cfg: GovernanceConfig, work: Path) -> tuple[float, int]:
    """Seconds and records of one ingest into `work` (emptied first)."""
    if work.exists():
        shutil.rmtree(work)
    t = time.perf_counter()
    counts = stages.ingest(cfg, work, lambda *a: None)
    return time.perf_counter() - t, counts.records_in


def _table(work: Path):
    table = pq.read_table(work / "ingest" / "records.parquet")
    return table.drop_columns(["path"]).sort_by("index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="emoji", choices=["emoji", "webdataset"])
    parser.add_argument("--path", type=Path, help="dataset folder for --source webdataset")
    parser.add_argument("--synthetic", type=int, help="write this many img2dataset records and use them")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import ray

    synthetic = tempfile.TemporaryDirectory() if args.synthetic else None
    if synthetic is not None:
        sys.path.insert(0, str(Path(__file__).parent))
        from governance_memory import write_shards

        args.source, args.path = "webdataset", Path(synthetic.name)
        write_shards(args.path, args.synthetic)
    load_before = os.getloadavg()
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start = time.perf_counter() - t
    data = DataConfig(source=args.source, path=args.path, limit=args.limit)
    runs: dict[str, list[float]] = {"local": [], "ray": []}
    records = 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for engine in ("local", "ray"):
                seconds, records = _ingest(GovernanceConfig(data=data, engine=engine), Path(tmp) / engine)
                runs[engine].append(round(seconds, 2))
                print(f"{engine}: {records} records in {seconds:.1f} s", flush=True)
        identical = _table(Path(tmp) / "local").equals(_table(Path(tmp) / "ray"))
    ray.shutdown()
    best = {k: min(v) for k, v in runs.items()}
    result = {
        "what": "ingest (the stage governance.engine runs) on the same data, local engine vs Ray Data on "
        "a local Ray instance with num_cpus=2; fastest of the repeats",
        "source": args.source,
        "records": records,
        "repeats": args.repeats,
        "seconds": runs,
        "records_per_second": {k: round(records / v, 1) for k, v in best.items()},
        "ray_over_local": round(best["ray"] / best["local"], 3),
        "target_ray_over_local": 1.3,
        "ray_init_seconds": round(ray_start, 2),
        "ingest_tables_identical": identical,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "ray_version": ray.__version__,
        "python": platform.python_version(),
        "note": "measured under load from other work on this shared 2-core machine",
    }
    if synthetic is not None:
        synthetic.cleanup()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    if "what" in merged:  # the first result, written before results were keyed by dataset
        merged = {f"{merged['source']}_{merged['records']}": merged}
    merged[f"{args.source}_{records}"] = result
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
