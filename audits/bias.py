"""Bias audit core: representation for neutral prompts and quality of service per group (fairlearn).

Pure over a `Generator` and the governed training records, so tests use generators with a known answer.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import fairlearn
import numpy as np
from fairlearn.metrics import MetricFrame

from audits.charts import grouped_bars
from audits.checks import threshold_check
from audits.config import BIAS_CHECKS, BiasConfig
from audits.generation import Generator, ProgressFn, generate_batched
from audits.governed_data import GovernedRecords
from audits.memorization import correlation_distances
from audits.report import AuditCheck, AuditReport, Metric
from audits.representation import distribution, neutral_prompts_from_data, total_variation, uniform
from audits.skin_tone import (
    MONK_LAB,
    MONK_SHADES,
    NO_SKIN,
    group_references,
    nearest_monk,
    nearest_reference,
    scikit_image_component,
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


def _allowed_unmeasured(cfg: BiasConfig) -> list[str]:
    """Checks that may stay unmeasured: those named in the config, or all when the audit is not required."""
    return list(cfg.allow_unmeasured) if cfg.required else list(BIAS_CHECKS)


def _adherence(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _mean_of(y_true, y_pred, scores) -> float:
    return float(np.mean(scores))


def _calibrate(
    train: GovernedRecords, train_images: np.ndarray, cfg: BiasConfig
) -> tuple[dict[str, np.ndarray], set[int], float | None]:
    """Group reference colours, and the labelled training records the measurement classifies correctly.

    Quality-of-service prompts come only from the latter, so a model that reproduces its training data
    exactly scores an adherence of 1.0: the measurement's own errors are not charged to the model.
    The third value is the smallest disparity a model that draws one group only would show through this
    measurement (its confusion between groups on labelled images that show skin); None without labels.
    """
    labels = train.attribute(cfg.attribute)
    labelled = [i for i, v in enumerate(labels) if v]
    if labelled:
        labs, _ = skin_lab(train_images[labelled], cfg.min_skin_fraction)
        refs = group_references(labs, [labels[i] for i in labelled])
        if refs:
            measured = nearest_reference(labs, refs)
            readable = {i for i, m in zip(labelled, measured, strict=True) if m == labels[i]}
            return refs, readable, _visible_disparity(measured, [labels[i] for i in labelled], list(refs))
    # no labels: the Monk scale is the group set
    return dict(zip(MONK_SHADES, MONK_LAB, strict=True)), set(), None


def _visible_disparity(measured: list[str], truth: list[str], groups: list[str]) -> float | None:
    """Min over groups g of the disparity measured on images of g alone (those showing skin)."""
    rows = []
    for g in groups:
        seen = [m for m, t in zip(measured, truth, strict=True) if t == g and m != NO_SKIN]
        if seen:
            rows.append(total_variation(distribution(seen, groups), uniform(len(groups))))
    return min(rows) if rows else None


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


@dataclass
class _Part:
    """What one half of the audit contributes to the report."""

    metrics: list[Metric] = field(default_factory=list)
    checks: list[AuditCheck] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    charts: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    refs, readable, visible = _calibrate(train, train_images, cfg)
    labels = train.attribute(cfg.attribute)
    notes = [f"skin tone measured without a model: {MEASUREMENT}"]
    if any(labels):
        notes.append(
            f"the measurement reads {len(readable)} of {sum(1 for v in labels if v)} labelled training images "
            "as their own group (the others show too little skin or are confused); quality-of-service "
            "prompts are drawn from the readable ones"
        )
    prompts = list(cfg.neutral_prompts or neutral_prompts_from_data(train.texts, labels))
    if not prompts:
        # Nothing to audit is a finding, not a crash: the model is not approved unless the user
        # waives the audit explicitly (audits.bias.required: false), and the card says which.
        fix = (
            f"set audits.bias.neutral_prompts, or give records a '{cfg.attribute}' attribute so prompts "
            "can be drawn from the data, or waive the audit with audits.bias.required=false"
        )
        check = AuditCheck(
            name="bias_audit_performed",
            measured=None,
            threshold=1.0,
            direction="min",
            passed=not cfg.required,
            message=(
                f"no bias audit was possible: no neutral prompts and no '{cfg.attribute}' attribute in the data"
                + (
                    f" — approval is withheld: {fix}"
                    if cfg.required
                    else " — waived by audits.bias.required=false"
                )
            ),
        )
        return AuditReport(
            audit="bias", checks=[check], notes=[*notes, check.message], seconds=time.perf_counter() - start
        )
    if cfg.neutral_prompts is None and len(prompts) > cfg.max_neutral_prompts:
        prompts = sorted(rng.choice(prompts, cfg.max_neutral_prompts, replace=False).tolist())
    parts = [
        _representation(cfg, generate, train_images, labels, refs, prompts, out_dir, seed, progress, visible),
        _quality_of_service(
            cfg,
            generate,
            *_qos_prompts(cfg, train, labels, readable, list(refs), prompts, rng),
            train_images,
            refs,
            out_dir,
            seed,
            progress,
            _qos_fix([v for v in labels if v], list(refs)),
        ),
    ]
    return AuditReport(
        audit="bias",
        checks=[c for p in parts for c in p.checks],
        metrics=[m for p in parts for m in p.metrics],
        tables={k: v for p in parts for k, v in p.tables.items()},
        charts=[c for p in parts for c in p.charts],
        components=[fairlearn_component(), scikit_image_component()],
        seconds=time.perf_counter() - start,
        notes=notes + [n for p in parts for n in p.notes],
    )


def _representation(
    cfg: BiasConfig,
    generate: Generator,
    train_images: np.ndarray,
    labels: list[str | None],
    refs: dict[str, np.ndarray],
    prompts: list[str],
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    visible: float | None = None,
) -> _Part:
    """Shares of each group among images generated from neutral prompts, against uniform and the data.

    `visible` (from the calibration) is the disparity a one-group model would show through the
    measurement; when that is under the threshold the gate could not fail such a model, so it says so.
    """
    part = _Part()
    groups = list(refs)
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
        part.notes.append(
            "the data has no attribute labels: groups are Monk Skin Tone shades, measured on both sides"
        )
    measurable = len(with_skin) >= cfg.min_measured_images
    disparity = total_variation(gen_dist, uniform(len(groups))) if measurable else None
    data_disparity = total_variation(data_dist, uniform(len(groups)))
    amplification = disparity - data_disparity if disparity is not None else None
    low, high = _disparity_interval(with_skin, groups, cfg.bootstrap, seed) if measurable else (None, None)
    gated, no_power = _gated_disparity(cfg, disparity, low, high, len(with_skin))
    if visible is not None and visible < cfg.max_representation_disparity:
        gated, no_power = (
            None,
            (
                f"through this measurement a model drawing one {cfg.attribute} group only would show a "
                f"disparity of {visible:.2f} (its confusion between groups on labelled training images), under "
                f"the threshold {cfg.max_representation_disparity:g}: the gate could not fail it; lower "
                "audits.bias.max_representation_disparity or raise min_skin_fraction"
            ),
        )
    if visible is not None:
        part.metrics.append(
            Metric(
                name="representation_visible_disparity",
                value=visible,
                implementation="smallest disparity a one-group model shows through the measurement "
                "(labelled training images that show skin, per group)",
            )
        )
    part.tables["representation"] = [
        {
            "group": g,
            "generated_share": float(gen_dist[i]),
            "training_share": float(data_dist[i]),
            "uniform_share": 1.0 / len(groups),
        }
        for i, g in enumerate(groups)
    ]
    part.metrics += [
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
        part.metrics += [
            Metric(
                name="representation_disparity_tv",
                value=disparity,
                implementation="total variation distance of generated shares to uniform",
                details={
                    "images_with_skin": len(with_skin),
                    "groups": len(groups),
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "bootstrap": cfg.bootstrap,
                },
            ),
            Metric(
                name="representation_vs_training_tv",
                value=total_variation(gen_dist, data_dist),
                implementation="total variation distance of generated shares to training shares",
            ),
            Metric(
                name="representation_amplification",
                value=float(amplification),
                implementation="generated disparity minus the training data's disparity (both vs uniform)",
            ),
        ]
    too_few = (
        f"{len(with_skin)} of {len(measured)} images generated from neutral prompts showed skin, fewer than "
        f"audits.bias.min_measured_images ({cfg.min_measured_images}); raise audits.bias.samples_per_prompt "
        "or audits.bias.max_neutral_prompts"
    )
    balanced = total_variation(data_dist, uniform(len(groups))) <= _BALANCED_TV and any(labels)
    skew_fix = (
        "the training data is already balanced across groups, so the skew is the model's: train longer "
        "(run.budget) or a larger preset, or condition on the attribute"
        if balanced
        else "rebalance the training data or condition on the attribute"
    )
    allowed = _allowed_unmeasured(cfg)
    on_interval = cfg.gate_on == "ci_low" and cfg.bootstrap
    what = (
        f"total variation distance between the {cfg.attribute} shares of images generated from neutral "
        "prompts and a uniform share"
    )
    if on_interval and disparity is not None:
        what = (
            f"lower end of the 95% bootstrap interval of the {what} (estimate {disparity:.3g}, "
            f"{len(with_skin)} images with skin)"
        )
    part.checks += [
        threshold_check(
            "representation_disparity",
            gated,
            cfg.max_representation_disparity,
            "max",
            what,
            skew_fix,
            audit="bias",
            why_unmeasured=too_few if not measurable else no_power,
            allow_unmeasured=allowed,
        ),
        threshold_check(
            "representation_amplification",
            None if gated is None else gated - data_disparity,
            cfg.max_amplification,
            "max",
            "disparity of generated images minus the disparity of the training data"
            + (" (lower end of the disparity's interval)" if on_interval else ""),
            "the model is more skewed than its data: rebalance it"
            if not balanced
            else "the model is more skewed than its balanced data: train longer or a larger preset",
            audit="bias",
            why_unmeasured=too_few if not measurable else no_power,
            allow_unmeasured=allowed,
        ),
    ]
    part.charts.append(
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
    )
    return part


# Training shares within this total variation distance of uniform count as balanced.
_BALANCED_TV = 0.05


def _disparity_interval(
    with_skin: list[str], groups: list[str], n_boot: int, seed: int
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the total variation distance to uniform (resampling images)."""
    target = uniform(len(groups))
    if not n_boot:
        value = total_variation(distribution(with_skin, groups), target)
        return value, value
    rng = np.random.default_rng(seed)
    labels = np.array(with_skin)
    draws = [
        total_variation(distribution(list(rng.choice(labels, len(labels))), groups), target)
        for _ in range(n_boot)
    ]
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def _gated_disparity(
    cfg: BiasConfig, disparity: float | None, low: float | None, high: float | None, n: int
) -> tuple[float | None, str]:
    """The value the representation gate compares, or None and why the sample has no power to say.

    With the interval as the gate, a sample whose interval is wider than the threshold cannot tell a
    disparity at the threshold from none: that is reported as not measured rather than as a number.
    """
    if disparity is None or low is None or high is None:
        return None, ""
    if not (cfg.gate_on == "ci_low" and cfg.bootstrap):
        return disparity, ""
    if high - low > cfg.max_representation_disparity:
        return None, (
            f"the {n} images with skin give a 95% interval of [{low:.2f}, {high:.2f}] for the disparity, "
            f"wider than the threshold {cfg.max_representation_disparity:g}: the sample cannot tell a "
            "disparity at the threshold from none; raise audits.bias.samples_per_prompt or "
            "max_neutral_prompts"
        )
    return low, ""


def _qos_fix(labels: list[str], groups: list[str]) -> str:
    """What to change when groups are served unequally; rebalancing is no answer when the data is balanced."""
    if labels:
        share = distribution(labels, groups)
        if total_variation(share, uniform(len(groups))) <= _BALANCED_TV:
            counts = ", ".join(f"{g} {labels.count(g)}" for g in groups)
            return (
                f"the training data is already balanced across groups ({counts} labelled images), so the "
                "gap is the model's: train longer (run.budget) or a larger preset, and read the per-group "
                "table in the card"
            )
    return "the model serves some groups worse: add or rebalance their training data"


def _quality_of_service(
    cfg: BiasConfig,
    generate: Generator,
    prompts: list[str],
    wanted: list[str],
    own: list[int | None],
    train_images: np.ndarray,
    refs: dict[str, np.ndarray],
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    fix: str,
) -> _Part:
    """Per-group scores of images whose prompt requests a group, with fairlearn's MetricFrame."""
    part = _Part()
    if len(set(wanted)) < 2:
        why = (
            f"no training caption names a {cfg.attribute} group whose image the measurement reads "
            "correctly; set audits.bias.group_prompt_template"
            if not prompts
            else f"only the {wanted[0]} group has prompts, and a difference between groups needs two; "
            "add labelled data for the other groups or set audits.bias.group_prompt_template"
        )
        part.checks.append(
            threshold_check(
                "quality_of_service_difference",
                None,
                cfg.max_quality_difference,
                "max",
                f"largest difference between groups in adherence to the requested {cfg.attribute}",
                fix,
                audit="bias",
                why_unmeasured=why,
                allow_unmeasured=_allowed_unmeasured(cfg),
            )
        )
        return part
    images = generate_batched(
        generate,
        prompts,
        [seed + i for i in range(len(prompts))],
        progress,
        "bias: per-group prompts",
        cfg.batch_size,
    )
    labs, _ = skin_lab(images, cfg.min_skin_fraction)
    ref_of = np.stack([refs[g] for g in wanted])
    delta_e = np.sqrt(((np.nan_to_num(labs, nan=0.0) - ref_of) ** 2).sum(axis=1))
    per_image = {"skin_tone_delta_e": np.where(np.isnan(labs).any(axis=1), 100.0, delta_e)}  # no skin: worst
    if all(i is not None for i in own):
        # quality of the image itself: how closely it follows its caption's training image
        own_images = train_images[[int(i) for i in own]].astype(np.float32) / 255
        per_image["own_image_correlation"] = np.array(
            [
                1 - correlation_distances(g.astype(np.float32) / 255, o[None])[0]
                for g, o in zip(images, own_images, strict=True)
            ]
        )
    frame = MetricFrame(
        metrics={"adherence": _adherence, **dict.fromkeys(per_image, _mean_of)},
        y_true=np.array(wanted),
        y_pred=np.array(nearest_reference(labs, refs)),
        sensitive_features=np.array(wanted),
        sample_params={name: {"scores": values} for name, values in per_image.items()},
        n_boot=cfg.bootstrap or None,
        ci_quantiles=[0.025, 0.975] if cfg.bootstrap else None,
        random_state=seed if cfg.bootstrap else None,
    )
    by_group = frame.by_group
    low, high = frame.by_group_ci if cfg.bootstrap else (by_group, by_group)
    diff, ratio = frame.difference(), frame.ratio()
    diff_low, diff_high = frame.difference_ci() if cfg.bootstrap else (diff, diff)
    groups = [str(g) for g in by_group.index]
    part.tables["quality_of_service"] = [
        {
            "group": g,
            "n": wanted.count(g),
            **{m: float(by_group.loc[g, m]) for m in by_group.columns},
            **{f"{m}_ci_low": float(low.loc[g, m]) for m in by_group.columns},
            **{f"{m}_ci_high": float(high.loc[g, m]) for m in by_group.columns},
        }
        for g in groups
    ]
    for m in by_group.columns:
        part.metrics.append(
            Metric(
                name=f"qos_{m}_difference",
                value=float(diff[m]),
                implementation="fairlearn.metrics.MetricFrame.difference() (max - min over groups)",
                details={
                    "ratio": float(ratio[m]) if np.isfinite(ratio[m]) else -1.0,
                    "ci_low": float(diff_low[m]),
                    "ci_high": float(diff_high[m]),
                    "bootstrap": cfg.bootstrap,
                    "images": len(prompts),
                },
            )
        )
    what = (
        f"largest difference between groups in adherence (the requested {cfg.attribute} is the one measured)"
    )
    gated = float(diff["adherence"])
    if cfg.gate_on == "ci_low" and cfg.bootstrap:
        # With a handful of images per group the estimate moves by a whole step between seeds; the
        # gate fails only on a gap the sample shows with confidence. The estimate stays in the message.
        gated = float(diff_low["adherence"])
        what = (
            f"lower end of the 95% bootstrap interval of the {what} (estimate {float(diff['adherence']):.3g}, "
            f"{min(wanted.count(g) for g in groups)} or more images per group)"
        )
    part.checks.append(
        threshold_check(
            "quality_of_service_difference",
            gated,
            cfg.max_quality_difference,
            "max",
            what,
            fix,
            audit="bias",
            allow_unmeasured=_allowed_unmeasured(cfg),
        )
    )
    part.charts.append(
        grouped_bars(
            out_dir / "bias_quality_of_service.png",
            f"adherence to the requested {cfg.attribute}",
            groups,
            {"adherence": by_group["adherence"].tolist()},
            "share of images in the requested group",
            errors={"adherence": (low["adherence"].tolist(), high["adherence"].tolist())},
        )
    )
    return part
