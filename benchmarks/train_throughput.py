"""Training throughput: this project's loop against the classic diffusers recipe, side by side in one run.

Reference (the classic `train_text_to_image.py` recipe): diffusers UNet2DConditionModel, DDPMScheduler
epsilon loss, fp32, the text encoder run on every step, PIL decoding in the DataLoader, plain AdamW,
diffusers EMAModel. Ours: the real `training` step (cached decoded images and caption embeddings,
flow matching, channels-last, foreach AdamW, our EMA) at the chosen precision.
Same model size, same data, same batch. The two alternate in rounds so a busy machine slows both alike.

    python benchmarks/train_throughput.py --out benchmarks/results/train_throughput.json
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.training.fixtures import write_governed
from training.compute import cpu_name
from training.config import TrainingConfig
from training.data import decode_image, read_governed
from training.loop import train_step
from training.presets import build_denoiser
from training.session import build_session
from training.text_encoder import load_text_encoder


class ReferenceLoop:
    """The classic recipe, written the way the diffusers example does it."""

    def __init__(self, cfg: TrainingConfig, governed: Path, resolution: int, max_tokens: int, seed: int):
        from diffusers import DDPMScheduler
        from diffusers.training_utils import EMAModel
        from torch.utils.data import DataLoader, Dataset

        table = read_governed(governed, "train")

        class PILDataset(Dataset):
            def __len__(self):
                return len(table)

            def __getitem__(self, i):
                # decode + composite + resize with PIL on every access, as an imagefolder loader does
                pixels = torch.from_numpy(decode_image(table["path"][i], resolution)).float() / 127.5 - 1
                return pixels, table["text"][i]

        torch.manual_seed(seed)
        self.loader = DataLoader(
            PILDataset(), batch_size=cfg.batch_size, shuffle=True, num_workers=0, drop_last=True
        )
        self.batches = iter(self.loader)
        self.tokenizer, self.text_encoder, _ = load_text_encoder(cfg.text_encoder)
        self.max_tokens = max_tokens
        self.unet = build_denoiser(cfg, self.text_encoder.config.hidden_size, 3, resolution)
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=cfg.learning_rate)
        self.ema = EMAModel(self.unet.parameters(), decay=cfg.ema_decay)
        self.scheduler = DDPMScheduler(num_train_timesteps=1000)

    def ema_model(self) -> torch.nn.Module:
        """A copy of the UNet holding the EMA weights, for evaluation."""
        import copy

        model = copy.deepcopy(self.unet)
        self.ema.copy_to(model.parameters())
        return model

    def step(self) -> int:
        try:
            pixels, captions = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            pixels, captions = next(self.batches)
        tokens = self.tokenizer(
            list(captions),
            padding="max_length",
            max_length=self.max_tokens,
            truncation=True,
            return_tensors="pt",
        )
        with torch.no_grad():
            emb = self.text_encoder(**tokens).last_hidden_state
        noise = torch.randn_like(pixels)
        t = torch.randint(0, 1000, (pixels.shape[0],))
        noisy = self.scheduler.add_noise(pixels, noise, t)
        pred = self.unet(
            noisy, t, encoder_hidden_states=emb, encoder_attention_mask=tokens["attention_mask"]
        ).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad()
        self.ema.step(self.unet.parameters())
        return pixels.shape[0]


def timed(step, steps: int) -> float:
    """Images per second over `steps` steps."""
    start, images = time.perf_counter(), 0
    for _ in range(steps):
        images += step()
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_throughput.json"))
    parser.add_argument("--images", type=int, default=1000, help="emoji in the governed table")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="steps per round and loop")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides key=json, e.g. batch_size=64")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}

    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    governed = write_governed(work, args.images)
    base = {"cache_dir": str(work / "cache"), "measure_energy": False, "sample_prompts": []} | overrides
    ours = {}
    for precision in ("fp32", "bf16"):
        cfg = TrainingConfig(**(base | {"precision": precision}))
        s = build_session(
            cfg, governed, work / precision, time.time() + 3600, 0, lambda *a: None, time.time()
        )
        ours[precision] = (s, lambda s=s: train_step(s, s.cfg.learning_rate)[3])
    session = ours["fp32"][0]
    ref = ReferenceLoop(session.cfg, governed, session.images.shape[-1], session.max_tokens, 0)

    loops = {"ours_fp32": ours["fp32"][1], "ours_bf16": ours["bf16"][1], "reference": ref.step}
    for step in loops.values():  # warm-up: first calls build kernels
        timed(step, 2)
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, step in loops.items():
            rates[name].append(timed(step, args.steps))
    median = {name: statistics.median(values) for name, values in rates.items()}
    best_ours = max(("ours_fp32", "ours_bf16"), key=median.get)
    result = {
        "benchmark": "train_throughput",
        "what": "training images/s, ours vs the classic diffusers recipe, same UNet, data and batch",
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "load_average_at_end": os.getloadavg(),
            "note": "shared machine: other jobs ran at the same time; the loops alternate so both see the same load",
        },
        "config": {
            "preset": session.cfg.preset,
            "resolution": int(session.images.shape[-1]),
            "batch_size": session.cfg.batch_size,
            "block_out_channels": list(session.unwrapped.config.block_out_channels),
            "denoiser_parameters": sum(p.numel() for p in session.unwrapped.parameters()),
            "images": len(session.images),
            "rounds": args.rounds,
            "steps_per_round": args.steps,
        },
        "images_per_s_median": median,
        "images_per_s_rounds": rates,
        "ratio_ours_fp32_vs_reference": median["ours_fp32"] / median["reference"],
        "ratio_ours_bf16_vs_reference": median["ours_bf16"] / median["reference"],
        "best_ours": best_ours,
        "ratio_best_vs_reference": median[best_ours] / median["reference"],
        "target_ratio": 1.5,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("images_per_s_median", "ratio_best_vs_reference")}, indent=2))


if __name__ == "__main__":
    main()
