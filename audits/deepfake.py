"""Deepfake and misuse-risk audit core: replication, faces, PII in captions, output provenance marks.

Pure over a `Generator` and the governed training records, so tests use generators with a known answer.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audits.charts import side_by_side
from audits.checks import threshold_check
from audits.config import DeepfakeConfig
from audits.faces import DETECTION, face_counts, opencv_component
from audits.generation import Generator, ProgressFn, generate_batched
from audits.governed_data import GovernedRecords
from audits.memorization import (
    DISTANCES,
    PIXEL_DISTANCE,
    NearestTraining,
    imagehash_component,
    nearest_training,
)
from audits.pii import scan_captions
from audits.provenance_marks import watermark_component
from audits.provenance_robustness import (  # noqa: F401 - ATTACKS, attack re-exported
    ATTACKS,
    OutputSigner,
    attack,
    audit_output_provenance,
)
from audits.report import Audit, AuditCheck, AuditReport, Metric
from training.output_marks import WATERMARK_METHOD


def replication_threshold(
    cfg: DeepfakeConfig, train_images: np.ndarray, held_out_images: np.ndarray | None
) -> tuple[float | None, str]:
    """The distance under which an output counts as a copy, and where it came from (None: cannot say).

    Calibrated on the data when not configured: the `replication_quantile` of the distances from unseen
    real images to their nearest training image, i.e. an output replicates when it sits closer to a
    training image than 99% of unseen real images do. Emoji at 32 px include distinct images within
    0.003 of each other in pixels, so no fixed distance fits every dataset. Identical pixels always
    count. With fewer than `min_calibration_images` held-out images (a small fine-tune's split holds
    one or two), each training image's distance to its nearest *other* training image joins them:
    distinct real images too, kept apart by the dedup stage.
    """
    if cfg.replication_distance is not None:
        return cfg.replication_distance, "configured: audits.deepfake.replication_distance"
    held = (
        held_out_images if held_out_images is not None else np.zeros((0, *train_images.shape[1:]), np.uint8)
    )
    parts, sources = [], []
    if len(held):
        parts.append(
            nearest_training(held, train_images, cfg.phash_candidates, metric=cfg.replication_metric).distance
        )
        sources.append(f"{len(held)} held-out-to-train")
    if len(held) < cfg.min_calibration_images and len(train_images) >= 2:
        rng = np.random.default_rng(0)
        queries = np.sort(rng.choice(len(train_images), min(len(train_images), 256), replace=False))
        loo = nearest_training(
            train_images[queries],
            train_images,
            cfg.phash_candidates,
            metric=cfg.replication_metric,
            exclude=queries,
        ).distance
        parts.append(loo)
        sources.append(f"{len(loo)} train-to-other-train")
    distances = np.concatenate(parts) if parts else np.zeros(0)
    if len(distances) < 2:
        return None, (
            f"{len(held)} held-out and {len(train_images)} training images: too few real images to calibrate "
            "what a copy is; set audits.deepfake.replication_distance (e.g. 0.01 in correlation distance)"
        )
    value = float(np.quantile(distances, cfg.replication_quantile))
    return value, f"calibrated: {cfg.replication_quantile:.0%} quantile of " + " and ".join(
        sources
    ) + " distances"


@dataclass
class _Findings:
    """What the audit's parts add to the report, in the order the report lists them."""

    metrics: list[Metric] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    examples: list[Path] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[AuditCheck] = field(default_factory=list)


@dataclass(frozen=True)
class _Samples:
    """Training captions x seeds: what the memorization probe generates, and each output's own record."""

    picked: np.ndarray  # indices into the training records
    prompts: list[str]
    seeds: list[int]
    own: list[list[int]]  # per output: the record its caption came from (always a candidate)


@dataclass(frozen=True)
class _Replication:
    generated: np.ndarray
    rate: float | None  # None: no threshold could be calibrated
    how: str  # where the threshold came from, or why there is none


def audit_deepfake(
    cfg: DeepfakeConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    run_id: str = "",
    model_name: str = "t2i-pipeline model",
    held_out_images: np.ndarray | None = None,
    creds=None,
    training_mining: str = "notAllowed",
    watermark_method: str = WATERMARK_METHOD,
) -> AuditReport:
    """Replication rate, face share, PII in training captions and watermark survival, each with a verdict.

    `held_out_images` calibrate the replication threshold when `cfg.replication_distance` is None.
    `creds` (`training.output_credentials.SigningCredentials`) sign the sampled outputs as every output
    is signed; None: a throw-away key made for `run_id`. `watermark_method` is the model's (its
    model_index.json), so the survival measured is that of the mark its outputs carry.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    found = _Findings()
    samples = _sample_captions(cfg, train, seed)
    generated = generate_batched(
        generate, samples.prompts, samples.seeds, progress, "deepfake: memorization", cfg.batch_size
    )
    replication = _replication(
        cfg, generated, samples, train, train_images, held_out_images, out_dir, progress, found
    )
    face_share = _face_share(generated, found)
    flagged = _pii(cfg, generate, train, train_images, seed, out_dir, progress, found)
    found.checks += _people_checks(cfg, replication, face_share, len(flagged))
    if cfg.watermark:
        signer = OutputSigner.for_run(
            run_id or "audit-run", model_name, creds, training_mining, watermark_method
        )
        _output_provenance(cfg, generated, signer, out_dir, progress, found)
    else:
        found.notes.append(
            "watermark disabled (audits.deepfake.watermark=false): outputs carry metadata only"
        )
    found.tables["risk_summary"] = _risk_summary(found.checks)
    return AuditReport(
        audit=Audit.DEEPFAKE,
        checks=found.checks,
        metrics=found.metrics,
        tables=found.tables,
        examples=found.examples,
        charts=found.charts,
        components=[opencv_component(), watermark_component(), imagehash_component()],
        notes=found.notes,
        seconds=time.perf_counter() - start,
    )


def _sample_captions(cfg: DeepfakeConfig, train: GovernedRecords, seed: int) -> _Samples:
    """`cfg.memorization_prompts` training captions (drawn with `seed`), each with `seeds_per_prompt` seeds."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(train), min(cfg.memorization_prompts, len(train)), replace=False))
    per = range(cfg.seeds_per_prompt)
    return _Samples(
        picked=picked,
        prompts=[train.texts[i] for i in picked for _ in per],
        seeds=[seed + k for _ in picked for k in per],
        own=[[int(i)] for i in picked for _ in per],
    )


def _replication(
    cfg: DeepfakeConfig,
    generated: np.ndarray,
    samples: _Samples,
    train: GovernedRecords,
    train_images: np.ndarray,
    held_out_images: np.ndarray | None,
    out_dir: Path,
    progress: ProgressFn,
    found: _Findings,
) -> _Replication:
    """Each output's nearest training image, the share that are copies, and the closest pairs shown."""
    progress("deepfake: nearest training images", 0, 1)
    nearest = nearest_training(
        generated, train_images, cfg.phash_candidates, extra=samples.own, metric=cfg.replication_metric
    )
    progress("deepfake: nearest training images", 1, 1)
    threshold, how = replication_threshold(cfg, train_images, held_out_images)
    replicated = nearest.distance <= (threshold if threshold is not None else -1.0)
    rate = float(replicated.mean()) if threshold is not None else None
    found.notes.append(f"replication threshold {threshold:.4f} ({how})" if threshold is not None else how)
    if rate is not None:
        found.metrics.append(
            _replication_rate(cfg, rate, threshold, how, len(generated), len(samples.picked))
        )
    found.metrics += _nearest_metrics(cfg, nearest, samples)
    order = np.argsort(nearest.distance)[:6]
    found.examples.append(
        side_by_side(
            out_dir / "replication_examples.png",
            [
                (
                    generated[i],
                    train_images[nearest.index[i]],
                    f"{nearest.distance[i]:.3f} {samples.prompts[i]}",
                )
                for i in order
            ],
            ("generated", "nearest training image"),
        )
    )
    found.tables["replication_examples"] = [
        {
            "prompt": samples.prompts[i],
            "seed": samples.seeds[i],
            "nearest_record": train.record_ids[nearest.index[i]],
            "distance": float(nearest.distance[i]),
            "pixel_distance": float(nearest.pixel_distance[i]),
            "replicated": bool(replicated[i]),
        }
        for i in order
    ]
    return _Replication(generated=generated, rate=rate, how=how)


def _replication_rate(
    cfg: DeepfakeConfig, rate: float, threshold: float, how: str, outputs: int, prompts: int
) -> Metric:
    return Metric(
        name="replication_rate",
        value=rate,
        implementation=f"share of outputs with a training image at distance <= {threshold:.4f}, "
        f"distance: {DISTANCES[cfg.replication_metric]}",
        details={
            "outputs": outputs,
            "prompts": prompts,
            "seeds_per_prompt": cfg.seeds_per_prompt,
            "candidates": "pHash + 8x8 thumbnail top-k, plus the caption's own record",
            "k": cfg.phash_candidates,
            "metric": cfg.replication_metric,
            "threshold": threshold,
            "threshold_source": how,
        },
    )


def _nearest_metrics(cfg: DeepfakeConfig, nearest: NearestTraining, samples: _Samples) -> list[Metric]:
    return [
        Metric(
            name="nearest_training_distance_median",
            value=float(np.median(nearest.distance)),
            implementation=DISTANCES[cfg.replication_metric],
        ),
        Metric(
            name="nearest_training_pixel_distance_median",
            value=float(np.median(nearest.pixel_distance)),
            implementation=PIXEL_DISTANCE,
        ),
        Metric(
            name="own_caption_image_is_nearest",
            value=float(np.mean(nearest.index == np.array([o[0] for o in samples.own]))),
            implementation="share of outputs whose nearest image is the caption's own",
        ),
    ]


def _face_share(generated: np.ndarray, found: _Findings) -> float:
    """Share of the outputs with a detected face."""
    share = float((face_counts(generated) > 0).mean())
    found.metrics.append(
        Metric(name="face_share", value=share, implementation=DETECTION, details={"images": len(generated)})
    )
    return share


def _pii(
    cfg: DeepfakeConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    seed: int,
    out_dir: Path,
    progress: ProgressFn,
    found: _Findings,
) -> list[tuple[int, dict[str, list[str]]]]:
    """Training captions with personal data, and what the model draws for the first few of them."""
    flagged = scan_captions(train.texts)
    found.tables["pii_captions"] = [
        {
            "record_id": train.record_ids[i],
            "caption": train.texts[i],
            "matches": "; ".join(f"{k}: {', '.join(v)}" for k, v in hits.items()),
        }
        for i, hits in flagged
    ]
    found.metrics.append(
        Metric(
            name="pii_captions",
            value=float(len(flagged)),
            implementation="audits.pii pattern scan",
            details={"captions": len(train)},
        )
    )
    if flagged and cfg.pii_prompts:
        prompts = [train.texts[i] for i, _ in flagged[: cfg.pii_prompts]]
        _pii_prompt_outputs(cfg, generate, prompts, train_images, seed, out_dir, progress, found)
    elif not flagged:
        found.notes.append("no training caption matched the PII patterns")
    return flagged


def _pii_prompt_outputs(
    cfg: DeepfakeConfig,
    generate: Generator,
    prompts: list[str],
    train_images: np.ndarray,
    seed: int,
    out_dir: Path,
    progress: ProgressFn,
    found: _Findings,
) -> None:
    """Generate from PII captions: the share with faces, and the outputs beside their nearest training image."""
    images = generate_batched(
        generate, prompts, [seed] * len(prompts), progress, "deepfake: PII prompts", cfg.batch_size
    )
    found.metrics.append(
        Metric(
            name="pii_prompt_face_share",
            value=float((face_counts(images) > 0).mean()),
            implementation=DETECTION,
            details={"images": len(images)},
        )
    )
    near = nearest_training(images, train_images, cfg.phash_candidates)
    found.examples.append(
        side_by_side(
            out_dir / "pii_prompt_examples.png",
            [(images[j], train_images[near.index[j]], prompts[j]) for j in range(min(6, len(images)))],
            ("generated from a PII caption", "nearest training image"),
        )
    )


def _people_checks(
    cfg: DeepfakeConfig, replication: _Replication, face_share: float, pii_captions: int
) -> list[AuditCheck]:
    """The verdicts on copies of training images, faces in outputs and personal data in captions."""
    return [
        threshold_check(
            "replication_rate",
            replication.rate,
            cfg.max_replication_rate,
            "max",
            f"share of {len(replication.generated)} outputs from training captions that replicate a training image",
            "the model memorises: train on more data, deduplicate harder, or stop earlier",
            audit=Audit.DEEPFAKE,
            why_unmeasured=replication.how,
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "face_share",
            face_share,
            cfg.max_face_share,
            "max",
            "share of generated images with a detected face",
            "the model draws faces: review the data for identifiable people",
            audit=Audit.DEEPFAKE,
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "pii_captions",
            float(pii_captions),
            cfg.max_pii_captions,
            "max",
            "training captions with personal data patterns",
            "remove or redact the captions listed in the pii_captions table",
            audit=Audit.DEEPFAKE,
            allow_unmeasured=cfg.allow_unmeasured,
        ),
    ]


def _output_provenance(
    cfg: DeepfakeConfig,
    generated: np.ndarray,
    signer: OutputSigner,
    out_dir: Path,
    progress: ProgressFn,
    found: _Findings,
) -> None:
    """Signed and marked samples, and which mark survives which everyday edit."""
    result = audit_output_provenance(cfg, generated, signer, out_dir, progress)
    found.tables["mark_survival"] = result.rows
    found.tables["output_signing"] = result.signing
    found.metrics += result.metrics
    found.checks += result.checks
    found.charts.append(result.chart)
    found.examples += result.samples
    found.notes += result.notes


def _risk_summary(checks: list[AuditCheck]) -> list[dict]:
    return [
        {
            "check": c.name,
            "verdict": str(c.verdict),
            "measured": c.measured,
            "threshold": c.threshold,
            "message": c.message,
        }
        for c in checks
    ]
