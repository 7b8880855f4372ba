"""Configuration of the training stage."""

from typing import Literal

from pydantic import Field

from governance.config import FrozenConfig
from training.durations import Duration
from training.prices import PriceTable


class TrainingConfig(FrozenConfig):
    preset: Literal["tiny", "small", "base"] = Field("tiny", description="tiny: CPU, 32 px; small/base: GPU")
    architecture: Literal["unet", "transformer"] = "unet"
    resolution: int | None = Field(None, ge=8, description="image side in pixels; default: the preset's")
    text_encoder: str = Field(
        "builtin:minilm",
        description="builtin:minilm (offline, Apache-2.0), or a local path / hub id of a Hugging Face text encoder",
    )
    text_encoder_license: str | None = Field(
        None, description="SPDX id of a user-given text encoder, for the card"
    )
    vae: str | None = Field(
        None, description="local path / hub id of an AutoencoderKL: train in latent space"
    )
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_fraction: float = Field(0.05, ge=0, le=1, description="of the training budget")
    decay_fraction: float = Field(
        0.3, ge=0, le=1, description="final share of the budget spent annealing to 0"
    )
    ema_decay: float = Field(0.999, ge=0, lt=1)
    caption_dropout: float = Field(0.1, ge=0, le=1, description="for classifier-free guidance")
    checkpoint_every: Duration = Field(
        "2m", description="wall-clock interval between checkpoints, e.g. 2m, 90s"
    )
    keep_checkpoints: int = Field(2, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps even with budget left")
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool | Literal["auto"] = Field(
        "auto",
        description="torch.compile the denoiser; auto: on a single CUDA device or under DDP when at least "
        "10 minutes of budget remain (compiling costs about a minute on an H100, a speed-up of 1.5x repays "
        "it in about three), off on CPUs (minutes to compile) and under FSDP (not measured)",
    )
    num_workers: int = Field(
        0, ge=0, description="DataLoader worker processes reading training shards; 0: the training process"
    )
    data_in_memory_max_mb: float = Field(
        64.0,
        ge=0,
        description="decoded training pixels up to this size (N x 3 x R x R bytes) are cached in memory, larger "
        "datasets stream from Parquet shards. The cache delivered batches 1.1-1.7x faster (both thousands of "
        "times what the tiny model consumes) but adds its size to peak memory, which passed the shard loader's "
        "flat ~400 MB at about 66 MB of pixels (docs/training-data.md); with a VAE always in memory",
    )
    sample_prompts: list[str] = Field(
        default_factory=lambda: ["grinning face", "red heart", "rocket", "thumbs up: medium skin tone"]
    )
    sample_steps: int = Field(20, ge=1)
    guidance_scale: float = Field(3.0, ge=1)
    price_per_device_hour: float | None = Field(
        None,
        ge=0,
        description="one price per device-hour for whatever device the run uses; overrides training.prices",
    )
    prices: PriceTable = Field(
        PriceTable(),
        description="dated, sourced on-demand list prices per device kind (docs/cost.md); override them",
    )
    currency: str = Field("USD", description="currency of every price (the default prices are in USD)")
    country_iso_code: str = Field("USA", description="for the codecarbon offline energy tracker")
    # Added after the skeleton (backward compatible: all optional with defaults).
    block_out_channels: list[int] | None = Field(
        None,
        min_length=1,
        description="UNet channel widths per level (or transformer width); default: preset",
    )
    layers_per_block: int | None = Field(None, ge=1, description="UNet blocks per level / transformer depth")
    vae_license: str | None = Field(None, description="SPDX id of the user-given VAE's weights, for the card")
    max_text_tokens: int = Field(32, ge=2, description="caption tokens kept (padding masked)")
    log_every: int = Field(10, ge=1, description="steps between streamed metrics")
    cache_dir: str | None = Field(
        None,
        description="decoded-image and text-embedding cache; default $T2I_CACHE_DIR or ~/.cache/t2i-pipeline",
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads; default torch's (all cores). 1 is faster on a busy CPU",
    )
    measure_energy: bool = Field(
        True, description="codecarbon offline tracker (only real counters are reported)"
    )
    sharding: Literal["none", "fsdp"] = Field(
        "none",
        description="fsdp: split weights, gradients and optimiser state over the processes (torch FSDP2) "
        "instead of a full replica on each (DDP); for presets too large to replicate",
    )
    sample_seeds: list[int] = Field(
        default_factory=lambda: [0, 1], description="fixed seeds of the sample grid"
    )
    output_watermark: Literal["dwtDctSvd", "rivaGan"] = Field(
        "dwtDctSvd",
        description="invisible watermark for generated images (training.output_marks): the sample grids, "
        "the exported model's save_image (saved in model_index.json) and the deepfake audit's marked "
        "samples use it: dwtDctSvd, or "
        "rivaGan (learned, offline ONNX: survives JPEG q50, WebP and crop+JPEG far better, misses more flat "
        "emoji unedited; docs/provenance.md)",
    )
