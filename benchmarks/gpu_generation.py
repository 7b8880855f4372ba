"""Generation speed of the `base` transformer preset (256 px) at the audits' sampler settings, eager vs compiled.

Measures images per second at batch 1 (one image per pipeline call, as the card's inference figure is
taken today) and at the audits' batch (`audits.quality.batch_size`, through `audits.generation`'s
`pipeline_generator`, the audits' own path), each eager and with `audits.compile` on; optionally with
bf16 autocast. The cost per million images comes from the fastest batched rate and the device's price
in `training.prices`.

    python benchmarks/gpu_generation.py OUT_DIR [--bf16]     # OUT_DIR/result.json
    python benchmarks/gpu_generation.py OUT_DIR --smoke      # tiny sizes on a CPU (compile: eager backend)

Self-contained: random weights and a small random BERT text encoder made on the spot (nothing is
downloaded), so the numbers are about speed, not image quality.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_train_loop import write_text_encoder

from audits.config import QualityConfig
from audits.generation import compile_denoiser, pipeline_generator
from training.compute import device_description
from training.config import TrainingConfig
from training.export import make_pipeline
from training.presets import build_denoiser, resolve_resolution
from training.prices import applied_price

PROMPTS = ["a red circle", "a blue square", "a green triangle", "a yellow circle"]


def build(out: Path, smoke: bool, device: str):
    """A random-weight pipeline of the base preset (or a tiny one for --smoke) on `device`."""
    encoder_dir = write_text_encoder(out / "text-encoder", width=64 if smoke else 384)
    from transformers import BertModel, BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(encoder_dir)
    encoder = BertModel.from_pretrained(encoder_dir).eval()
    sizes = (
        {"preset": "tiny", "resolution": 16, "block_out_channels": [32], "layers_per_block": 1}
        if smoke
        else {"preset": "base"}
    )
    cfg = TrainingConfig(architecture="transformer", **sizes)
    side = resolve_resolution(cfg)
    torch.manual_seed(0)
    denoiser = build_denoiser(cfg, encoder.config.hidden_size, 3, side).eval()
    return make_pipeline(denoiser, encoder, tokenizer, 32, 20, 3.0).to(device), side


def timed(run, images_per_call: int, min_s: float, min_calls: int) -> dict:
    """First call timed alone (compiling, warm-up), then calls until `min_s` and `min_calls` are both met."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    start = time.perf_counter()
    run(0)
    sync()
    first = time.perf_counter() - start
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_s:
        run(calls + 1)
        calls += 1
    sync()
    elapsed = time.perf_counter() - start
    return {
        "first_call_s": first,
        "calls": calls,
        "images": calls * images_per_call,
        "seconds": elapsed,
        "images_per_s": calls * images_per_call / elapsed,
    }


def measure(pipe, batch: int, steps: int, guidance: float, args) -> dict:
    """Images/s at batch 1 (direct pipeline calls) and at `batch` (the audits' generator)."""
    one = timed(
        lambda i: pipe(
            PROMPTS[i % len(PROMPTS)],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(i),
            output_type="np",
        ),
        1,
        args.min_seconds,
        args.min_calls,
    )
    generate = pipeline_generator(pipe, steps, guidance, batch_size=batch, tune_threads=False)
    # one call of `batch` images past the generator's two small probe batches, as in a long audit
    n = batch + 2 * 4
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    batched = timed(
        lambda i: generate(prompts, list(range(i * n, (i + 1) * n))), n, args.min_seconds, args.min_calls
    )
    return {"batch_1": one, f"batch_{batch}": batched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="working directory; the result is OUT/result.json")
    parser.add_argument("--batch", type=int, default=QualityConfig().batch_size, help="the audits' batch")
    parser.add_argument("--bf16", action="store_true", help="also measure compiled under bf16 autocast")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--min-seconds", type=float, default=5.0, help="timed seconds per measurement")
    parser.add_argument("--min-calls", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on a CPU, compile backend eager")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # on a busy 2-core CPU one thread ran the smoke 2-3x faster
    args.out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    defaults = QualityConfig()
    steps, guidance = (2 if args.smoke else defaults.sample_steps), defaults.guidance_scale
    batch = 4 if args.smoke else args.batch
    if args.smoke:
        args.min_seconds, args.min_calls = 0.0, 1
    pipe, side = build(args.out, args.smoke, device)
    results = {"eager": measure(pipe, batch, steps, guidance, args)}
    if not args.no_compile:
        # inductor on CUDA; on a CPU smoke run the graph capture alone (inductor takes minutes there)
        compile_denoiser(pipe, "on", backend="eager" if args.smoke else "inductor")
        results["compiled"] = measure(pipe, batch, steps, guidance, args)
        if args.bf16 and device == "cuda":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                results["compiled_bf16_autocast"] = measure(pipe, batch, steps, guidance, args)
    device_type, device_name = device_description(torch.device(device))
    train_cfg = TrainingConfig()
    price = applied_price(device_type, device_name, train_cfg.prices, train_cfg.currency)
    batched = {k: v[f"batch_{batch}"]["images_per_s"] for k, v in results.items()}
    best = max(batched, key=batched.get)

    def per_million(ips: float) -> float | None:
        return 1e6 / ips / 3600 * price.per_device_hour if price.per_device_hour is not None else None

    result = {
        "benchmark": "gpu_generation",
        "what": "T2IPipeline, base transformer preset, random weights, audits' sampler settings",
        "device_type": device_type,
        "device_name": device_name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "smoke": args.smoke,
        "resolution": side,
        "sample_steps": steps,
        "guidance_scale": guidance,
        "audits_batch": batch,
        "results": results,
        "fastest_batched": best,
        "speedup_batched_best_over_eager_batch_1": batched[best]
        / results["eager"]["batch_1"]["images_per_s"],
        "cost_per_million_images": per_million(batched[best]),
        "cost_per_million_images_eager_batch_1": per_million(results["eager"]["batch_1"]["images_per_s"]),
        "price": price.model_dump(mode="json"),
        "threads": torch.get_num_threads(),
        "loadavg": os.getloadavg(),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
