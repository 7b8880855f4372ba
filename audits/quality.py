"""Quality audit core: held-out loss, Fréchet distance / KID in MobileNetV2 features, alignment probe.

Every gate is relative to a baseline measured in the same run, because none of these numbers means
anything alone: the held-out loss against predictors that ignore their input (same batch, same noise),
the FD against the FD between real train and held-out images, the alignment against chance. Pure over a
`Generator`, the governed records and their images, so tests use known generators.
"""

import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from audits.alignment_probe import retrieval_hits, train_probe
from audits.checks import threshold_check
from audits.config import QualityConfig
from audits.feature_networks import FEATURE_NETWORK, mobilenet_component, mobilenet_features
from audits.frechet import frechet_distance, kernel_distance
from audits.generation import Generator, ProgressFn, generate_batched
from audits.governed_data import RESIZE_METHOD, GovernedRecords
from audits.optional_metrics import clip_score, inception_fid
from audits.report import Audit, AuditCheck, AuditReport, Metric
from audits.text_embeddings import TEXT_ENCODER, embed_texts, minilm_component

# Train subsets drawn for the real-vs-real FD: their mean is the baseline, so one lucky draw cannot move it.
FLOOR_DRAWS = 5
LOSS_BASELINES = ("zero_velocity", "mean_image")


@dataclass
class _Part:
    metrics: list[Metric] = field(default_factory=list)
    checks: list[AuditCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Features:
    """MobileNetV2 features of the images the FD and the alignment probe compare, with their captions."""

    generated: np.ndarray  # one per prompt
    prompts: list[str]  # each generated image's prompt: a held-out caption
    real: np.ndarray  # the sampled held-out images
    real_texts: list[str]  # their captions
    train: np.ndarray  # the probe's training images (and the real-vs-real FD baseline's)
    train_texts: list[str]  # their captions


def _sample(n_total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n_total, min(n, n_total), replace=False))


def _check(cfg: QualityConfig, *args, why: str = "") -> AuditCheck:
    return threshold_check(
        *args, audit=Audit.QUALITY, why_unmeasured=why, allow_unmeasured=cfg.allow_unmeasured
    )


def _loss_part(cfg: QualityConfig, losses: dict[str, float] | None, n_held_out: int, small: str) -> _Part:
    """The held-out loss and its ratio to the best predictor that ignores its input."""
    part = _Part()
    model = losses.get("model") if losses else None
    baselines = {k: losses[k] for k in LOSS_BASELINES if losses and k in losses}
    why = small or ("" if model is not None else "the training package gave no held-out loss")
    if not why and not (baselines and min(baselines.values()) > 0):
        why = "the training package gave no baseline loss to compare with"
    if model is not None:
        part.metrics.append(
            Metric(
                name="heldout_denoising_loss",
                value=model,
                implementation="training.api.denoising_losses on the eval split (fixed noise and levels)",
                details={"images": n_held_out},
            )
        )
    part.metrics += [
        Metric(
            name=f"heldout_loss_{name}_predictor",
            value=value,
            implementation=f"the same batch and noise, predicting {name.replace('_', ' ')} for every input",
        )
        for name, value in baselines.items()
    ]
    ratio = None if why else model / min(baselines.values())
    if ratio is not None:
        part.metrics.append(
            Metric(
                name="heldout_loss_ratio",
                value=ratio,
                implementation="held-out loss / the smaller of the two baseline predictors' losses",
                details={"baseline": min(baselines, key=baselines.get)},
            )
        )
    named = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in baselines.items()) or "none"
    part.checks += [
        _check(
            cfg,
            "heldout_loss_ratio",
            ratio,
            cfg.max_heldout_loss_ratio,
            "max",
            "held-out flow-matching loss over that of the best predictor that ignores its input "
            f"(same batch and noise; baselines: {named})",
            "the model barely beats a constant guess: train longer (run.budget) or check the data",
            why=why,
        ),
        _check(
            cfg,
            "heldout_loss",
            None if small else model,
            cfg.max_heldout_loss,
            "max",
            "held-out flow-matching loss",
            "train longer or check the data",
            why=small or "the training package gave no held-out loss",
        ),
    ]
    return part


def _fd_part(
    cfg: QualityConfig,
    gen_feats: np.ndarray,
    real_feats: np.ndarray,
    train_feats: np.ndarray,
    details: dict,
    rng: np.random.Generator,
    seed: int,
) -> _Part:
    """FD and KID of generated vs held-out, and the FD of real train vs held-out images as the baseline."""
    part = _Part()
    fd = frechet_distance(gen_feats, real_feats)
    part.metrics += _distance_metrics(cfg, fd, gen_feats, real_feats, details, seed)
    floor_n = min(len(train_feats), len(gen_feats))
    floor, floor_metric = _real_floor(train_feats, real_feats, floor_n, details, rng)
    part.metrics.append(floor_metric)
    ratio = fd / floor if floor > 0 else None
    if ratio is not None:
        part.metrics.append(
            Metric(
                name="fd_ratio_to_real",
                value=ratio,
                feature_network=FEATURE_NETWORK,
                implementation="fd_mobilenetv2_imagenet / fd_mobilenetv2_imagenet_train_vs_heldout",
                details=details,
            )
        )
    what = (
        f"Fréchet distance in MobileNetV2 features ({len(gen_feats)} generated vs {len(real_feats)} held-out)"
    )
    part.checks += [
        _check(
            cfg,
            "fd_ratio_to_real",
            ratio,
            cfg.max_fd_ratio,
            "max",
            f"{what}, over the same distance between {floor_n} real train images and the held-out ones "
            f"({floor:.4g})",
            "generated images are much further from real ones than real images are from each other: "
            "train longer or on more data",
            why="the real-vs-real distance is 0 (identical train and held-out features)",
        ),
        _check(
            cfg,
            "fd_mobilenetv2_imagenet",
            fd,
            cfg.max_fd_mobilenet,
            "max",
            what,
            "train longer or on more data; compare with the train-vs-held-out floor",
        ),
    ]
    return part


def _distance_metrics(
    cfg: QualityConfig, fd: float, gen_feats: np.ndarray, real_feats: np.ndarray, details: dict, seed: int
) -> list[Metric]:
    """FD and KID of generated vs held-out features."""
    kid_size = min(cfg.kid_subset_size, len(gen_feats), len(real_feats))
    kid, kid_std = kernel_distance(gen_feats, real_feats, cfg.kid_subsets, kid_size, seed)
    return [
        Metric(
            name="fd_mobilenetv2_imagenet",
            value=fd,
            feature_network=FEATURE_NETWORK,
            implementation="audits.frechet.frechet_distance (numpy eigh; FID formula)",
            details=details,
        ),
        Metric(
            name="kid_mobilenetv2_imagenet",
            value=kid,
            feature_network=FEATURE_NETWORK,
            implementation="audits.frechet.kernel_distance (unbiased MMD^2, cubic kernel)",
            details={**details, "std": kid_std, "subsets": cfg.kid_subsets, "subset_size": kid_size},
        ),
    ]


def _real_floor(
    train_feats: np.ndarray, real_feats: np.ndarray, n: int, details: dict, rng: np.random.Generator
) -> tuple[float, Metric]:
    """The FD between `n` real train images and the held-out ones, mean of FLOOR_DRAWS draws.

    As many train images as generated ones: the FD's small-sample bias grows as samples shrink, so
    both sides of the ratio must be the same size.
    """
    floors = [
        frechet_distance(train_feats[rng.choice(len(train_feats), n, replace=False)], real_feats)
        for _ in range(FLOOR_DRAWS)
    ]
    floor = float(np.mean(floors))
    common = {k: v for k, v in details.items() if k not in ("generated", "held_out")}
    metric = Metric(
        name="fd_mobilenetv2_imagenet_train_vs_heldout",
        value=floor,
        feature_network=FEATURE_NETWORK,
        implementation="audits.frechet.frechet_distance between real train and held-out images, "
        f"mean of {FLOOR_DRAWS} train draws",
        details={"train": n, "held_out": len(real_feats), "draw_std": float(np.std(floors)), **common},
    )
    return floor, metric


@dataclass
class _Alignment:
    """Top-k retrieval of the in-domain probe on held-out pairs and on generated images."""

    scores: dict[str, float]
    captions: int
    details: dict

    @property
    def chance(self) -> float:
        return min(1.0, 5 / self.captions)

    @property
    def probe_lift(self) -> float:
        return self.scores["alignment_probe_heldout_top5"] / self.chance

    @property
    def generated_lift(self) -> float:
        return self.scores["alignment_generated_top5"] / self.chance


def _alignment_scores(cfg: QualityConfig, feats: _Features, seed: int) -> _Alignment:
    """Train the probe on the train split and score held-out and generated images against held-out captions."""
    train_text = embed_texts(feats.train_texts)
    probe = train_probe(feats.train, train_text, seed=seed, steps=cfg.probe_steps)
    captions = sorted(set(feats.real_texts))
    caption_emb = embed_texts(captions)
    own = np.array([captions.index(t) for t in feats.real_texts])
    sim_real = probe.similarity(feats.real, caption_emb)
    gen_own = np.array([captions.index(p) for p in feats.prompts])
    sim_gen = probe.similarity(feats.generated, caption_emb)
    scores = {
        "alignment_probe_heldout_top1": float(retrieval_hits(sim_real, own, 1).mean()),
        "alignment_probe_heldout_top5": float(retrieval_hits(sim_real, own, 5).mean()),
        "alignment_generated_top1": float(retrieval_hits(sim_gen, gen_own, 1).mean()),
        "alignment_generated_top5": float(retrieval_hits(sim_gen, gen_own, 5).mean()),
    }
    details = {
        "train_pairs": len(feats.train_texts),
        "candidate_captions": len(captions),
        "chance_top1": 1 / len(captions),
        "chance_top5": min(1.0, 5 / len(captions)),
        "text_encoder": TEXT_ENCODER,
        "steps": cfg.probe_steps,
    }
    return _Alignment(scores, len(captions), details)


def _alignment_unmeasurable(cfg: QualityConfig, al: _Alignment) -> str:
    """Why the lift cannot judge this model ('' when it can): too few captions, or a probe that cannot read."""
    need = cfg.min_alignment_lift
    if need is not None and 1 / al.chance < 2 * need:
        return (
            f"with {al.captions} held-out captions even a perfect model's lift is at most {1 / al.chance:.3g}, "
            f"under twice the threshold; raise governance.dedup.eval_fraction or add data"
        )
    if need is not None and al.probe_lift < need:
        return (
            f"the probe itself retrieves held-out captions only {al.probe_lift:.3g}x as often as chance, so it "
            "cannot judge generated images; raise audits.quality.probe_steps or probe_train_images"
        )
    return ""


def _alignment_part(cfg: QualityConfig, feats: _Features, common: dict, seed: int) -> _Part:
    """The in-domain probe (learned on the train split), on held-out pairs and on generated images."""
    part = _Part()
    al = _alignment_scores(cfg, feats, seed)
    details = {**al.details, **common}
    impl = "in-domain alignment probe (linear heads, symmetric InfoNCE on the train split); not CLIP"
    part.metrics += [
        Metric(
            name=name,
            value=value,
            implementation=impl,
            feature_network=FEATURE_NETWORK,
            details={**details, "images": len(feats.generated if "generated" in name else feats.real)},
        )
        for name, value in al.scores.items()
    ]
    part.metrics.append(
        Metric(
            name="alignment_generated_top5_lift",
            value=al.generated_lift,
            implementation="alignment_generated_top5 / chance_top5 (5 / candidate captions)",
            feature_network=FEATURE_NETWORK,
            details={**details, "probe_heldout_top5_lift": al.probe_lift, "images": len(feats.generated)},
        )
    )
    part.checks += _alignment_checks(cfg, al, _alignment_unmeasurable(cfg, al))
    return part


def _alignment_checks(cfg: QualityConfig, al: _Alignment, why: str) -> list[AuditCheck]:
    """The lift gate (not measured when `why`) and the probe's own and the raw top-5 checks."""
    return [
        _check(
            cfg,
            "alignment_generated_top5_lift",
            None if why else al.generated_lift,
            cfg.min_alignment_lift,
            "min",
            f"how many times more often than chance ({al.chance:.3g}) a generated image's prompt is in the "
            f"probe's top 5 of {al.captions} held-out captions (the probe scores real held-out images "
            f"at {al.probe_lift:.3g}x)",
            "images do not follow their prompts: train longer or raise guidance_scale",
            why=why,
        ),
        _check(
            cfg,
            "alignment_probe_heldout_top5",
            al.scores["alignment_probe_heldout_top5"],
            cfg.min_probe_heldout_top5,
            "min",
            "held-out top-5 retrieval accuracy of the alignment probe (how far it can be trusted)",
            "the probe cannot tell captions apart: alignment numbers are not informative",
        ),
        _check(
            cfg,
            "alignment_generated_top5",
            al.scores["alignment_generated_top5"],
            cfg.min_alignment_top5,
            "min",
            "share of generated images whose prompt is in the probe's top 5 captions",
            "images do not follow their prompts: train longer or raise guidance_scale",
        ),
    ]


def _unmeasured_features(cfg: QualityConfig, why: str) -> _Part:
    """The feature-based checks when the held-out split is too small to compare distributions."""
    part = _Part(notes=[f"FD, KID and the alignment probe not computed: {why}"])
    for name, threshold, direction in (
        ("fd_ratio_to_real", cfg.max_fd_ratio, "max"),
        ("fd_mobilenetv2_imagenet", cfg.max_fd_mobilenet, "max"),
        ("alignment_generated_top5_lift", cfg.min_alignment_lift, "min"),
        ("alignment_probe_heldout_top5", cfg.min_probe_heldout_top5, "min"),
        ("alignment_generated_top5", cfg.min_alignment_top5, "min"),
    ):
        part.checks.append(_check(cfg, name, None, threshold, direction, name.replace("_", " "), "", why=why))
    return part


def audit_quality(
    cfg: QualityConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    held_out: GovernedRecords,
    held_out_images: np.ndarray,
    losses: dict[str, float] | None,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
) -> AuditReport:
    """Quality metrics of a generator against the held-out split; the probe learns from the train split.

    `losses` are `training.api.denoising_losses`: the model's held-out loss (`model`) and the baselines'.
    A held-out split smaller than `cfg.min_heldout_images` leaves the FD and alignment checks not
    measured (with the reason and the setting to change) instead of computing distances from a handful
    of images; an empty one leaves the loss checks not measured too.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    small = (
        f"the eval split holds {len(held_out)} image{'' if len(held_out) == 1 else 's'}, fewer than "
        f"audits.quality.min_heldout_images "
        f"({cfg.min_heldout_images}); raise governance.dedup.eval_fraction or add data"
        if len(held_out) < cfg.min_heldout_images
        else ""
    )
    if not small and len(train) < 2:
        small = (
            f"the train split holds {len(train)} image, and the real-vs-real baseline and the probe need at "
            "least 2; lower governance.dedup.eval_fraction or add data"
        )
    # The loss is a mean over images at fixed noise, its baselines on the same batch: any held-out image
    # gives it. Distances between image distributions need `min_heldout_images`.
    parts = [_loss_part(cfg, losses, len(held_out), small if len(held_out) == 0 else "")]
    if small:
        parts.append(_unmeasured_features(cfg, small))
    else:
        parts.append(
            _generated_parts(
                cfg, generate, train, train_images, held_out, held_out_images, rng, seed, progress
            )
        )
    metrics = [m for p in parts for m in p.metrics]
    notes = [n for p in parts for n in p.notes]
    if not small:
        notes.append(
            "FD/KID use MobileNetV2 ImageNet features, not Inception-v3: not comparable to published FID"
        )
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    return AuditReport(
        audit=Audit.QUALITY,
        checks=[c for p in parts for c in p.checks],
        metrics=metrics,
        components=[mobilenet_component(), minilm_component()],
        seconds=time.perf_counter() - start,
        notes=notes,
        tables={
            "library_versions": [
                {"library": k, "version": v}
                for k, v in {**versions, "transformers": metadata.version("transformers")}.items()
            ]
        },
    )


def _generated_parts(
    cfg: QualityConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    held_out: GovernedRecords,
    held_out_images: np.ndarray,
    rng: np.random.Generator,
    seed: int,
    progress: ProgressFn,
) -> _Part:
    """Generate from held-out captions (pairs the model never saw), then FD/KID and alignment."""
    resolution = int(held_out_images.shape[1])
    common = {
        "resize": f"{RESIZE_METHOD} to {resolution} px, then torch bilinear (antialias) to "
        f"{cfg.feature_resolution} px",
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    eval_idx = _sample(len(held_out), cfg.max_heldout_images, rng)
    real = held_out_images[eval_idx]
    real_texts = [held_out.texts[i] for i in eval_idx]
    prompt_idx = rng.choice(len(eval_idx), cfg.num_images, replace=len(eval_idx) < cfg.num_images)
    prompts = [real_texts[i] for i in prompt_idx]
    generated = generate_batched(
        generate,
        prompts,
        [seed + i for i in range(len(prompts))],
        progress,
        "quality: generating",
        cfg.batch_size,
    )
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(
            f"generated images {generated.shape[1:]} differ from held-out images {real.shape[1:]}"
        )
    progress("quality: features", 0, 3)
    gen_feats = mobilenet_features(generated, cfg.feature_resolution)
    real_feats = mobilenet_features(real, cfg.feature_resolution)
    progress("quality: features", 1, 3)
    probe_idx = _sample(len(train), cfg.probe_train_images, rng)
    train_feats = mobilenet_features(train_images[probe_idx], cfg.feature_resolution)
    progress("quality: features", 3, 3)
    feats = _Features(
        gen_feats, prompts, real_feats, real_texts, train_feats, [train.texts[i] for i in probe_idx]
    )

    details = {"generated": len(generated), "held_out": len(real), **common}
    part = _fd_part(cfg, gen_feats, real_feats, train_feats, details, rng, seed)
    progress("quality: alignment probe", 0, 2)
    align = _alignment_part(cfg, feats, common, seed)
    progress("quality: alignment probe", 2, 2)
    part.metrics += align.metrics
    part.checks += align.checks
    if cfg.inception_weights:
        extra, extra_notes = inception_fid(cfg.inception_weights, generated, real)
        part.metrics += extra
        part.notes += extra_notes
    else:
        part.notes.append(
            "real Inception FID/KID not computed: no local Inception weights given "
            "(audits.quality.inception_weights)"
        )
    if cfg.clip_model:
        part.metrics.append(clip_score(cfg.clip_model, generated, prompts))
    else:
        part.notes.append(
            "real CLIP score not computed: no local CLIP model given (audits.quality.clip_model); "
            "alignment is the in-domain probe above"
        )
    return part
