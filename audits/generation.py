"""The one thing every audit asks of a model: images for (prompt, seed) pairs.

Audits take a `Generator` so tests can use generators whose answer is known; `pipeline_generator`
wraps the project's diffusers pipeline.
"""

import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from governance.progress import ProgressFn  # the audits' modules import it from here

CompileMode = Literal["auto", "on", "off"]
"""auto: compile the denoiser on CUDA only (on a CPU the compile costs more than a short audit saves)."""

Generator = Callable[[list[str], list[int]], np.ndarray]
"""generate(prompts, seeds) -> uint8 array (N, H, W, 3); same inputs, same pixels."""


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (N,H,W,3) -> uint8, rounding as PIL does."""
    return (np.clip(np.asarray(images, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def should_compile(mode: str, device_type: str) -> bool:
    """Whether `mode` (`CompileMode`) compiles the denoiser on a device of `device_type` ("cuda", "cpu")."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"audits.compile is {mode!r}; use auto (CUDA only), on or off")
    return mode == "on" or (mode == "auto" and device_type == "cuda")


def compile_denoiser(pipe: Any, mode: str, backend: str = "inductor") -> bool:
    """Compile `pipe.denoiser`'s forward in place with torch.compile when `mode` asks; True if compiled.

    In place (`Module.compile`), so the module keeps its class and config, which the pipeline and
    `call_denoiser` read. `dynamic=True` makes one graph serve every batch size a generator asks for
    (probe batches, full batches, the remainder), instead of recompiling at the second size; the first
    call pays the compile. `backend` is torch.compile's (tests trace with "aot_eager": the same graph
    capture without inductor's code generation, which takes minutes on a small CPU).
    """
    denoiser = getattr(pipe, "denoiser", None)
    if mode == "off" or denoiser is None:  # stand-ins of known answer have no denoiser to compile
        return False
    device = next(denoiser.parameters()).device
    if not should_compile(mode, device.type):
        return False
    pipe.denoiser.compile(dynamic=True, backend=backend)
    return True


def pipeline_generator(
    pipe: Any,
    steps: int,
    guidance_scale: float,
    batch_size: int = 64,
    tune_threads: bool = True,
    compile_mode: str = "off",
) -> Generator:
    """Wrap a diffusers text-to-image pipeline as a `Generator`.

    Each image gets its own `torch.Generator` seeded with its seed (diffusers takes a list, one per
    image), so an image depends on its prompt and seed only, not on what else shares its batch.
    Batches are `batch_size` images, except the first two of each call (`PROBE_BATCH` images), on which
    `training.threads`' tuner times one thread against all this process's cores (per image) and keeps
    the faster: on a busy 2-core machine two threads drew images four times slower than one (134 s
    against 31 s for 32 images). The chunking never depends on the timings, so results are
    reproducible. The chosen count stays set; the api restores the caller's count afterwards.
    `compile_mode` (`CompileMode`) compiles the denoiser (`compile_denoiser`); images then match the
    eager ones up to floating-point differences of fused kernels.
    """
    import torch

    from training.threads import make_tuner

    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)  # progress goes through the audit's callback instead
    compiled = compile_denoiser(pipe, compile_mode)
    tuner = make_tuner(None, "cpu", 1) if tune_threads and not torch.cuda.is_available() else None
    if tuner is not None:
        tuner.probe_steps = 1  # one timed small batch per candidate: a slow candidate costs little

    def call(prompts: list[str], seeds: list[int]) -> np.ndarray:
        if tuner is not None:
            tuner.before_step()
        start = time.perf_counter()
        result = pipe(
            prompt=prompts,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            generator=[torch.Generator().manual_seed(int(s)) for s in seeds],
            output_type="np",
        )
        if tuner is not None:
            tuner.after_step((time.perf_counter() - start) / len(prompts))
        return to_uint8(result.images)

    def generate(prompts: list[str], seeds: list[int]) -> np.ndarray:
        if len(prompts) != len(seeds):
            raise ValueError(f"generate: {len(prompts)} prompts but {len(seeds)} seeds")
        if not prompts:
            return np.zeros((0, 1, 1, 3), dtype=np.uint8)
        bounds = [0, PROBE_BATCH, 2 * PROBE_BATCH]
        bounds = [b for b in bounds if b < len(prompts)]
        bounds += [*range(bounds[-1] + batch_size, len(prompts), batch_size), len(prompts)]
        parts = [call(prompts[a:b], seeds[a:b]) for a, b in pairwise(bounds)]
        return np.concatenate(parts)

    generate.thread_tuner = tuner  # type: ignore[attr-defined]  # read by the api for the report
    generate.compiled = compiled  # type: ignore[attr-defined]
    return generate


PROBE_BATCH = 4


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
