"""What the pipeline calls in `audits`. Each audit loads the model from its directory.

The audit logic lives in `quality.py`, `bias.py` and `deepfake.py` as pure functions over a
`generate(prompts, seeds)` callable; this module wires them to the trained model through
`training.api.load_pipeline` and `training.api.denoising_losses`.
"""

import json
from contextlib import contextmanager
from pathlib import Path

import torch

from audits.bias import audit_bias
from audits.config import BiasConfig, DeepfakeConfig, QualityConfig
from audits.deepfake import audit_deepfake
from audits.generation import Generator, pipeline_generator
from audits.governed_data import load_images, read_governed, train_and_eval
from audits.quality import audit_quality
from audits.report import AuditReport
from governance.manifest import Split
from governance.progress import ProgressFn
from training.output_marks import WATERMARK_METHOD


def _model_generator(
    model_dir: Path, steps: int, guidance: float, batch_size: int, compile_mode: str = "auto"
) -> tuple[Generator, int]:
    """The model as a `Generator`, and its output resolution (read from one generated image, because a
    latent-space model's config gives the latent size, not the pixel size). `compile_mode` is
    `audits.compile`; with it the probe image pays the compile."""
    from training.api import load_pipeline

    # generation on the GPU when there is one; seeds stay on CPU generators, so images match across devices
    # only up to floating-point differences
    pipe = load_pipeline(Path(model_dir), device="cuda" if torch.cuda.is_available() else "cpu")
    generate = pipeline_generator(pipe, steps, guidance, batch_size, compile_mode=compile_mode)
    probe = generate([""], [0])
    return generate, int(probe.shape[1])


def _model_name(model_dir: Path) -> str:
    index = Path(model_dir) / "model_index.json"
    if index.is_file():
        saved = json.loads(index.read_text())
        if saved.get("model_name"):  # the name the run exported its model under
            return str(saved["model_name"])
        name = saved.get("_class_name")
        if name:
            return f"{name} ({Path(model_dir).name})"
    return Path(model_dir).name


def _watermark_method(model_dir: Path) -> str:
    """The watermark the model's `save_image` embeds: model_index.json's, else dwtDctSvd (older models)."""
    index = Path(model_dir) / "model_index.json"
    saved = json.loads(index.read_text()) if index.is_file() else {}
    return saved.get("watermark_method") or WATERMARK_METHOD


@contextmanager
def _caller_threads():
    """Restore the caller's torch thread count: generation may tune it for the audit's duration."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _write(report: AuditReport, out_dir: Path, generate: Generator) -> AuditReport:
    tuner = getattr(generate, "thread_tuner", None)
    if tuner is not None:
        report.notes.append(f"torch threads while generating: {tuner.describe()}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{report.audit}_report.json").write_text(report.model_dump_json(indent=2))
    return report


def run_quality(
    cfg: QualityConfig,
    model_dir: Path,
    governed_path: Path,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    compile_mode: str = "auto",
) -> AuditReport:
    """Held-out loss, FD/KID in MobileNetV2 features and the alignment probe; writes quality_report.json."""
    from training.api import denoising_losses

    train, held_out = train_and_eval(read_governed(governed_path))
    with _caller_threads():
        generate, resolution = _model_generator(
            model_dir, cfg.sample_steps, cfg.guidance_scale, cfg.batch_size, compile_mode
        )
        progress("quality: held-out loss", 0, 1)
        losses = None
        if len(held_out):
            losses = denoising_losses(Path(model_dir), Path(governed_path), str(Split.EVAL), seed)
        progress("quality: held-out loss", 1, 1)
        report = audit_quality(
            cfg,
            generate,
            train,
            load_images(train, resolution),
            held_out,
            load_images(held_out, resolution),
            losses,
            Path(out_dir),
            seed,
            progress,
        )
    return _write(report, Path(out_dir), generate)


def run_bias(
    cfg: BiasConfig,
    model_dir: Path,
    governed_path: Path,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    deadline: float | None = None,
    compile_mode: str = "auto",
) -> AuditReport:
    """Representation and quality of service per group of `cfg.attribute`; writes bias_report.json.

    `deadline` (a `time.time()` value) bounds the extra images the representation power rule asks for.
    """
    train, _ = train_and_eval(read_governed(governed_path))
    with _caller_threads():
        generate, resolution = _model_generator(
            model_dir, cfg.sample_steps, cfg.guidance_scale, cfg.batch_size, compile_mode
        )
        train_images = load_images(train, resolution)
        report = audit_bias(cfg, generate, train, train_images, Path(out_dir), seed, progress, deadline)
    return _write(report, Path(out_dir), generate)


def run_deepfake(
    cfg: DeepfakeConfig,
    model_dir: Path,
    governed_path: Path,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    run_id: str = "",
    signing=None,
    compile_mode: str = "auto",
) -> AuditReport:
    """Replication, faces, PII and provenance-mark survival; writes deepfake_report.json.

    `signing` (`audits.config.SigningConfig`) signs the sampled outputs as the run signs every output;
    None: a throw-away key for `run_id`.
    """
    creds, mining = None, "notAllowed"
    if signing is not None:
        from training.output_credentials import credentials_for

        creds, mining = credentials_for(signing, run_id or "audit-run"), signing.training_mining
    train, held_out = train_and_eval(read_governed(governed_path))
    with _caller_threads():
        generate, resolution = _model_generator(
            model_dir, cfg.sample_steps, cfg.guidance_scale, cfg.batch_size, compile_mode
        )
        report = audit_deepfake(
            cfg,
            generate,
            train,
            load_images(train, resolution),
            Path(out_dir),
            seed,
            progress,
            run_id=run_id,
            model_name=_model_name(model_dir),
            watermark_method=_watermark_method(model_dir),
            held_out_images=load_images(held_out, resolution),
            creds=creds,
            training_mining=mining,
        )
    return _write(report, Path(out_dir), generate)
