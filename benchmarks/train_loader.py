"""Training input pipeline: images/s the shard loader delivers against what the model consumes, and memory.

Synthetic images (64 px PNGs of random rectangles on a gradient, generated here) stand in for a governed
dataset. For each resolution (`tiny` 32 px, `base` 256 px) and dataset size it measures, each in a
fresh subprocess so that peak memory is its own:
- write: the parallel shard writer (decode, resize, write Parquet) in images/s;
- stream: `ShardBatches.next_batch()` with 0, 1 and 2 DataLoader workers, in images/s, with the peak
  RSS of the training process and the peak PSS of it plus its workers (forked workers share pages,
  so PSS does not count them twice);
- memory: the in-memory path (single-threaded decode into one uint8 tensor, then batches by index);
- consume: the tiny preset's denoiser training steps (forward, backward, AdamW) at the batch size, in
  images/s (steps/s x batch), on random inputs. The base preset is a GPU preset: its UNet at batch 8
  took 16.6 GB of this 23 GB machine's memory before one CPU step finished, so its consumer is the
  compiled base step measured on an H100 (benchmarks/results/train_gpu_mfu_h100.json), read from there.
The machine is shared: `os.getloadavg()` is recorded before and after each measurement; every
measurement uses one torch thread.

    python benchmarks/train_loader.py --out benchmarks/results/train_loader.json
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESOLUTIONS = {"tiny": 32, "base": 256}
SOURCE_SIDE = 64


def make_dataset(directory: Path, n: int) -> Path:
    """n synthetic PNGs and a governed table listing them (the governance stage's output columns)."""
    import hashlib

    import numpy as np
    import pandas as pd
    from PIL import Image

    images = directory / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, SOURCE_SIDE, dtype=np.float32)
    rows = []
    for i in range(n):
        file = images / f"{i:07d}.png"
        if not file.exists():
            tint = rng.integers(0, 256, 3).astype(np.float32)
            img = (0.5 * ramp[None, :, None] + 0.5 * tint[None, None, :]).repeat(SOURCE_SIDE, 0)
            x, y, w, h = rng.integers(0, SOURCE_SIDE // 2, 4) + np.array([0, 0, 8, 8])
            img[y : y + h, x : x + w] = rng.integers(0, 256, 3)
            Image.fromarray(img.astype(np.uint8)).save(file, compress_level=1)
        rows.append((f"synthetic:{i:07d}", str(file), f"shape {i % 97}"))
    table = pd.DataFrame(rows, columns=["record_id", "path", "text"])
    table["split"] = "train"
    table["content_sha256"] = [hashlib.sha256(r.encode()).hexdigest() for r in table["record_id"]]
    governed = directory / f"governed-{n}.parquet"
    table.to_parquet(governed)
    return governed


class PeakMemory:
    """Samples the RSS of this process and the PSS of it plus its children every 0.2 s."""

    def __init__(self):
        import psutil

        self.me, self.peak_pss = psutil.Process(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                with contextlib.suppress(Exception):  # a worker that just exited
                    total += p.memory_full_info().pss
            self.peak_pss = max(self.peak_pss, total)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def report(self) -> dict:
        return {
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_pss_with_workers_mb": round(self.peak_pss / 2**20, 1),
        }


def _table(governed: Path):
    from training.data import dataset_digest, read_governed

    table = read_governed(governed, "train")
    return table, dataset_digest(table)


def child_write(governed: Path, side: int, work: Path) -> dict:
    from training.shard_writer import shard_dir_for, write_shards

    table, digest = _table(governed)
    shutil.rmtree(shard_dir_for(work, digest, side), ignore_errors=True)  # measure a write, not a reuse
    with PeakMemory() as mem:
        start = time.time()
        write_shards(
            table["record_id"].tolist(),
            table["path"].tolist(),
            digest,
            side,
            shard_dir_for(work, digest, side),
            2,
        )
        seconds = time.time() - start
    files = list(shard_dir_for(work, digest, side).glob("*.parquet"))
    return {
        "shard_dir": str(shard_dir_for(work, digest, side)),
        "images_per_s": round(len(table) / seconds, 1),
        "seconds": round(seconds, 1),
        "writer_processes": 2,
        "shard_files": len(files),
        "disk_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1),
        "raw_pixels_mb": round(len(table) * 3 * side * side / 1e6, 1),
    } | mem.report()


def _rate(next_batch, batch: int, seconds: float) -> dict:
    next_batch()  # the first batch starts the workers
    start, n = time.time(), 0
    while time.time() - start < seconds:
        next_batch()
        n += batch
    return {"images_per_s": round(n / (time.time() - start), 1), "images": n}


def child_stream(shards: Path, workers: int, batch: int, seconds: float) -> dict:
    from training.shard_writer import INDEX_FILE
    from training.shards import ShardBatches, ShardIndex

    # the loader alone: the governed table (which training also holds) is not read here
    index = ShardIndex.read(shards / INDEX_FILE)
    with PeakMemory() as mem:
        loader = ShardBatches(index, batch, seed=0, workers=workers)
        result = _rate(loader.next_batch, batch, seconds)
    return result | {"workers": workers, "row_groups": len(index.groups)} | mem.report()


def child_memory(governed: Path, side: int, work: Path, batch: int, seconds: float) -> dict:
    from training.data import EpochSampler, cached_images

    table, digest = _table(governed)
    shutil.rmtree(work / "memory", ignore_errors=True)
    with PeakMemory() as mem:
        start = time.time()
        images = cached_images(table, digest, side, work / "memory", lambda *a: None)
        decode_s = time.time() - start
        sampler = EpochSampler(len(images), batch, seed=0)
        result = _rate(lambda: images[sampler.next_indices()], batch, seconds)
    return result | {"decode_images_per_s": round(len(table) / decode_s, 1)} | mem.report()


def child_consume(preset: str, batch: int, steps: int) -> dict:
    import torch

    from training.config import TrainingConfig
    from training.flow import RectifiedFlow
    from training.presets import build_denoiser
    from training.session import resolve_precision
    from training.t2i_pipeline import call_denoiser

    torch.set_flush_denormal(True)  # as training does
    cfg = TrainingConfig(preset=preset, batch_size=batch)
    side = RESOLUTIONS[preset]
    model = build_denoiser(cfg, 384, in_channels=3, sample_size=side)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    precision = resolve_precision(cfg, torch.device("cpu"))
    flow, gen = RectifiedFlow(), torch.Generator().manual_seed(0)
    x0 = torch.rand(batch, 3, side, side) * 2 - 1
    emb, mask = torch.randn(batch, 16, 384), torch.ones(batch, 16, dtype=torch.long)

    def step():
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.enable_grad()
        with ctx:
            loss, _, _ = flow.loss(lambda *a: call_denoiser(model, *a), x0, emb, mask, generator=gen)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # allocations and kernel choice
    start = time.time()
    for _ in range(steps):
        step()
    per_step = (time.time() - start) / steps
    return {
        "batch": batch,
        "steps": steps,
        "steps_per_s": round(1 / per_step, 3),
        "images_per_s": round(batch / per_step, 1),
        "precision": precision,
        "torch_threads": torch.get_num_threads(),
    }


def _child(args) -> None:
    import torch

    # one intra-op thread, as training on a shared 2-core CPU is configured (training.threads): with
    # two threads under a load of 14, indexing a cached tensor alone fell to 1.5k images/s
    torch.set_num_threads(1)
    work, governed, side = Path(args.work or "."), Path(args.governed or "."), RESOLUTIONS[args.preset]
    if args.child == "write":
        result = child_write(governed, side, work)
    elif args.child == "stream":
        result = child_stream(Path(args.shards), args.workers, args.batch, args.seconds)
    elif args.child == "memory":
        result = child_memory(governed, side, work, args.batch, args.seconds)
    else:
        result = child_consume(args.preset, args.batch, args.steps)
    print("RESULT " + json.dumps(result), flush=True)


def run_child(*argv: str) -> dict:
    before = os.getloadavg()
    done = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, timeout=3600, cwd=REPO
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv}: {done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    result["load_average_before_after"] = [round(before[0], 2), round(os.getloadavg()[0], 2)]
    print(argv, result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/train_loader.json")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--base-sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=8.0, help="per streaming measurement")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--child", choices=["write", "stream", "memory", "consume"])
    parser.add_argument("--governed"), parser.add_argument("--preset", default="tiny")
    parser.add_argument("--shards", help="a shard folder, for --child stream")
    parser.add_argument("--workers", type=int, default=0), parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    if args.child:
        return _child(args)
    import psutil

    work = args.work or Path(tempfile.mkdtemp(prefix="train-loader-"))
    result = {
        "what": "images/s delivered by the shard loader vs the denoiser's consumption; peak memory by size",
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "synthetic_images": f"{SOURCE_SIDE} px PNGs, random rectangles on a gradient",
        "batch": args.batch,
        "consume": {},
        "runs": [],
    }
    result["consume"]["tiny"] = run_child(
        "--child", "consume", "--preset", "tiny", "--batch", str(args.batch), "--work", str(work)
    )
    gpu = json.loads((REPO / "benchmarks/results/train_gpu_mfu_h100.json").read_text())
    result["consume"]["base"] = {
        "images_per_s": round(gpu["images_per_s"], 1),
        "batch": gpu["batch"],
        "measured_on": f"{gpu['device']}, compiled, {gpu['precision']} (benchmarks/results/train_gpu_mfu_h100.json)",
    }
    for preset, sizes in (("tiny", args.sizes), ("base", args.base_sizes)):
        for n in sizes:
            governed = make_dataset(work, n)
            common = ["--governed", str(governed), "--preset", preset, "--work", str(work)]
            side = RESOLUTIONS[preset]
            run = {"preset": preset, "resolution": side, "images": n}
            run["write"] = run_child("--child", "write", *common)
            timing = ["--batch", str(args.batch), "--seconds", str(args.seconds)]
            shards = ["--shards", run["write"]["shard_dir"]]
            run["stream"] = [
                run_child("--child", "stream", *shards, "--workers", str(w), *timing) for w in (0, 1, 2)
            ]
            needed, available = n * 3 * side * side, psutil.virtual_memory().available
            if needed > available / 2:
                run["memory"] = {
                    "skipped": f"the in-memory tensor needs {needed / 1e9:.1f} GB; "
                    f"{available / 1e9:.1f} GB of memory were available"
                }
            else:
                run["memory"] = run_child("--child", "memory", *common, *timing)
            result["runs"].append(run)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1))
    result["machine"]["load_average_at_end"] = os.getloadavg()
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
