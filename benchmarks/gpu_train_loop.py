"""The project's own training loop (`training.api.train`) on one GPU: the `base` transformer at 256 px.

`gpu_mfu.py` times the bare model step; this runs everything `pipeline run` runs in its training stage
(image and text-embedding caches, batches drawn by the sampler, caption dropout, EMA, gradient clipping,
checkpoints on a timer, sample grids, the inference measurement, the compute report) for a short budget,
and reports the training report's numbers next to the steady-state throughput of its logged windows
(the report's own images/s counts the minute of compiling into a short run).

    python benchmarks/gpu_train_loop.py OUT_DIR [--budget 150] [--batch 64] [--no-compile]
    python benchmarks/gpu_train_loop.py OUT_DIR --smoke      # tiny sizes on a CPU, no compile

Self-contained: synthetic captioned images and a small random BERT text encoder are written on the spot
(nothing is downloaded), so the numbers are about speed, not image quality.
"""

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from PIL import Image

from governance.manifest import Col
from training.api import train
from training.compute import peak_flops
from training.config import TrainingConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_shapes import VOCABULARY, shape_image


def write_dataset(directory: Path, n: int, side: int, seed: int = 0) -> Path:
    """`n` images of a coloured shape on a plain background, captioned, as a governed table."""
    rng = random.Random(seed)
    rows = []
    images = directory / "images"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, caption = shape_image(
            rng, lambda: Image.new("RGB", (side, side), tuple(rng.randrange(256) for _ in range(3)))
        )
        path = images / f"{i:05d}.png"
        img.save(path)
        rows.append((path, caption))
    table = pd.DataFrame(
        {
            Col.RECORD_ID: [f"synthetic:{i:05d}" for i in range(n)],
            Col.PATH: [str(p.resolve()) for p, _ in rows],
            Col.TEXT: [c for _, c in rows],
            Col.SPLIT: ["eval" if i % 10 == 0 else "train" for i in range(n)],
            Col.CONTENT_SHA256: [hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in rows],
        }
    )
    out = directory / "governed.parquet"
    table.to_parquet(out)
    return out


def write_text_encoder(directory: Path, width: int = 384) -> Path:
    """A 2-layer BERT with random weights and a vocabulary of the captions' words (MiniLM's width)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    config = BertConfig(
        vocab_size=len(VOCABULARY),
        hidden_size=width,
        num_hidden_layers=2,
        num_attention_heads=width // 64,
        intermediate_size=4 * width,
    )
    BertModel(config).save_pretrained(directory, safe_serialization=True)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="working directory; the result is OUT/result.json")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds, set-up and compiling included")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny preset at 16 px on a CPU")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    side = 32 if args.smoke else 256
    governed = write_dataset(args.out / "data", 48 if args.smoke else args.images, side)
    encoder = write_text_encoder(args.out / "text-encoder", width=64 if args.smoke else 384)
    sizes = (
        {"preset": "tiny", "resolution": 16, "block_out_channels": [32], "layers_per_block": 1, "threads": 1}
        if args.smoke
        else {"preset": "base"}
    )
    cfg = TrainingConfig(
        architecture="transformer",
        batch_size=4 if args.smoke else args.batch,
        compile=not (args.smoke or args.no_compile),
        text_encoder=str(encoder),
        text_encoder_license="Apache-2.0",
        sample_prompts=["a red circle", "a blue square"],
        sample_seeds=[0],
        sample_steps=4 if args.smoke else 20,
        checkpoint_every="10m",
        log_every=10,
        cache_dir=str(args.out / "cache"),
        **sizes,
    )
    windows: list[dict] = []
    started = time.time()
    report = train(
        cfg,
        governed,
        args.out / "run",
        started + args.budget,
        0,
        lambda metrics, step: windows.append({"step": step, "t": time.time() - started} | metrics),
        lambda *a: None,
    )
    ended = time.time()
    # steady state: the logged windows after the first third of the steps (compiling, warm-up excluded)
    steady = [w["images_per_s"] for w in windows[len(windows) // 3 :]] or [report.throughput_images_per_s]
    steady_ips = statistics.median(steady)
    compute = report.compute
    peak = peak_flops(compute.device_name, compute.precision) if compute.device_type == "cuda" else None
    result = {
        "benchmark": "gpu_train_loop",
        "what": "training.api.train, base transformer preset (PixArt-style), synthetic data",
        "budget_s": args.budget,
        "returned_s_before_deadline": started + args.budget - ended,
        "steps": report.steps,
        "images_seen": report.images_seen,
        "batch": cfg.batch_size,
        "report_images_per_s": report.throughput_images_per_s,
        "report_step_images_per_s": report.step_images_per_s,
        "report_mfu": compute.mfu,
        "steady_images_per_s_median": steady_ips,
        "steady_mfu": compute.flops_per_image * steady_ips / peak
        if (peak and compute.flops_per_image)
        else None,
        "first_window": windows[0] if windows else None,
        "windows": len(windows),
        "inference_images_per_s": report.inference_images_per_s,
        "cost_per_million_images": report.cost_per_million_images,
        "parameters": report.parameters,
        "compute": compute.model_dump(mode="json"),
        "stopped_reason": report.stopped_reason,
        "final_loss": report.final_loss,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "compute"}, indent=2))
    print(json.dumps(compute.model_dump(mode="json"), indent=2))


if __name__ == "__main__":
    main()
