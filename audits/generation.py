"""The one thing every audit asks of a model: images for (prompt, seed) pairs.

Audits take a `Generator` so tests can use generators whose answer is known; `pipeline_generator`
wraps the project's diffusers pipeline.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

Generator = Callable[[list[str], list[int]], np.ndarray]
"""generate(prompts, seeds) -> uint8 array (N, H, W, 3); same inputs, same pixels."""

ProgressFn = Callable[[str, int, int | None], None]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (N,H,W,3) -> uint8, rounding as PIL does."""
    return (np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def pipeline_generator(pipe: Any, steps: int, guidance_scale: float, batch_size: int = 64) -> Generator:
    """Wrap a diffusers text-to-image pipeline as a `Generator`.

    Prompts sharing a seed are generated together in batches of `batch_size` with one
    `torch.Generator` seeded with that seed, so a call is deterministic for its inputs.
    """
    import torch

    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)  # progress goes through the audit's callback instead

    def generate(prompts: list[str], seeds: list[int]) -> np.ndarray:
        if len(prompts) != len(seeds):
            raise ValueError(f"generate: {len(prompts)} prompts but {len(seeds)} seeds")
        out: list[np.ndarray | None] = [None] * len(prompts)
        for seed in sorted(set(seeds)):
            idx = [i for i, s in enumerate(seeds) if s == seed]
            for start in range(0, len(idx), batch_size):
                chunk = idx[start : start + batch_size]
                result = pipe(
                    prompt=[prompts[i] for i in chunk],
                    num_inference_steps=steps,
                    guidance_scale=guidance_scale,
                    generator=torch.Generator().manual_seed(int(seed)),
                    output_type="np",
                )
                for i, img in zip(chunk, to_uint8(result.images), strict=True):
                    out[i] = img
        if not out:
            return np.zeros((0, 1, 1, 3), dtype=np.uint8)
        return np.stack(out)  # type: ignore[arg-type]

    return generate


def generate_batched(
    generate: Generator,
    prompts: list[str],
    seeds: list[int],
    progress: ProgressFn,
    label: str,
    chunk: int = 64,
) -> np.ndarray:
    """Call `generate` in chunks so a long generation reports progress; checks the output contract."""
    parts = []
    total = len(prompts)
    progress(label, 0, total)
    for start in range(0, total, chunk):
        images = np.asarray(generate(prompts[start : start + chunk], seeds[start : start + chunk]))
        n = len(prompts[start : start + chunk])
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[0] != n or images.shape[-1] != 3:
            raise ValueError(
                f"generator returned {images.dtype} {images.shape}; expected uint8 ({n}, H, W, 3)"
            )
        parts.append(images)
        progress(label, min(start + chunk, total), total)
    return np.concatenate(parts) if parts else np.zeros((0, 1, 1, 3), dtype=np.uint8)
