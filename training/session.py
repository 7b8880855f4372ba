"""Everything the loop needs, built once: data, text embeddings, model, EMA, optimiser, budget; resume and save.

The loop itself lives in `loop.py`; this module holds the small functions beside it.
"""

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast
from safetensors.torch import save_file

from governance.components import Component, library
from training import checkpoint as ckpt
from training import sharding
from training.budget import Budget
from training.compute import cpu_has_native_bf16
from training.config import TrainingConfig
from training.data import (
    EpochSampler,
    cached_images,
    dataset_digest,
    read_governed,
    to_model_range,
    training_images,
)
from training.durations import parse_duration
from training.ema import EMA
from training.export import make_pipeline
from training.flow import RectifiedFlow
from training.latents import cached_latents, load_vae
from training.presets import build_denoiser, resolve_resolution
from training.quiet import library_bars_off
from training.samples import sample_grid
from training.shards import ShardBatches, ShardIndex
from training.t2i_pipeline import call_denoiser
from training.text_encoder import cached_text_embeddings, default_cache_dir, load_text_encoder, token_length
from training.threads import ThreadTuner, make_tuner


def resolve_precision(cfg: TrainingConfig, device: torch.device) -> str:
    """'bf16' or 'fp32'. auto: bf16 where the hardware computes it natively (GPUs from Ampere on, CPUs with
    AVX512-BF16/AMX, where the tiny preset measured 1.3-1.5x faster than fp32); fp32 elsewhere."""
    if cfg.precision != "auto":
        return cfg.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


# Compiling the base transformer took about 60 s on an H100 and cut its step from 0.206 s to 0.137 s
# (benchmarks/results/train_gpu_mfu_h100*.json): it repays itself after about 3 minutes of training.
COMPILE_MIN_BUDGET_S = 600.0


def resolve_compile(cfg: TrainingConfig, device: torch.device, sharded: bool, budget_left_s: float) -> bool:
    """Whether to torch.compile the denoiser: the config's choice, or the `auto` rule (see the config)."""
    if cfg.compile != "auto":
        return cfg.compile
    return device.type == "cuda" and not sharded and budget_left_s >= COMPILE_MIN_BUDGET_S


@dataclass
class Session:
    """The state of one training attempt (a resume is a new attempt of the same run)."""

    cfg: TrainingConfig
    out_dir: Path
    seed: int
    accelerator: Accelerator
    # uint8 [N, 3, R, R] pixels, or float [N, C, h, w] scaled latents with a VAE; None when streamed
    images: torch.Tensor | None
    text_emb: torch.Tensor  # [N, L, D]
    text_mask: torch.Tensor  # [N, L]
    null_emb: torch.Tensor  # [1, L, D]: the empty caption, for caption dropout and guidance
    null_mask: torch.Tensor
    tokenizer: object
    text_encoder: torch.nn.Module
    text_info: object
    model: torch.nn.Module  # prepared (DDP-wrapped when several processes), or sharded in place (FSDP)
    ema: EMA
    opt: torch.optim.Optimizer
    flow: RectifiedFlow
    sampler: EpochSampler | ShardBatches  # ShardBatches when the pixels stream from shards
    generator: torch.Generator  # on the CPU: noise levels, caption dropout
    # on the training device: noise drawn on the CPU would cost a copy of the batch to the GPU per step
    noise_generator: torch.Generator
    budget: Budget
    precision: str
    speed_options: dict[str, bool | str]
    max_tokens: int
    dataset_digest: str
    embeddings_from_cache: bool
    threads: ThreadTuner
    vae: torch.nn.Module | None = None
    tools: list[Component] = field(default_factory=list)  # the libraries training runs, for the card
    sharded: bool = False  # FSDP: weights, gradients and optimiser state split over the processes
    step: int = 0
    images_seen: int = 0
    time_spent_before: float = 0.0  # active seconds of earlier attempts
    attempt_start: float = field(default_factory=time.time)
    history: list[list[float]] = field(default_factory=list)  # [step, loss] at each log point
    resumed_from_step: int | None = None
    last_checkpoint: float = field(default_factory=time.time)
    checkpoint_s: float | None = None  # measured time of the last checkpoint save
    # time inside training steps and the images they took, this attempt: the steady training rate,
    # which a short run's whole wall-clock (set-up, compiling, final save) would hide
    steps_s: float = 0.0
    step_images: int = 0
    grid_s: float = 0.0  # measured time of one sample grid
    sample_grids: list[Path] = field(default_factory=list)
    inference_images_per_s: float | None = None

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def unwrapped(self) -> torch.nn.Module:
        # the plain module under DDP and torch.compile: checkpoints, EMA and FLOP counting need its own
        # parameter names and eager ops
        return self.accelerator.unwrap_model(self.model, keep_torch_compile=False)

    @property
    def checkpoints(self) -> Path:
        return self.out_dir / "checkpoints"

    def autocast(self):
        """bf16 autocast (fp32 master weights) or nothing."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def generators(self) -> dict[str, torch.Generator]:
        """The generators a checkpoint must restore, by name."""
        return {"generator": self.generator, "noise_generator": self.noise_generator}

    def velocity(self, x, sigma, emb, mask):
        return call_denoiser(self.model, x, sigma, emb, mask)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The next batch: images in [-1, 1] and caption embeddings, with caption dropout applied."""
        if isinstance(self.sampler, ShardBatches):
            pixels, idx = self.sampler.next_batch()
        else:
            idx = self.sampler.next_indices()
            pixels = self.images[idx]
        x0 = self._pixels_on_device(pixels)
        emb, mask = self.text_emb[idx], self.text_mask[idx]
        drop = torch.rand(len(idx), generator=self.generator) < self.cfg.caption_dropout
        emb = torch.where(drop[:, None, None], self.null_emb, emb)
        mask = torch.where(drop[:, None], self.null_mask, mask)
        return x0, self._to_device(emb), self._to_device(mask)

    def fixed_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x0, sigma, text_emb, text_mask) of the first `n` images (repeated if fewer) at noise level 0.5,
        on the device and in the training batches' shapes and layout; draws from no training generator."""
        if self.images is None:
            pixels, idx = self.sampler.first(n)
        else:
            idx = torch.arange(n) % len(self.images)
            pixels = self.images[idx]
        sigma = torch.full((n,), 0.5, device=self.device)
        return (
            self._pixels_on_device(pixels),
            sigma,
            self._to_device(self.text_emb[idx]),
            self._to_device(self.text_mask[idx]),
        )

    def _pixels_on_device(self, pixels: torch.Tensor) -> torch.Tensor:
        """Images (uint8 pixels or latents) in the model's range and memory format on the training device."""
        # moved as uint8 and scaled where the model runs: a quarter of the bytes to copy to a GPU
        x0 = self._to_device(pixels)
        x0 = to_model_range(x0) if x0.dtype == torch.uint8 else x0
        if self.speed_options.get("channels_last"):
            x0 = x0.contiguous(memory_format=torch.channels_last)
        return x0

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Copy to the training device; to a GPU from pinned memory without blocking, since a copy from
        ordinary memory waits for the steps already queued and the GPU then idles while the host
        gathers the next batch (DataLoader's pin_memory, for the cached tensors)."""
        if self.device.type != "cuda":
            return t.to(self.device)
        return t.pin_memory().to(self.device, non_blocking=True)

    def reserve_s(self) -> float:
        """Time held back for the final save, sample grid and report: measured parts with a 1.2x margin.

        A 1.5x margin ended a 510 s run 13 s early (the contract allows 2%); the parts are re-measured at
        every checkpoint, so a smaller margin stays safe."""
        save = (
            self.checkpoint_s if self.checkpoint_s is not None else 1.0 + _param_bytes(self.unwrapped) / 50e6
        )
        # the end writes a last checkpoint and the model directory (about two saves) and one grid
        return 1.2 * (self.grid_s + 2 * save) + 2.0

    def time_spent(self) -> float:
        return self.time_spent_before + time.time() - self.attempt_start

    def warm_up_compiled(self) -> None:
        """Compile the denoiser before the clock-driven loop: one forward and backward at the training
        shapes on the first images, gradients dropped.

        Without it the first step carries the compiling (about a minute for the base transformer on an
        H100), and the stop rule, which predicts the next step from the last ones, ended a 150 s run
        after that one step. It draws from no training generator and steps no optimiser, so the run
        trains exactly as it would without it; the time it took is disclosed and counts in the budget.
        """
        if not self.speed_options.get("torch_compile"):
            return
        start = time.time()
        x0, sigma, emb, mask = self.fixed_batch(self.cfg.batch_size)
        with self.autocast():
            out = self.velocity(x0, sigma, emb, mask)
        self.accelerator.backward(out.float().pow(2).mean())
        self.opt.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.speed_options["compile_time"] = f"{time.time() - start:.1f} s, before the first step"

    def decide(self, step_s: float) -> tuple[bool, bool]:
        """(stop, checkpoint now), decided by the main process and shared so every process agrees."""
        cfg = self.cfg
        self.budget.reserve_s = self.reserve_s()
        stop = self.budget.should_stop(step_s) or (cfg.max_steps is not None and self.step >= cfg.max_steps)
        due = time.time() - self.last_checkpoint >= parse_duration(cfg.checkpoint_every)
        if self.accelerator.num_processes == 1:
            # no device tensor: reading one back each step makes the host wait for the GPU to drain
            # before it gathers the next batch, leaving the GPU idle meanwhile
            return stop, due
        flags = broadcast(torch.tensor([int(stop), int(due)], device=self.device), from_process=0)
        return bool(flags[0]), bool(flags[1])

    def save_checkpoint(self, grid: bool = True) -> Path | None:
        """Atomic checkpoint of everything needed to continue, then a sample grid from the EMA weights."""
        start = time.time()
        acc = self.accelerator
        tmp = ckpt.tmp_dir_for(self.checkpoints, self.step)
        if acc.is_main_process:
            ckpt.clean_temporaries(self.checkpoints)
            tmp.mkdir(parents=True)
        acc.wait_for_everyone()
        ckpt.save_rng(self.generators, tmp, acc.process_index)
        acc.wait_for_everyone()
        final = None
        # Gathering is collective when sharded; unsharded, only the main process needs the copies.
        if self.sharded or acc.is_main_process:
            weights = sharding.model_state(self.unwrapped)
            optimizer = sharding.optimizer_state(self.unwrapped, self.opt)
        self.ema.gather()
        if acc.is_main_process:
            ckpt.write_main_files(tmp, self.unwrapped, weights, self.ema.model, optimizer, self.state_dict())
            final = ckpt.publish(tmp, self.checkpoints, self.step, self.cfg.keep_checkpoints)
        acc.wait_for_everyone()
        self.checkpoint_s = time.time() - start
        if grid:
            self.write_grid()
        self.last_checkpoint = time.time()
        return final

    def _sample_pipeline(self):
        pipe = make_pipeline(
            self.ema.model,
            self.text_encoder,
            self.tokenizer,
            self.max_tokens,
            self.cfg.sample_steps,
            self.cfg.guidance_scale,
            vae=self.vae,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def write_grid(self) -> None:
        """Sample grid of the EMA model at this step (main process); its timing feeds the reserve."""
        if not self.accelerator.is_main_process or not self.cfg.sample_prompts:
            return
        start = time.time()
        file = self.out_dir / "samples" / f"step-{self.step:08d}.png"
        cfg = self.cfg
        self.inference_images_per_s = sample_grid(
            self._sample_pipeline(),
            cfg.sample_prompts,
            cfg.sample_seeds,
            cfg.sample_steps,
            cfg.guidance_scale,
            file,
        )
        self.sample_grids.append(file)
        self.grid_s = time.time() - start

    def probe_grid_time(self) -> None:
        """Time one sample image and scale to the grid: the final grid's share of the reserve, cheaply.

        Timed twice, the faster kept: the first pass on a cold GPU also pays for its libraries' start-up."""
        if not self.accelerator.is_main_process or not self.cfg.sample_prompts:
            return
        cfg = self.cfg
        times = []
        for _ in range(2 if self.device.type == "cuda" else 1):
            start = time.time()
            sample_grid(
                self._sample_pipeline(),
                cfg.sample_prompts[:1],
                cfg.sample_seeds[:1],
                cfg.sample_steps,
                cfg.guidance_scale,
                None,
            )
            times.append(time.time() - start)
        self.grid_s = min(times) * len(cfg.sample_prompts) * len(cfg.sample_seeds)

    def probe_save_time(self) -> None:
        """Until a checkpoint is timed, estimate one from writing the denoiser's weights once.

        A checkpoint holds about four times those bytes (weights, EMA, Adam's two moments). The fixed
        guess it replaces (50 MB/s) held back over 20 s for the base transformer on an H100 machine and
        ended a 135 s run 26 s early. Skipped when sharded: the weights would have to be gathered first.
        """
        if not self.accelerator.is_main_process or self.sharded or self.checkpoint_s is not None:
            return
        probe = self.out_dir / ".save-probe.safetensors"
        start = time.time()
        try:
            save_file({k: v.contiguous() for k, v in self.unwrapped.state_dict().items()}, probe)
        finally:
            probe.unlink(missing_ok=True)
        self.checkpoint_s = 4 * (time.time() - start) + 0.5

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "images_seen": self.images_seen,
            "time_spent_s": self.time_spent(),
            "budget_start": self.budget.start,
            "deadline": self.budget.deadline,
            "data": self.sampler.state(),
            "ema": self.ema.state(),
            "history": self.history,
            "world_size": self.accelerator.num_processes,
            "dataset_digest": self.dataset_digest,
            "text_encoder_digest": self.text_info.digest,
            "config": self.cfg.model_dump(mode="json"),
            "seed": self.seed,
        }

    def resume_from(self, checkpoint: Path) -> None:
        """Load model, EMA, optimiser, RNG, data position, clock and history from a checkpoint."""
        state = ckpt.read_state(checkpoint)
        if state["dataset_digest"] != self.dataset_digest:
            raise RuntimeError(
                f"checkpoint {checkpoint} was trained on another governed dataset "
                f"({state['dataset_digest'][:12]} vs {self.dataset_digest[:12]}): start a new run instead of resuming"
            )
        from safetensors.torch import load_file

        sharding.load_model_state(self.unwrapped, load_file(checkpoint / "denoiser" / ckpt.WEIGHTS_FILE))
        self.ema.load_weights(load_file(checkpoint / "ema" / ckpt.WEIGHTS_FILE))
        sharding.load_optimizer_state(self.unwrapped, self.opt, ckpt.load_optimizer(checkpoint))
        if not ckpt.load_rng(self.generators, checkpoint, self.accelerator.process_index):
            for offset, g in enumerate(self.generators.values()):
                g.manual_seed(
                    self.seed * 7919 + self.accelerator.process_index + state["step"] + offset * 104729
                )
        self.sampler.load_state(state["data"])
        self.ema.load_state(state["ema"])
        self.step = self.resumed_from_step = int(state["step"])
        self.images_seen = int(state["images_seen"])
        self.time_spent_before = float(state["time_spent_s"])
        self.history = state["history"]
        # the clock started with the first attempt: time spent before the kill counts against the budget
        self.budget.start = float(state["budget_start"])
        self.sample_grids = sorted((self.out_dir / "samples").glob("step-*.png"))


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


@dataclass
class _Inputs:
    """What training reads: the images (or where they stream from) and the captions' embeddings."""

    images: "torch.Tensor | ShardIndex"
    emb: torch.Tensor
    mask: torch.Tensor
    null_emb: torch.Tensor
    null_mask: torch.Tensor
    from_cache: bool
    tokenizer: object
    text_encoder: torch.nn.Module
    info: object
    max_tokens: int
    vae: torch.nn.Module | None

    @property
    def shards(self) -> ShardIndex | None:
        return self.images if isinstance(self.images, ShardIndex) else None


@dataclass
class _Network:
    """The denoiser as it trains (sharded, compiled or prepared), its EMA and optimiser, and how."""

    model: torch.nn.Module
    ema: EMA
    opt: torch.optim.Optimizer
    precision: str
    channels_last: bool
    sharded: bool
    units: int
    fused: bool
    compiled: bool


def build_session(
    cfg: TrainingConfig,
    governed_path: Path,
    out_dir: Path,
    deadline: float,
    seed: int,
    progress,
    start: float,
) -> Session:
    """Load data and embeddings (cached), build model, EMA, optimiser and budget."""
    # autocast is ours, so the precision choice is recorded; cpu=True without CUDA makes several
    # launched processes a gloo process group (accelerate's MULTI_CPU) instead of independent runs
    accelerator = Accelerator(mixed_precision="no", cpu=not torch.cuda.is_available())
    device = accelerator.device
    # Adam's second moments and EMA weights can decay into denormals, which are very slow on CPUs
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    table = read_governed(governed_path, "train")
    digest = dataset_digest(table)
    data = _load_inputs(cfg, accelerator, table, digest, progress)
    # Seeded here, not only above: filling a cold cache draws random numbers that a warm one does not,
    # and the main process fills it while the others read it, so the initial weights would differ.
    torch.manual_seed(seed)
    net = _build_network(cfg, accelerator, data, deadline)
    data.text_encoder.to(device)
    rank, world = accelerator.process_index, accelerator.num_processes
    shards = data.shards
    return Session(
        cfg=cfg,
        out_dir=out_dir,
        seed=seed,
        accelerator=accelerator,
        images=None if shards is not None else data.images,
        text_emb=data.emb,
        text_mask=data.mask,
        null_emb=data.null_emb.cpu(),
        null_mask=data.null_mask.cpu(),
        tokenizer=data.tokenizer,
        text_encoder=data.text_encoder,
        text_info=data.info,
        model=net.model,
        ema=net.ema,
        opt=net.opt,
        flow=RectifiedFlow(),
        sampler=(
            ShardBatches(shards, cfg.batch_size, seed, rank, world, cfg.num_workers)
            if shards is not None
            else EpochSampler(len(data.images), cfg.batch_size, seed, rank, world)
        ),
        generator=torch.Generator().manual_seed(seed * 7919 + rank),
        noise_generator=torch.Generator(device).manual_seed(seed * 7919 + rank + 104729),
        budget=Budget(start=start, deadline=deadline, reserve_s=3.0),
        precision=net.precision,
        speed_options=_speed_options(cfg, accelerator, data, net),
        max_tokens=data.max_tokens,
        dataset_digest=digest,
        threads=make_tuner(cfg.threads, device.type, world),
        vae=data.vae.to(device) if data.vae is not None else None,
        embeddings_from_cache=data.from_cache,
        tools=training_tools(),
        attempt_start=start,
        sharded=net.sharded,
    )


def training_tools() -> list[Component]:
    """The libraries training runs, with their installed versions and the licences their wheels state.

    Read at set-up, not in finalize: the first licence read loads the licence database (0.3 s cold),
    which is not part of the time held back for the end of the run.
    """
    return [
        library("diffusers"),
        library("torch", name="PyTorch"),
        library("transformers"),
        library("accelerate"),
    ]


def _load_inputs(cfg: TrainingConfig, accelerator: Accelerator, table, digest: str, progress) -> _Inputs:
    """The training images and caption embeddings, from the caches when they hold them."""
    cache = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    resolution = resolve_resolution(cfg)
    # the main process fills the caches first; the others then read them
    with accelerator.main_process_first(), library_bars_off():
        if cfg.vae is None:
            images = training_images(table, digest, resolution, cache, cfg.data_in_memory_max_mb, progress)
        else:
            images = cached_images(table, digest, resolution, cache, progress)
        tokenizer, text_encoder, info = load_text_encoder(cfg.text_encoder, cfg.text_encoder_license)
        texts = table["text"].astype(str).tolist()
        max_tokens = token_length(tokenizer, texts, cfg.max_text_tokens)
        emb, mask, from_cache = cached_text_embeddings(
            texts, digest, tokenizer, text_encoder, info, max_tokens, cache, progress
        )
        vae = None
        if cfg.vae is not None:
            vae, vae_digest = load_vae(cfg.vae)
            images = cached_latents(images, vae, vae_digest, digest, cache, progress)
    from training.t2i_pipeline import encode_text

    null_emb, null_mask = encode_text(tokenizer, text_encoder, [""], max_tokens)
    return _Inputs(
        images, emb, mask, null_emb, null_mask, from_cache, tokenizer, text_encoder, info, max_tokens, vae
    )


def _build_network(cfg: TrainingConfig, accelerator: Accelerator, data: _Inputs, deadline: float) -> _Network:
    """The denoiser and its EMA and optimiser, on the device, sharded or prepared, compiled if chosen."""
    device = accelerator.device
    shards = data.shards
    channels, side = (
        (3, shards.resolution) if shards is not None else (data.images.shape[1], data.images.shape[-1])
    )
    model = build_denoiser(cfg, data.emb.shape[-1], in_channels=channels, sample_size=side)
    ema = EMA(model, cfg.ema_decay)
    precision = resolve_precision(cfg, device)
    # channels-last helps convolutions on GPUs; on this CPU it measured slower (with bf16 by a third)
    channels_last = cfg.architecture == "unet" and device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    sharded = cfg.sharding == "fsdp" and accelerator.num_processes > 1
    units = 0
    if sharded:
        # Sharded in place and not passed to accelerate's prepare, which would wrap it in DDP as well.
        model.to(device)
        units = sharding.shard(model, bf16=precision == "bf16")
        ema.shard_like(model, keep_full=accelerator.is_main_process)
    # fused AdamW needs every parameter a plain CUDA tensor; sharded parameters are DTensors
    fused = device.type == "cuda" and not sharded
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        betas=(0.9, 0.99),
        fused=fused,
        foreach=not fused,
    )
    if sharded:
        opt = accelerator.prepare_optimizer(opt)
    else:
        model, opt = accelerator.prepare(model, opt)
    if ema.model is not None:  # under FSDP only the main process keeps the full average
        ema.model.to(device)
    compiled = resolve_compile(cfg, device, sharded, deadline - time.time())
    if compiled:
        model = torch.compile(model)
    return _Network(model, ema, opt, precision, channels_last, sharded, units, fused, compiled)


def _speed_options(cfg: TrainingConfig, accelerator: Accelerator, data: _Inputs, net: _Network) -> dict:
    """How this session trains, as the compute record and the card state it."""
    shards = data.shards
    return {
        "precision": net.precision,
        "channels_last": net.channels_last,
        "sdpa_attention": True,
        "optimizer": "AdamW fused" if net.fused else "AdamW foreach",
        "torch_compile": net.compiled,
        "text_embeddings": "reused from cache" if data.from_cache else "computed and cached",
        "training_images": (
            f"streamed from {len(shards.groups)} Parquet row groups by {cfg.num_workers} DataLoader workers"
            if shards is not None
            else "decoded once, cached in memory"
        ),
        "sharding": (
            f"fsdp ({net.units} units over {accelerator.num_processes} processes; the main process holds "
            f"{sharding.local_share(net.model):.1%} of the weights; "
            + ("bf16 gathers, fp32 gradient reduction)" if net.precision == "bf16" else "fp32 gathers)")
            if net.sharded
            else "none"
        ),
    }
