"""Latent space: a user-given AutoencoderKL encodes the decoded images once; latents are cached like images."""

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.data import to_model_range
from training.text_encoder import directory_digest


def load_vae(name: str):
    """AutoencoderKL from a local directory or hub id (safetensors only), frozen; and its digest."""
    import hashlib

    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(name, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise RuntimeError(
            f"training.vae={name!r}: could not load an AutoencoderKL (give a local diffusers directory with "
            "safetensors weights, or a hub id when online)"
        ) from err
    vae.requires_grad_(False).eval()
    local = Path(name)
    digest = directory_digest(local) if local.is_dir() else hashlib.sha256(name.encode()).hexdigest()
    return vae, digest


def latent_scale(vae) -> tuple[float, float]:
    """(scaling_factor, shift_factor) that bring the VAE's latents near unit variance."""
    return float(getattr(vae.config, "scaling_factor", 1.0) or 1.0), float(
        getattr(vae.config, "shift_factor", 0.0) or 0.0
    )


@torch.no_grad()
def cached_latents(
    images: torch.Tensor,
    vae,
    vae_digest: str,
    dataset_digest: str,
    cache_dir: Path,
    progress,
    batch_size: int = 64,
) -> torch.Tensor:
    """Scaled latent means [N, C, h, w] of uint8 images, computed once per dataset, VAE and resolution."""
    file = cache_dir / f"latents-{dataset_digest[:16]}-{vae_digest[:16]}-{images.shape[-1]}.safetensors"
    if file.exists():
        latents = load_file(file)["latents"]
        if latents.shape[0] == images.shape[0]:
            return latents
    scale, shift = latent_scale(vae)
    parts = []
    for start in range(0, len(images), batch_size):
        x = to_model_range(images[start : start + batch_size]).to(vae.device, vae.dtype)
        parts.append(((vae.encode(x).latent_dist.mean - shift) * scale).float().cpu())
        progress("encode latents", min(start + batch_size, len(images)), len(images))
    latents = torch.cat(parts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".tmp{os.getpid()}")
    save_file({"latents": latents.contiguous()}, tmp)
    os.replace(tmp, file)
    return latents
