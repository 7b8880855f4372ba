"""Bias audit core: representation for neutral prompts and quality of service per group (fairlearn).

Pure over a `Generator` and the governed training records, so tests use generators with a known answer.
"""

import time
from pathlib import Path

import fairlearn
import numpy as np
from fairlearn.metrics import MetricFrame

from audits.charts import grouped_bars
from audits.checks import threshold_check
from audits.config import BiasConfig
from audits.generation import Generator, ProgressFn, generate_batched
from audits.governed_data import GovernedRecords
from audits.memorization import correlation_distances
from audits.report import AuditReport, Metric
from audits.representation import distribution, neutral_prompts_from_data, total_variation, uniform
from audits.skin_tone import (
    MONK_LAB,
    MONK_SHADES,
    NO_SKIN,
    group_references,
    nearest_monk,
    nearest_reference,
    skin_lab,
)
from governance.components import Component

MEASUREMENT = (
    "skin pixels by the YCbCr rule of Chai & Ngan (1999); median CIELAB colour; nearest group reference "
    "(median skin colour of the labelled training images of each group, Delta E 1976)"
)


def fairlearn_component() -> Component:
    """Licence disclosure of fairlearn."""
    return Component(
        name="fairlearn",
        kind="library",
        version=fairlearn.__version__,
        license="MIT",
        source="pypi:fairlearn",
    )


def _adherence(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _mean_of(y_true, y_pred, scores) -> float:
    return float(np.mean(scores))


def _calibrate(
    train: GovernedRecords, train_images: np.ndarray, cfg: BiasConfig
) -> tuple[dict[str, np.ndarray], set[int]]:
    """Group reference colours, and the labelled training records the measurement classifies correctly.

    Quality-of-service prompts come only from the latter, so a model that reproduces its training data
    exactly scores an adherence of 1.0: the measurement's own errors are not charged to the model.
    """
    labels = train.attribute(cfg.attribute)
    labelled = [i for i, v in enumerate(labels) if v]
    if labelled:
        labs, _ = skin_lab(train_images[labelled], cfg.min_skin_fraction)
        refs = group_references(labs, [labels[i] for i in labelled])
        if refs:
            measured = nearest_reference(labs, refs)
            readable = {i for i, m in zip(labelled, measured, strict=True) if m == labels[i]}
            return refs, readable
    return dict(zip(MONK_SHADES, MONK_LAB, strict=True)), set()  # no labels: the Monk scale is the group set


def _qos_prompts(
    cfg: BiasConfig,
    train: GovernedRecords,
    labels: list[str | None],
    readable: set[int],
    groups: list[str],
    neutral: list[str],
    rng: np.random.Generator,
) -> tuple[list[str], list[str], list[int | None]]:
    """Prompts that request each group, the group, and the training record whose caption it is (or None).

    From `cfg.group_prompt_template` over the neutral prompts when set, else from training captions
    whose own image the measurement reads correctly.
    """
    prompts: list[str] = []
    wanted: list[str] = []
    own: list[int | None] = []
    for g in groups:
        if cfg.group_prompt_template:
            chosen = neutral[: cfg.prompts_per_group]
            prompts += [cfg.group_prompt_template.format(prompt=p, group=g) for p in chosen]
            own += [None] * len(chosen)
            wanted += [g] * len(chosen)
            continue
        first_of = {}
        for i in sorted(readable):
            if labels[i] == g:
                first_of.setdefault(train.texts[i], i)
        captions = sorted(first_of)
        if captions:
            pick = sorted(rng.choice(len(captions), min(cfg.prompts_per_group, len(captions)), replace=False))
            prompts += [captions[k] for k in pick]
            own += [first_of[captions[k]] for k in pick]
            wanted += [g] * len(pick)
    return prompts, wanted, own


def audit_bias(
    cfg: BiasConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
) -> AuditReport:
    """Representation disparity/amplification and per-group quality of service for `cfg.attribute`."""
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    refs, readable = _calibrate(train, train_images, cfg)
    groups = list(refs)
    labels = train.attribute(cfg.attribute)
    notes = [f"skin tone measured without a model: {MEASUREMENT}"]
    if any(labels):
        notes.append(
            f"the measurement reads {len(readable)} of {sum(1 for v in labels if v)} labelled training images "
            "as their own group (the others show too little skin or are confused); quality-of-service "
            "prompts are drawn from the readable ones"
        )

    # representation: prompts naming no attribute
    prompts = list(cfg.neutral_prompts or neutral_prompts_from_data(train.texts, labels))
    if not prompts:
        raise ValueError(
            f"bias audit: no neutral prompts; set audits.bias.neutral_prompts, or give records an "
            f"'{cfg.attribute}' attribute so prompts can be drawn from the data"
        )
    if cfg.neutral_prompts is None and len(prompts) > cfg.max_neutral_prompts:
        prompts = sorted(rng.choice(prompts, cfg.max_neutral_prompts, replace=False).tolist())
    gen_prompts = [p for p in prompts for _ in range(cfg.samples_per_prompt)]
    gen_seeds = [seed + k for _ in prompts for k in range(cfg.samples_per_prompt)]
    images = generate_batched(
        generate, gen_prompts, gen_seeds, progress, "bias: neutral prompts", cfg.batch_size
    )
    labs, _ = skin_lab(images, cfg.min_skin_fraction)
    measured = nearest_reference(labs, refs)
    with_skin = [m for m in measured if m != NO_SKIN]
    gen_dist = distribution(with_skin, groups)
    data_dist = distribution([v for v in labels if v], groups)
    if not any(labels):
        train_labs, _ = skin_lab(train_images, cfg.min_skin_fraction)
        data_dist = distribution([m for m in nearest_monk(train_labs) if m != NO_SKIN], groups)
        notes.append(
            "the data has no attribute labels: groups are Monk Skin Tone shades, measured on both sides"
        )
    measurable = len(with_skin) >= cfg.min_measured_images
    disparity = total_variation(gen_dist, uniform(len(groups))) if measurable else None
    data_disparity = total_variation(data_dist, uniform(len(groups)))
    vs_data = total_variation(gen_dist, data_dist) if measurable else None
    amplification = disparity - data_disparity if disparity is not None else None

    # quality of service: captions that request each group
    qos_prompts, qos_groups, qos_own = _qos_prompts(cfg, train, labels, readable, groups, prompts, rng)
    tables: dict[str, list[dict]] = {
        "representation": [
            {
                "group": g,
                "generated_share": float(gen_dist[i]),
                "training_share": float(data_dist[i]),
                "uniform_share": 1.0 / len(groups),
            }
            for i, g in enumerate(groups)
        ],
    }
    metrics = [
        Metric(
            name="skin_detected_share",
            value=len(with_skin) / max(1, len(measured)),
            implementation=MEASUREMENT,
            details={"images": len(measured), "prompts": len(prompts)},
        ),
        Metric(
            name="training_representation_disparity_tv",
            value=data_disparity,
            implementation="total variation distance of labelled training shares to uniform",
            details={"records": sum(1 for v in labels if v)},
        ),
    ]
    if disparity is not None:
        metrics += [
            Metric(
                name="representation_disparity_tv",
                value=disparity,
                implementation="total variation distance of generated shares to uniform",
                details={"images_with_skin": len(with_skin), "groups": len(groups)},
            ),
            Metric(
                name="representation_vs_training_tv",
                value=float(vs_data),
                implementation="total variation distance of generated shares to training shares",
            ),
            Metric(
                name="representation_amplification",
                value=float(amplification),
                implementation="generated disparity minus the training data's disparity (both vs uniform)",
            ),
        ]
    checks = [
        threshold_check(
            "representation_disparity",
            disparity,
            cfg.max_representation_disparity,
            "max",
            f"total variation distance between the {cfg.attribute} shares of images generated from "
            f"neutral prompts and a uniform share",
            "fewer than min_measured_images images showed skin"
            if disparity is None
            else "rebalance the training data or condition on the attribute; inspect the chart",
        ),
        threshold_check(
            "representation_amplification",
            amplification,
            cfg.max_amplification,
            "max",
            "disparity of generated images minus the disparity of the training data",
            "fewer than min_measured_images images showed skin"
            if amplification is None
            else "the model is more skewed than its data: rebalance or train longer",
        ),
    ]
    charts = [
        grouped_bars(
            out_dir / "bias_representation.png",
            f"{cfg.attribute}: neutral prompts",
            groups,
            {
                "generated": gen_dist.tolist(),
                "training data": data_dist.tolist(),
                "uniform": [1.0 / len(groups)] * len(groups),
            },
            "share",
        )
    ]

    if qos_prompts:
        qos_seeds = [seed + i for i in range(len(qos_prompts))]
        qos_images = generate_batched(
            generate, qos_prompts, qos_seeds, progress, "bias: per-group prompts", cfg.batch_size
        )
        qlabs, _ = skin_lab(qos_images, cfg.min_skin_fraction)
        qmeasured = np.array(nearest_reference(qlabs, refs))
        ref_of = np.stack([refs[g] for g in qos_groups])
        delta_e = np.sqrt(((np.nan_to_num(qlabs, nan=0.0) - ref_of) ** 2).sum(axis=1))
        delta_e = np.where(np.isnan(qlabs).any(axis=1), 100.0, delta_e)  # no skin drawn: the worst colour
        per_image = {"skin_tone_delta_e": delta_e}
        if all(i is not None for i in qos_own):
            # quality of the image itself: how closely it follows its caption's training image
            own = train_images[[int(i) for i in qos_own]].astype(np.float32) / 255
            per_image["own_image_correlation"] = np.array(
                [
                    1 - correlation_distances(g.astype(np.float32) / 255, o[None])[0]
                    for g, o in zip(qos_images, own, strict=True)
                ]
            )
        frame = MetricFrame(
            metrics={"adherence": _adherence, **dict.fromkeys(per_image, _mean_of)},
            y_true=np.array(qos_groups),
            y_pred=qmeasured,
            sensitive_features=np.array(qos_groups),
            sample_params={name: {"scores": values} for name, values in per_image.items()},
            n_boot=cfg.bootstrap or None,
            ci_quantiles=[0.025, 0.975] if cfg.bootstrap else None,
            random_state=seed if cfg.bootstrap else None,
        )
        by_group = frame.by_group
        low, high = frame.by_group_ci if cfg.bootstrap else (by_group, by_group)
        qgroups = [str(g) for g in by_group.index]
        tables["quality_of_service"] = [
            {
                "group": g,
                "n": int(sum(1 for q in qos_groups if q == g)),
                **{f"{m}": float(by_group.loc[g, m]) for m in by_group.columns},
                **{f"{m}_ci_low": float(low.loc[g, m]) for m in by_group.columns},
                **{f"{m}_ci_high": float(high.loc[g, m]) for m in by_group.columns},
            }
            for g in qgroups
        ]
        diff, ratio = frame.difference(), frame.ratio()
        for m in by_group.columns:
            metrics.append(
                Metric(
                    name=f"qos_{m}_difference",
                    value=float(diff[m]),
                    implementation="fairlearn.metrics.MetricFrame.difference() (max - min over groups)",
                    details={
                        "ratio": float(ratio[m]) if np.isfinite(ratio[m]) else -1.0,
                        "bootstrap": cfg.bootstrap,
                        "images": len(qos_prompts),
                    },
                )
            )
        checks.append(
            threshold_check(
                "quality_of_service_difference",
                float(diff["adherence"]),
                cfg.max_quality_difference,
                "max",
                f"largest difference between groups in adherence (the requested {cfg.attribute} is the one measured)",
                "the model serves some groups worse: add or rebalance their training data",
            )
        )
        charts.append(
            grouped_bars(
                out_dir / "bias_quality_of_service.png",
                f"adherence to the requested {cfg.attribute}",
                qgroups,
                {"adherence": by_group["adherence"].tolist()},
                "share of images in the requested group",
                errors={"adherence": (low["adherence"].tolist(), high["adherence"].tolist())},
            )
        )
    else:
        notes.append(f"no training caption names a {cfg.attribute} group: quality of service not measured")

    return AuditReport(
        audit="bias",
        checks=checks,
        metrics=metrics,
        tables=tables,
        charts=charts,
        components=[fairlearn_component()],
        seconds=time.perf_counter() - start,
        notes=notes,
    )
