"""Quality at equal wall-clock budget: this project's loop against the classic recipe, same held-out measure.

Both loops train the same UNet on the same emoji for the same wall-clock (set-up included), in
alternating slices so a busy machine slows both alike. Then both EMA models are scored with one
measure that does not favour either objective: the held-out x0 reconstruction error. For each
held-out image, fixed noise and a fixed grid of signal-to-noise ratios, each model sees its own
parameterisation of the same noisy image (DDPM: sqrt(a) x0 + sqrt(1-a) n; flow: (1-s) x0 + s n,
with equal SNR) and its prediction is turned into an estimate of x0; the score is the mean squared
error against the clean image in [-1, 1] (lower is better).

    python benchmarks/quality_equal_budget.py --minutes 3 --out benchmarks/results/train_quality_equal_budget.json
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import ReferenceLoop

from tests.training.fixtures import write_governed
from training.config import TrainingConfig
from training.data import cached_images, dataset_digest, read_governed, to_model_range
from training.loop import train_step
from training.schedule import lr_multiplier
from training.session import build_session
from training.t2i_pipeline import call_denoiser, encode_text

LOG_SNRS = [-6.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0]


@torch.no_grad()
def x0_error(ours, ref, governed: Path, cache: Path, seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean squared x0 error per log-SNR for both EMA models on the eval split."""
    table = read_governed(governed, "eval")
    res = ours.images.shape[-1]
    x0 = to_model_range(cached_images(table, dataset_digest(table), res, cache, lambda *a: None))
    texts = table["text"].astype(str).tolist()
    emb, mask = encode_text(ours.tokenizer, ours.text_encoder, texts, ours.max_tokens)
    gen = torch.Generator().manual_seed(seed)
    alphas = ref.scheduler.alphas_cumprod
    ref_log_snr = torch.log(alphas / (1 - alphas))
    out: dict[str, dict[str, float]] = {"ours": {}, "reference": {}}
    ours_model, ref_model = ours.ema.model.eval(), ref.ema_model().eval()
    for log_snr in LOG_SNRS:
        noise = torch.randn(x0.shape, generator=gen)
        # flow: SNR = ((1 - s) / s)^2  ->  s = 1 / (1 + exp(log_snr / 2))
        s = 1.0 / (1.0 + math.exp(log_snr / 2))
        sig = torch.full((len(x0),), s)
        v = call_denoiser(ours_model, (1 - s) * x0 + s * noise, sig, emb, mask)
        out["ours"][str(log_snr)] = float((((1 - s) * x0 + s * noise - s * v) - x0).pow(2).mean())
        # DDPM: the discrete timestep whose SNR is nearest
        t = int(torch.argmin((ref_log_snr - log_snr).abs()))
        a = float(alphas[t])
        noisy = math.sqrt(a) * x0 + math.sqrt(1 - a) * noise
        eps = ref_model(
            noisy, torch.full((len(x0),), t), encoder_hidden_states=emb, encoder_attention_mask=mask
        ).sample
        pred = (noisy - math.sqrt(1 - a) * eps) / math.sqrt(a)
        out["reference"][str(log_snr)] = float((pred - x0).pow(2).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/train_quality_equal_budget.json")
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget of each loop")
    parser.add_argument("--images", type=int, default=1200)
    parser.add_argument("--slice", type=float, default=10.0, help="seconds per alternating slice")
    parser.add_argument(
        "--threads", type=int, default=1, help="same for both; 1 is fastest on a busy 2-core CPU"
    )
    parser.add_argument("--set", nargs="*", default=[], help="config overrides key=json")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    budget = args.minutes * 60
    work = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    governed = write_governed(work, args.images)
    cfg = TrainingConfig(
        **(
            {
                "cache_dir": str(work / "cache"),
                "measure_energy": False,
                "sample_prompts": [],
                "threads": args.threads,
            }
            | overrides
        )
    )
    torch.set_num_threads(args.threads)

    # set-up counts against each loop's budget (ours builds its caches here, from cold)
    t0 = time.perf_counter()
    ours = build_session(cfg, governed, work / "ours", time.time() + 3600, 0, lambda *a: None, time.time())
    spent = {"ours": time.perf_counter() - t0}
    t0 = time.perf_counter()
    ref = ReferenceLoop(cfg, governed, ours.images.shape[-1], ours.max_tokens, 0)
    spent["reference"] = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    steps = {"ours": 0, "reference": 0}
    images = {"ours": 0, "reference": 0}

    def ours_step():
        frac = min(1.0, spent["ours"] / budget)
        return train_step(
            ours, cfg.learning_rate * lr_multiplier(frac, cfg.warmup_fraction, cfg.decay_fraction)
        )[3]

    def ref_step():
        # the classic recipe: linear warm-up, then a constant learning rate
        frac = min(1.0, spent["reference"] / budget)
        for group in ref.opt.param_groups:
            group["lr"] = cfg.learning_rate * min(1.0, frac / max(cfg.warmup_fraction, 1e-9))
        return ref.step()

    loops = {"ours": ours_step, "reference": ref_step}
    while any(spent[name] < budget for name in loops):
        for name, step in loops.items():
            end = time.perf_counter() + min(args.slice, budget - spent[name])
            while spent[name] < budget and time.perf_counter() < end:
                t0 = time.perf_counter()
                images[name] += step()
                steps[name] += 1
                spent[name] += time.perf_counter() - t0
    scores = x0_error(ours, ref, governed, Path(cfg.cache_dir))
    mean = {name: sum(v.values()) / len(v) for name, v in scores.items()}
    result = {
        "benchmark": "train_quality_equal_budget",
        "measure": "held-out x0 reconstruction MSE in [-1, 1], EMA weights, mean over log-SNR "
        f"{LOG_SNRS}, same images/noise for both (lower is better)",
        "budget_s_each": budget,
        "wall_clock_s_used": spent,
        "steps": steps,
        "images_seen": images,
        "config": {
            "resolution": int(ours.images.shape[-1]),
            "batch_size": cfg.batch_size,
            "learning_rate": cfg.learning_rate,
            "block_out_channels": list(ours.unwrapped.config.block_out_channels),
            "train_images": len(ours.images),
            "eval_images": int((read_governed(governed, None)["split"] == "eval").sum()),
            "threads": args.threads,
        },
        "x0_mse_by_log_snr": scores,
        "x0_mse_mean": mean,
        "ours_better": mean["ours"] < mean["reference"],
        "relative_improvement": 1 - mean["ours"] / mean["reference"],
        "load_average_at_end": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("steps", "x0_mse_mean", "ours_better")}, indent=2))


if __name__ == "__main__":
    main()
