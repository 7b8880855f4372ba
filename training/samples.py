"""Sample grids from the fixed prompts and seeds, and the loss chart (matplotlib, Agg backend)."""

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

GRID_BATCH = 16
"""Images per pipeline call of a sample grid: the default grid (4 prompts x 2 seeds) in one call."""


def sample_grid(
    pipe,
    prompts: list[str],
    seeds: list[int],
    steps: int,
    guidance: float,
    file: Path | None,
    batch_size: int = GRID_BATCH,
) -> float:
    """Write a PNG grid (one row per prompt, one column per seed; none when `file` is None).

    The grid's images are drawn `batch_size` (prompt, seed) pairs per pipeline call, each with its own
    `torch.Generator` seeded with its seed, so an image depends on its prompt and seed, not on its
    batch (up to the floating-point differences of batched kernels); the grid's rate is the card's
    inference figure, which one image per call understated. The prompts, seeds, step count and guidance scale are stored in the PNG's text
    chunks. Returns the images per second generated.

    Not compiled: the grid samples the EMA model in the middle of training, where an in-place compile
    would change the module the loop updates and saves, and a compile on each checkpoint's first call
    would count in the inference figure; `audits.compile` belongs to the audits, right of training.
    """
    if batch_size < 1:
        raise ValueError(f"sample_grid: batch_size must be at least 1, got {batch_size}")
    pairs = [(prompt, seed) for prompt in prompts for seed in seeds]
    images = []
    start = time.perf_counter()
    for at in range(0, len(pairs), batch_size):
        batch = pairs[at : at + batch_size]
        images.extend(
            pipe(
                [prompt for prompt, _ in batch],
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=[torch.Generator().manual_seed(seed) for _, seed in batch],
                output_type="np",
            ).images
        )
    n = len(seeds)
    rows = [np.concatenate(images[i * n : (i + 1) * n], axis=1) for i in range(len(prompts))]
    elapsed = time.perf_counter() - start
    if file is None:
        return len(prompts) * len(seeds) / max(elapsed, 1e-9)
    grid = (np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)
    side = grid.shape[0] // max(len(prompts), 1)
    # upscale small grids with nearest neighbour so a 32 px sample is visible in the MLflow UI
    factor = max(1, 128 // max(side, 1))
    file.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    settings = {
        "prompts": prompts,
        "seeds": seeds,
        "steps": steps,
        "guidance_scale": guidance,
        "scheduler": type(pipe.scheduler).__name__,
    }
    for key, value in settings.items():
        info.add_text(key, json.dumps(value))
    big = Image.fromarray(grid).resize(
        (grid.shape[1] * factor, grid.shape[0] * factor), Image.Resampling.NEAREST
    )
    big.save(file, pnginfo=info)
    return len(prompts) * len(seeds) / max(elapsed, 1e-9)


def loss_chart(history: list[list[float]], file: Path) -> Path:
    """Training loss against step (raw and smoothed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h[0] for h in history]
    losses = [h[1] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, losses, lw=0.8, alpha=0.5, label="loss (logged)")
    if len(losses) >= 5:
        k = max(2, len(losses) // 20)
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1 :], smooth, lw=1.5, label=f"moving mean ({k})")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file)
    plt.close(fig)
    return file
