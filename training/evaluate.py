"""The held-out denoising measure: mean flow-matching loss at fixed noise levels and fixed noise."""

from pathlib import Path

import torch

from training.data import cached_images, dataset_digest, read_governed, to_model_range
from training.export import load_model_dir
from training.flow import RectifiedFlow
from training.latents import cached_latents
from training.t2i_pipeline import call_denoiser, encode_text
from training.text_encoder import default_cache_dir, directory_digest


def fixed_noise(n: int, shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise and noise levels fixed by `seed` (sigmas evenly spread over (0, 1)): the same test for every model."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn((n, *shape), generator=gen)
    sigma = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    return noise, sigma[torch.randperm(n, generator=gen)]


@torch.no_grad()
def held_out_losses(
    model_dir: Path,
    governed_path: Path,
    split: str,
    seed: int,
    max_images: int = 256,
    batch_size: int = 64,
    cache_dir: Path | None = None,
) -> dict[str, float]:
    """The model's held-out loss beside two predictors that ignore their input, on the same batch and noise.

    `model`: the saved model. `zero_velocity`: predicting 0 everywhere (its loss is the mean square of
    the target, about 1 + E[x0^2]). `mean_image`: predicting the velocity of the split's mean image with
    zero noise, -mean(x0), the best guess that knows the data's average but not the input. A trained
    model must beat both; the ratio says by how much, whatever the data's scale.
    """
    pipe = load_model_dir(model_dir)
    denoiser = pipe.denoiser.eval()
    table = read_governed(governed_path, split)
    table = table.sample(n=min(max_images, len(table)), random_state=seed).sort_values("record_id")
    cache = cache_dir or default_cache_dir()
    digest = dataset_digest(table)
    if pipe.vae is None:
        images = to_model_range(
            cached_images(table, digest, denoiser.config.sample_size, cache, lambda *a: None)
        )
    else:
        # pixels at the VAE's scale, then the same scaled latents the training used
        factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
        pixels = cached_images(table, digest, denoiser.config.sample_size * factor, cache, lambda *a: None)
        vae_digest = directory_digest(Path(model_dir) / "vae")
        images = cached_latents(pixels, pipe.vae, vae_digest, digest, cache, lambda *a: None)
    noise, sigma = fixed_noise(len(table), tuple(images.shape[1:]), seed)
    mean_image = images.float().mean(dim=0)
    flow, total, zero, mean = RectifiedFlow(), 0.0, 0.0, 0.0
    texts = table["text"].astype(str).tolist()
    for start in range(0, len(texts), batch_size):
        end = min(start + batch_size, len(texts))
        emb, mask = encode_text(
            pipe.tokenizer, pipe.text_encoder, texts[start:end], pipe.config.max_text_tokens
        )
        velocity = lambda x, s, e, m: call_denoiser(denoiser, x, s, e, m)  # noqa: E731
        _, per_sample, _ = flow.loss(
            velocity,
            images[start:end],
            emb,
            mask,
            sigma=sigma[start:end],
            noise=noise[start:end],
        )
        total += float(per_sample.sum())
        target = (noise[start:end] - images[start:end]).float()
        zero += float(target.pow(2).flatten(1).mean(1).sum())
        mean += float((target + mean_image).pow(2).flatten(1).mean(1).sum())
    n = len(texts)
    return {"model": total / n, "zero_velocity": zero / n, "mean_image": mean / n}
