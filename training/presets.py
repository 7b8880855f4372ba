"""Model presets: the denoiser sizes for `tiny` (CPU), `small` and `base` (GPU), UNet or DiT-style transformer."""

from dataclasses import dataclass

import torch
from diffusers import PixArtTransformer2DModel, UNet2DConditionModel

from training.config import TrainingConfig


@dataclass(frozen=True)
class Preset:
    """Sizes of one preset; `block_out_channels`/`layers_per_block` are the UNet's, `dit_*` the transformer's."""

    resolution: int
    block_out_channels: tuple[int, ...]
    layers_per_block: int
    # levels (from the top) whose blocks carry cross-attention; the lowest resolutions pay least for it
    attention_levels: tuple[bool, ...]
    attention_head_dim: int
    dit_width: int
    dit_depth: int
    dit_heads: int
    dit_patch: int


PRESETS: dict[str, Preset] = {
    # Sized by measured throughput on a 2-core CPU (benchmarks/train_throughput.py): ~2 M parameters.
    "tiny": Preset(32, (32, 64, 64), 1, (False, True, True), 32, 192, 6, 3, 2),
    "small": Preset(64, (128, 256, 256), 2, (False, True, True), 64, 384, 12, 6, 2),
    # base transformer at 256 px: DiT-B-like width 768, depth 12, patch 8 in pixel space (1024 tokens).
    "base": Preset(256, (128, 256, 512, 512), 2, (False, False, True, True), 64, 768, 12, 12, 8),
}


def resolve_resolution(cfg: TrainingConfig) -> int:
    """The training side in pixels: the config's, else the preset's."""
    return cfg.resolution or PRESETS[cfg.preset].resolution


def build_denoiser(cfg: TrainingConfig, text_dim: int, in_channels: int, sample_size: int) -> torch.nn.Module:
    """A freshly initialised denoiser for the config's preset and architecture.

    `sample_size` is the side of the denoiser's input (pixels, or latents when a VAE is used).
    """
    preset = PRESETS[cfg.preset]
    if cfg.architecture == "transformer":
        width = (cfg.block_out_channels or [preset.dit_width])[0]
        heads = preset.dit_heads if width % preset.dit_heads == 0 else max(1, width // 64)
        if width % heads:
            raise ValueError(f"training.block_out_channels[0]={width} must be divisible by {heads} heads")
        patch = preset.dit_patch if sample_size % preset.dit_patch == 0 else 1
        return PixArtTransformer2DModel(
            num_attention_heads=heads,
            attention_head_dim=width // heads,
            in_channels=in_channels,
            out_channels=in_channels,
            num_layers=cfg.layers_per_block or preset.dit_depth,
            cross_attention_dim=width,
            caption_channels=text_dim,
            sample_size=sample_size,
            patch_size=patch,
            use_additional_conditions=False,
            norm_type="ada_norm_single",
            norm_elementwise_affine=False,
            norm_eps=1e-6,
        )
    channels = tuple(cfg.block_out_channels or preset.block_out_channels)
    levels = len(channels)
    attention = (
        preset.attention_levels
        if len(preset.attention_levels) == levels
        else (False,) + (True,) * (levels - 1)
    )
    if levels == 1:
        attention = (True,)
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention))
    groups = _largest_group_count(channels)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        block_out_channels=channels,
        layers_per_block=cfg.layers_per_block or preset.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        mid_block_type="UNetMidBlock2DCrossAttn",
        cross_attention_dim=text_dim,
        # diffusers' legacy naming: this argument is the number of heads per level, not their width
        attention_head_dim=tuple(max(1, c // preset.attention_head_dim) for c in channels),
        norm_num_groups=groups,
    )


def _largest_group_count(channels: tuple[int, ...]) -> int:
    """GroupNorm groups dividing every width (32 as in SD when possible; small test widths need fewer)."""
    for groups in (32, 16, 8, 4, 2, 1):
        if all(c % groups == 0 for c in channels):
            return groups
    return 1
