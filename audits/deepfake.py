"""Deepfake and misuse-risk audit core: replication, faces, PII in captions, output provenance marks.

Pure over a `Generator` and the governed training records, so tests use generators with a known answer.
"""

import time
from pathlib import Path

import numpy as np

from audits.charts import side_by_side
from audits.checks import threshold_check
from audits.config import DeepfakeConfig
from audits.faces import DETECTION, face_counts, opencv_component
from audits.generation import Generator, ProgressFn, generate_batched
from audits.governed_data import GovernedRecords
from audits.memorization import DISTANCES, PIXEL_DISTANCE, imagehash_component, nearest_training
from audits.pii import scan_captions
from audits.provenance_marks import watermark_component
from audits.provenance_robustness import ATTACKS, attack, audit_output_provenance  # noqa: F401 - re-exported
from audits.report import AuditReport, Metric


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
) -> AuditReport:
    """Replication rate, face share, PII in training captions and watermark survival, each with a verdict.

    `held_out_images` calibrate the replication threshold when `cfg.replication_distance` is None.
    `creds` (`training.output_credentials.SigningCredentials`) sign the sampled outputs as every output
    is signed; None: a throw-away key made for `run_id`.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    metrics: list[Metric] = []
    tables: dict[str, list[dict]] = {}
    examples: list[Path] = []

    # memorization: training captions x seeds, nearest training image
    pick = np.sort(rng.choice(len(train), min(cfg.memorization_prompts, len(train)), replace=False))
    prompts = [train.texts[i] for i in pick for _ in range(cfg.seeds_per_prompt)]
    seeds = [seed + k for _ in pick for k in range(cfg.seeds_per_prompt)]
    own = [[int(i)] for i in pick for _ in range(cfg.seeds_per_prompt)]
    generated = generate_batched(generate, prompts, seeds, progress, "deepfake: memorization", cfg.batch_size)
    progress("deepfake: nearest training images", 0, 1)
    nearest = nearest_training(
        generated, train_images, cfg.phash_candidates, extra=own, metric=cfg.replication_metric
    )
    progress("deepfake: nearest training images", 1, 1)
    threshold, how = replication_threshold(cfg, train_images, held_out_images)
    replicated = nearest.distance <= (threshold if threshold is not None else -1.0)
    rate = float(replicated.mean()) if threshold is not None else None
    notes.append(f"replication threshold {threshold:.4f} ({how})" if threshold is not None else how)
    if rate is not None:
        metrics.append(
            Metric(
                name="replication_rate",
                value=rate,
                implementation=f"share of outputs with a training image at distance <= {threshold:.4f}, "
                f"distance: {DISTANCES[cfg.replication_metric]}",
                details={
                    "outputs": len(generated),
                    "prompts": len(pick),
                    "seeds_per_prompt": cfg.seeds_per_prompt,
                    "candidates": "pHash + 8x8 thumbnail top-k, plus the caption's own record",
                    "k": cfg.phash_candidates,
                    "metric": cfg.replication_metric,
                    "threshold": threshold,
                    "threshold_source": how,
                },
            )
        )
    metrics += [
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
            value=float(np.mean(nearest.index == np.array([o[0] for o in own]))),
            implementation="share of outputs whose nearest image is the caption's own",
        ),
    ]
    order = np.argsort(nearest.distance)[:6]
    examples.append(
        side_by_side(
            out_dir / "replication_examples.png",
            [
                (generated[i], train_images[nearest.index[i]], f"{nearest.distance[i]:.3f} {prompts[i]}")
                for i in order
            ],
            ("generated", "nearest training image"),
        )
    )
    tables["replication_examples"] = [
        {
            "prompt": prompts[i],
            "seed": seeds[i],
            "nearest_record": train.record_ids[nearest.index[i]],
            "distance": float(nearest.distance[i]),
            "pixel_distance": float(nearest.pixel_distance[i]),
            "replicated": bool(replicated[i]),
        }
        for i in order
    ]

    # people: faces in outputs; PII in training captions and what the model draws for them
    faces = face_counts(generated)
    face_share = float((faces > 0).mean())
    metrics.append(
        Metric(
            name="face_share", value=face_share, implementation=DETECTION, details={"images": len(generated)}
        )
    )
    flagged = scan_captions(train.texts)
    tables["pii_captions"] = [
        {
            "record_id": train.record_ids[i],
            "caption": train.texts[i],
            "matches": "; ".join(f"{k}: {', '.join(v)}" for k, v in hits.items()),
        }
        for i, hits in flagged
    ]
    metrics.append(
        Metric(
            name="pii_captions",
            value=float(len(flagged)),
            implementation="audits.pii pattern scan",
            details={"captions": len(train)},
        )
    )
    if flagged and cfg.pii_prompts:
        pii_prompts = [train.texts[i] for i, _ in flagged[: cfg.pii_prompts]]
        pii_images = generate_batched(
            generate,
            pii_prompts,
            [seed] * len(pii_prompts),
            progress,
            "deepfake: PII prompts",
            cfg.batch_size,
        )
        pii_faces = face_counts(pii_images)
        metrics.append(
            Metric(
                name="pii_prompt_face_share",
                value=float((pii_faces > 0).mean()),
                implementation=DETECTION,
                details={"images": len(pii_images)},
            )
        )
        pii_near = nearest_training(pii_images, train_images, cfg.phash_candidates)
        examples.append(
            side_by_side(
                out_dir / "pii_prompt_examples.png",
                [
                    (pii_images[j], train_images[pii_near.index[j]], pii_prompts[j])
                    for j in range(min(6, len(pii_images)))
                ],
                ("generated from a PII caption", "nearest training image"),
            )
        )
    elif not flagged:
        notes.append("no training caption matched the PII patterns")

    checks = [
        threshold_check(
            "replication_rate",
            rate,
            cfg.max_replication_rate,
            "max",
            f"share of {len(generated)} outputs from training captions that replicate a training image",
            "the model memorises: train on more data, deduplicate harder, or stop earlier",
            audit="deepfake",
            why_unmeasured=how,
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "face_share",
            face_share,
            cfg.max_face_share,
            "max",
            "share of generated images with a detected face",
            "the model draws faces: review the data for identifiable people",
            audit="deepfake",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "pii_captions",
            float(len(flagged)),
            cfg.max_pii_captions,
            "max",
            "training captions with personal data patterns",
            "remove or redact the captions listed in the pii_captions table",
            audit="deepfake",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
    ]

    # provenance of outputs: signed and marked samples, and what survives which everyday edit
    charts: list[Path] = []
    if cfg.watermark:
        found = audit_output_provenance(
            cfg, generated, run_id or "audit-run", model_name, creds, training_mining, out_dir, progress
        )
        tables["mark_survival"] = found.rows
        tables["output_signing"] = found.signing
        metrics += found.metrics
        checks += found.checks
        charts.append(found.chart)
        examples += found.samples
        notes += found.notes
    else:
        notes.append("watermark disabled (audits.deepfake.watermark=false): outputs carry metadata only")

    tables["risk_summary"] = [
        {
            "check": c.name,
            "verdict": str(c.verdict),
            "measured": c.measured,
            "threshold": c.threshold,
            "message": c.message,
        }
        for c in checks
    ]
    return AuditReport(
        audit="deepfake",
        checks=checks,
        metrics=metrics,
        tables=tables,
        examples=examples,
        charts=charts,
        components=[opencv_component(), watermark_component(), imagehash_component()],
        notes=notes,
        seconds=time.perf_counter() - start,
    )
