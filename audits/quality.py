"""Quality audit core: held-out loss, Fréchet distance / KID in MobileNetV2 features, alignment probe.

Pure over a `Generator`, the governed records and their images, so tests use known generators.
"""

import time
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
from audits.report import AuditReport, Metric
from audits.text_embeddings import TEXT_ENCODER, embed_texts, minilm_component


def _sample(n_total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n_total, min(n, n_total), replace=False))


def audit_quality(
    cfg: QualityConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    held_out: GovernedRecords,
    held_out_images: np.ndarray,
    heldout_loss: float | None,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
) -> AuditReport:
    """Quality metrics of a generator against the held-out split; the probe learns from the train split."""
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    resolution = int(held_out_images.shape[1])
    versions = {"torch": torch.__version__, "numpy": np.__version__}
    common = {
        "resize": f"{RESIZE_METHOD} to {resolution} px, then torch bilinear (antialias) to "
        f"{cfg.feature_resolution} px",
        **versions,
    }

    # generate from held-out captions: the model never saw these pairs
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

    feature_details = {"generated": len(generated), "held_out": len(real), **common}
    metrics = []
    fd = frechet_distance(gen_feats, real_feats)
    metrics.append(
        Metric(
            name="fd_mobilenetv2_imagenet",
            value=fd,
            feature_network=FEATURE_NETWORK,
            implementation="audits.frechet.frechet_distance (numpy eigh; FID formula)",
            details=feature_details,
        )
    )
    kid_size = min(cfg.kid_subset_size, len(gen_feats), len(real_feats))
    kid, kid_std = kernel_distance(gen_feats, real_feats, cfg.kid_subsets, kid_size, seed)
    metrics.append(
        Metric(
            name="kid_mobilenetv2_imagenet",
            value=kid,
            feature_network=FEATURE_NETWORK,
            implementation="audits.frechet.kernel_distance (unbiased MMD^2, cubic kernel)",
            details={**feature_details, "std": kid_std, "subsets": cfg.kid_subsets, "subset_size": kid_size},
        )
    )
    # the same distance between two sets of real images: the floor the generated FD is read against
    floor_n = min(len(train_feats), len(gen_feats))
    floor = frechet_distance(train_feats[rng.choice(len(train_feats), floor_n, replace=False)], real_feats)
    metrics.append(
        Metric(
            name="fd_mobilenetv2_imagenet_train_vs_heldout",
            value=floor,
            feature_network=FEATURE_NETWORK,
            implementation="audits.frechet.frechet_distance between real train and held-out images",
            details={"train": floor_n, "held_out": len(real), **common},
        )
    )

    # alignment probe: trained on the train split only, measured on held-out pairs and on generations
    progress("quality: alignment probe", 0, 2)
    train_text = embed_texts([train.texts[i] for i in probe_idx])
    probe = train_probe(train_feats, train_text, seed=seed, steps=cfg.probe_steps)
    captions = sorted(set(real_texts))
    caption_emb = embed_texts(captions)
    own = np.array([captions.index(t) for t in real_texts])
    sim_real = probe.similarity(real_feats, caption_emb)
    held_top1 = float(retrieval_hits(sim_real, own, 1).mean())
    held_top5 = float(retrieval_hits(sim_real, own, 5).mean())
    gen_own = np.array([captions.index(p) for p in prompts])
    sim_gen = probe.similarity(gen_feats, caption_emb)
    gen_top1 = float(retrieval_hits(sim_gen, gen_own, 1).mean())
    gen_top5 = float(retrieval_hits(sim_gen, gen_own, 5).mean())
    progress("quality: alignment probe", 2, 2)
    probe_details = {
        "train_pairs": len(probe_idx),
        "candidate_captions": len(captions),
        "chance_top1": 1 / len(captions),
        "chance_top5": min(1.0, 5 / len(captions)),
        "text_encoder": TEXT_ENCODER,
        "steps": cfg.probe_steps,
        **common,
    }
    probe_impl = "in-domain alignment probe (linear heads, symmetric InfoNCE on the train split); not CLIP"
    metrics += [
        Metric(
            name=name,
            value=value,
            implementation=probe_impl,
            feature_network=FEATURE_NETWORK,
            details={**probe_details, "images": images},
        )
        for name, value, images in (
            ("alignment_probe_heldout_top1", held_top1, len(real)),
            ("alignment_probe_heldout_top5", held_top5, len(real)),
            ("alignment_generated_top1", gen_top1, len(generated)),
            ("alignment_generated_top5", gen_top5, len(generated)),
        )
    ]

    if cfg.inception_weights:
        extra, extra_notes = inception_fid(cfg.inception_weights, generated, real)
        metrics += extra
        notes += extra_notes
    else:
        notes.append(
            "real Inception FID/KID not computed: no local Inception weights given "
            "(audits.quality.inception_weights)"
        )
    if cfg.clip_model:
        metrics.append(clip_score(cfg.clip_model, generated, prompts))
    else:
        notes.append(
            "real CLIP score not computed: no local CLIP model given (audits.quality.clip_model); "
            "alignment is the in-domain probe above"
        )
    notes.append(
        "FD/KID use MobileNetV2 ImageNet features, not Inception-v3: not comparable to published FID"
    )

    if heldout_loss is not None:
        metrics.insert(
            0,
            Metric(
                name="heldout_denoising_loss",
                value=heldout_loss,
                implementation="training.api.denoising_loss on the eval split",
            ),
        )
    checks = [
        threshold_check(
            "heldout_loss",
            heldout_loss,
            cfg.max_heldout_loss,
            "max",
            "held-out flow-matching loss",
            "train longer or check the data",
            audit="quality",
            why_unmeasured="the training package gave no held-out loss",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "fd_mobilenetv2_imagenet",
            fd,
            cfg.max_fd_mobilenet,
            "max",
            f"Fréchet distance in MobileNetV2 features ({len(generated)} generated vs {len(real)} held-out)",
            "train longer or on more data; compare with the train-vs-held-out floor",
            audit="quality",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "alignment_probe_heldout_top5",
            held_top5,
            cfg.min_probe_heldout_top5,
            "min",
            "held-out top-5 retrieval accuracy of the alignment probe (how far it can be trusted)",
            "the probe cannot tell captions apart: alignment numbers are not informative",
            audit="quality",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
        threshold_check(
            "alignment_generated_top5",
            gen_top5,
            cfg.min_alignment_top5,
            "min",
            "share of generated images whose prompt is in the probe's top 5 captions",
            "images do not follow their prompts: train longer or raise guidance_scale",
            audit="quality",
            allow_unmeasured=cfg.allow_unmeasured,
        ),
    ]
    return AuditReport(
        audit="quality",
        checks=checks,
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
