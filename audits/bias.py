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
from audits.representation import (
    confusion,
    distribution,
    images_needed,
    neutral_prompts_showing_attribute,
    strip_attribute,
    total_variation,
    uniform,
    unmix,
)
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


@dataclass
class _Calibration:
    """The measurement calibrated on labelled images: group references and what it reads on them."""

    refs: dict[str, np.ndarray]
    readable: set[int] = field(default_factory=set)
    truth: list[str] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)

    def visible(self) -> float | None:
        """Smallest disparity a model drawing one group only shows through the raw measurement."""
        return _visible_disparity(self.measured, self.truth, list(self.refs)) if self.truth else None


def _calibrate(train: GovernedRecords, train_images: np.ndarray, cfg: BiasConfig) -> _Calibration:
    """Group reference colours, and what the measurement reads on the labelled training images.

    Quality-of-service prompts come only from the records it reads correctly, so a model that
    reproduces its training data exactly scores an adherence of 1.0: the measurement's own errors are
    not charged to the model. Its confusion on the labelled images corrects the representation shares.
    """
    labels = train.attribute(cfg.attribute)
    labelled = [i for i, v in enumerate(labels) if v]
    if labelled:
        labs, _ = skin_lab(train_images[labelled], cfg.min_skin_fraction)
        refs = group_references(labs, [labels[i] for i in labelled])
        if refs:
            measured = nearest_reference(labs, refs)
            truth = [str(labels[i]) for i in labelled]
            readable = {i for i, m in zip(labelled, measured, strict=True) if m == labels[i]}
            return _Calibration(refs, readable, truth, measured)
    # no labels: the Monk scale is the group set
    return _Calibration(dict(zip(MONK_SHADES, MONK_LAB, strict=True)))


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
    that name the group and whose own image the measurement reads correctly (a caption that names no
    group requests none, so its image says nothing about adherence).
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
            if labels[i] == g and strip_attribute(train.texts[i], g) != train.texts[i]:
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
    # (intended group, measured group) of generated images whose prompt named a group
    calibration: tuple[list[str], list[str]] | None = None


def audit_bias(
    cfg: BiasConfig,
    generate: Generator,
    train: GovernedRecords,
    train_images: np.ndarray,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    deadline: float | None = None,
) -> AuditReport:
    """Representation disparity/amplification and per-group quality of service for `cfg.attribute`.

    `deadline` (a `time.time()` value) bounds the extra neutral images the power rule asks for: a round
    predicted to end past it is not started, and representation says the budget is why it is not measured.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cal = _calibrate(train, train_images, cfg)
    readable = cal.readable
    labels = train.attribute(cfg.attribute)
    notes = [f"skin tone measured without a model: {MEASUREMENT}"]
    if any(labels):
        notes.append(
            f"the measurement reads {len(readable)} of {sum(1 for v in labels if v)} labelled training images "
            "as their own group (the others show too little skin or are confused); quality-of-service "
            "prompts are drawn from the readable ones"
        )
    prompts = list(cfg.neutral_prompts or neutral_prompts_showing_attribute(train.texts, labels))
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
    qos = _quality_of_service(
        cfg,
        generate,
        *_qos_prompts(cfg, train, labels, cal.readable, list(cal.refs), prompts, rng),
        train_images,
        cal.refs,
        out_dir,
        seed,
        progress,
        _qos_fix([v for v in labels if v], list(cal.refs)),
    )
    if cfg.calibrate_on_generated and qos.calibration:
        cal.truth += qos.calibration[0]
        cal.measured += qos.calibration[1]
    rep = _representation(
        cfg, generate, train_images, labels, cal, prompts, out_dir, seed, progress, deadline
    )
    parts = [rep, qos]
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
    cal: _Calibration,
    prompts: list[str],
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    deadline: float | None,
) -> _Part:
    """Group mix of images generated from neutral prompts, corrected for the measurement's confusion.

    A first pass of `samples_per_prompt` images per prompt gives the share that shows skin; the power
    rule (`images_needed`) then says how many images with skin the gate needs, and more are generated
    up to `max_representation_images`. Where that cap cannot reach the power the check is not measured.
    """
    part = _Part()
    groups = list(cal.refs)
    conf = confusion(cal.truth, cal.measured, groups)
    needed = max(
        cfg.min_measured_images,
        images_needed(conf, cfg.max_representation_disparity, cfg.representation_margin),
    )
    sample = _sample_neutral(cfg, generate, cal.refs, prompts, seed, progress, needed, deadline)
    measured = sample.measured
    with_skin = [m for m in measured if m != NO_SKIN]
    data_dist = distribution([v for v in labels if v], groups)
    if not any(labels):
        train_labs, _ = skin_lab(train_images, cfg.min_skin_fraction)
        data_dist = distribution([m for m in nearest_monk(train_labs) if m != NO_SKIN], groups)
        part.notes.append(
            "the data has no attribute labels: groups are Monk Skin Tone shades, measured on both sides"
        )
    data_disparity = total_variation(data_dist, uniform(len(groups)))
    raw_dist = distribution(with_skin, groups)
    gen_dist = unmix(raw_dist * len(with_skin), conf)
    estimate = _CorrectedEstimate.of(cfg, cal, groups, with_skin, gen_dist, seed)
    why = _why_unmeasured(cfg, len(with_skin), needed, sample)
    gated, no_power = (None, why) if why else _gated_disparity(cfg, estimate)
    part.metrics += _representation_metrics(
        cfg, cal, conf, estimate, data_dist, len(measured), len(prompts), needed
    )
    part.tables["representation"] = [
        {
            "group": g,
            "generated_share": float(gen_dist[i]),
            "generated_share_ci_low": float(estimate.share_low[i]),
            "generated_share_ci_high": float(estimate.share_high[i]),
            "generated_share_measured": float(raw_dist[i]),
            "training_share": float(data_dist[i]),
            "uniform_share": 1.0 / len(groups),
        }
        for i, g in enumerate(groups)
    ]
    part.tables["representation_confusion"] = [
        {"true_group": g, **{f"measured_{h}": float(conf[i, j]) for j, h in enumerate(groups)}}
        for i, g in enumerate(groups)
    ]
    part.checks += _representation_checks(cfg, labels, data_dist, data_disparity, estimate, gated, no_power)
    part.charts.append(
        grouped_bars(
            out_dir / "bias_representation.png",
            f"{cfg.attribute}: neutral prompts (corrected for the measurement's confusion)",
            groups,
            {
                "generated": gen_dist.tolist(),
                "training data": data_dist.tolist(),
                "uniform": [1.0 / len(groups)] * len(groups),
            },
            "share",
            errors={"generated": (estimate.share_low.tolist(), estimate.share_high.tolist())},
        )
    )
    return part


@dataclass
class _NeutralSample:
    """Measured groups of the neutral images, the share that showed skin, and what stopped the sampling."""

    measured: list[str]
    share: float
    total: int | None  # images the power rule needs at that share (None when none showed skin)
    budget_images: int | None = None  # set when the run's deadline, not the cap, stopped the sampling
    seconds_per_image: float = 0.0


def _sample_neutral(
    cfg: BiasConfig,
    generate: Generator,
    refs: dict[str, np.ndarray],
    prompts: list[str],
    seed: int,
    progress: ProgressFn,
    needed: int,
    deadline: float | None = None,
) -> _NeutralSample:
    """Measured groups of neutral images, generated until `needed` show skin, the cap or the deadline.

    The skin share is re-estimated after each round; the seconds per image of the rounds so far say
    how many more images fit before `deadline`, so a round is cut to fit rather than run past it.
    """
    done = cfg.samples_per_prompt
    started = time.perf_counter()
    measured = _measure_neutral(cfg, generate, refs, prompts, seed, progress, 0, done)
    while True:
        n = sum(1 for m in measured if m != NO_SKIN)
        share = n / max(1, len(measured))
        total = int(np.ceil(needed / share)) if share else None
        per_image = (time.perf_counter() - started) / max(1, len(measured))
        if n >= needed or total is None or total > cfg.max_representation_images:
            return _NeutralSample(measured, share, total, seconds_per_image=per_image)
        per_prompt = max(done + 1, int(np.ceil(total / len(prompts))))
        per_prompt = min(per_prompt, cfg.max_representation_images // len(prompts))
        if deadline is not None:
            fits = done + int((deadline - time.time()) / max(per_image, 1e-9) / len(prompts))
            if fits < per_prompt:
                return _NeutralSample(
                    measured, share, total, max(len(measured), fits * len(prompts)), per_image
                )
        if per_prompt <= done:
            return _NeutralSample(measured, share, total, seconds_per_image=per_image)
        measured += _measure_neutral(cfg, generate, refs, prompts, seed, progress, done, per_prompt)
        done = per_prompt


def _measure_neutral(
    cfg: BiasConfig,
    generate: Generator,
    refs: dict[str, np.ndarray],
    prompts: list[str],
    seed: int,
    progress: ProgressFn,
    first: int,
    last: int,
) -> list[str]:
    """Measured group of the images for sample indices first..last-1 of every neutral prompt."""
    if last <= first:
        return []
    gen_prompts = [p for p in prompts for _ in range(first, last)]
    gen_seeds = [seed + k for _ in prompts for k in range(first, last)]
    images = generate_batched(
        generate, gen_prompts, gen_seeds, progress, "bias: neutral prompts", cfg.batch_size
    )
    labs, _ = skin_lab(images, cfg.min_skin_fraction)
    return nearest_reference(labs, refs)


@dataclass
class _CorrectedEstimate:
    """Corrected disparity and shares with 95% bootstrap intervals (generated and calibration resampled)."""

    disparity: float
    low: float
    high: float
    share_low: np.ndarray
    share_high: np.ndarray
    n: int
    shares: np.ndarray

    @classmethod
    def of(
        cls,
        cfg: BiasConfig,
        cal: _Calibration,
        groups: list[str],
        with_skin: list[str],
        gen_dist: np.ndarray,
        seed: int,
    ) -> "_CorrectedEstimate":
        """Bootstrap: resample the generated images and, per true group, the labelled calibration images."""
        target = uniform(len(groups))
        value = total_variation(gen_dist, target)
        if not cfg.bootstrap or not with_skin:
            return cls(value, value, value, gen_dist, gen_dist, len(with_skin), gen_dist)
        rng = np.random.default_rng(seed)
        gen = np.array(with_skin)
        truth, measured = np.array(cal.truth), np.array(cal.measured)
        by_group = [np.flatnonzero(truth == g) for g in groups]
        tvs, shares = [], []
        for _ in range(cfg.bootstrap):
            rows = np.concatenate(
                [rng.choice(ix, len(ix)) for ix in by_group if len(ix)] or [np.array([], int)]
            )
            conf = confusion(list(truth[rows]), list(measured[rows]), groups)
            draw = list(rng.choice(gen, len(gen)))
            mix = unmix(distribution(draw, groups) * len(gen), conf)
            shares.append(mix)
            tvs.append(total_variation(mix, target))
        shares_arr = np.array(shares)
        return cls(
            value,
            float(np.quantile(tvs, 0.025)),
            float(np.quantile(tvs, 0.975)),
            np.quantile(shares_arr, 0.025, axis=0),
            np.quantile(shares_arr, 0.975, axis=0),
            len(with_skin),
            gen_dist,
        )


def _why_unmeasured(cfg: BiasConfig, n: int, needed: int, sample: _NeutralSample) -> str:
    """Why the neutral sample has no power for the gate, or '' when it has."""
    if n >= needed:
        return ""
    generated, total = len(sample.measured), sample.total
    if total is None:
        cap = f"none of the {generated} images generated from neutral prompts showed skin"
    elif sample.budget_images is not None:
        cap = (
            f"at the {sample.share:.0%} of images that showed skin this needs about {total} images, and the "
            f"run's budget left time for {sample.budget_images} (at {sample.seconds_per_image:.2f} s per image); "
            "give the run a larger run.budget or audits.reserve"
        )
    else:
        cap = (
            f"at the {sample.share:.0%} of images that showed skin this needs about {total} images, and "
            f"audits.bias.max_representation_images is {cfg.max_representation_images}"
        )
    return (
        f"{n} of {generated} images generated from neutral prompts showed skin; the power rule needs {needed} "
        f"(a 95% interval of +/-{cfg.representation_margin:g} on the corrected disparity, through the "
        f"measurement's confusion on labelled images): {cap}; or raise max_representation_images, lower "
        "min_skin_fraction, or widen audits.bias.representation_margin"
    )


def _gated_disparity(cfg: BiasConfig, est: _CorrectedEstimate) -> tuple[float | None, str]:
    """The value the representation gate compares, or None and why the interval cannot decide.

    With the interval as the gate it fails when the lower end is above the threshold (the sample shows
    the skew with confidence) and passes when the upper end is within threshold + margin (the sample
    rules out a skew the gate is sized to see); an interval across both is not a measurement.
    """
    if not (cfg.gate_on == "ci_low" and cfg.bootstrap):
        return est.disparity, ""
    t, margin = cfg.max_representation_disparity, cfg.representation_margin
    if est.low > t or est.high <= t + margin:
        return est.low, ""
    return None, (
        f"the {est.n} images with skin give a 95% interval of [{est.low:.2f}, {est.high:.2f}] for the "
        f"corrected disparity: it reaches both the threshold {t:g} and threshold + margin {t + margin:g}, "
        "so the sample cannot tell a fair model from a skewed one; raise audits.bias.max_representation_images"
    )


def _representation_metrics(
    cfg: BiasConfig,
    cal: _Calibration,
    conf: np.ndarray,
    est: _CorrectedEstimate,
    data_dist: np.ndarray,
    generated: int,
    prompts: int,
    needed: int,
) -> list[Metric]:
    """What the representation half records: the measurement's confusion, the sample, the estimates."""
    groups = list(cal.refs)
    data_disparity = total_variation(data_dist, uniform(len(groups)))
    calibrated = sum(1 for t, m in zip(cal.truth, cal.measured, strict=True) if m in groups)
    correct = sum(1 for t, m in zip(cal.truth, cal.measured, strict=True) if m in groups and m == t)
    metrics = [
        Metric(
            name="representation_measurement_accuracy",
            value=correct / calibrated if calibrated else 1.0,
            implementation="share of labelled images showing skin that the measurement reads as their own "
            "group; its confusion matrix (sklearn.metrics.confusion_matrix) is the representation_confusion table",
            details={"labelled_with_skin": calibrated, "labelled": len(cal.truth)},
        ),
        Metric(
            name="representation_images_needed",
            value=float(needed),
            implementation="images with skin for a 95% interval of +/- representation_margin on the corrected "
            "disparity (delta method through the inverse confusion, at uniform and at threshold + margin)",
            details={"margin": cfg.representation_margin, "cap_images": cfg.max_representation_images},
        ),
        Metric(
            name="skin_detected_share",
            value=est.n / max(1, generated),
            implementation=MEASUREMENT,
            details={"images": generated, "prompts": prompts},
        ),
        Metric(
            name="training_representation_disparity_tv",
            value=data_disparity,
            implementation="total variation distance of labelled training shares to uniform",
            details={"records": len(cal.truth)},
        ),
    ]
    visible = cal.visible()
    if visible is not None:
        metrics.append(
            Metric(
                name="representation_visible_disparity",
                value=visible,
                implementation="smallest disparity a one-group model shows through the uncorrected measurement "
                "(labelled training images that show skin, per group); the correction undoes this shrinkage",
            )
        )
    if est.n:
        metrics += [
            Metric(
                name="representation_disparity_tv",
                value=est.disparity,
                implementation="total variation distance to uniform of the generated group mix, the mix "
                "estimated by EM through the measurement's confusion on labelled images",
                details={
                    "images_with_skin": est.n,
                    "groups": len(groups),
                    "ci_low": est.low,
                    "ci_high": est.high,
                    "bootstrap": cfg.bootstrap,
                },
            ),
            Metric(
                name="representation_vs_training_tv",
                value=total_variation(est.shares, data_dist),
                implementation="total variation distance of the corrected generated shares to training shares",
            ),
            Metric(
                name="representation_amplification",
                value=est.disparity - data_disparity,
                implementation="corrected generated disparity minus the training data's disparity",
                details={"ci_low": est.low - data_disparity, "ci_high": est.high - data_disparity},
            ),
        ]
    return metrics


def _representation_checks(
    cfg: BiasConfig,
    labels: list[str | None],
    data_dist: np.ndarray,
    data_disparity: float,
    est: _CorrectedEstimate,
    gated: float | None,
    no_power: str,
) -> list[AuditCheck]:
    """The disparity and amplification gates over the corrected estimate (or not measured, and why)."""
    balanced = total_variation(data_dist, uniform(len(data_dist))) <= _BALANCED_TV and any(labels)
    skew_fix = (
        "the training data is already balanced across groups, so the skew is the model's: train longer "
        "(run.budget) or a larger preset, or condition on the attribute"
        if balanced
        else "rebalance the training data or condition on the attribute"
    )
    allowed = _allowed_unmeasured(cfg)
    on_interval = cfg.gate_on == "ci_low" and cfg.bootstrap
    what = (
        f"total variation distance between the {cfg.attribute} mix of images generated from neutral prompts "
        "(corrected for the measurement's confusion) and a uniform mix"
    )
    if on_interval and est.n:
        what = (
            f"lower end of the 95% bootstrap interval [{est.low:.3g}, {est.high:.3g}] of the {what} (estimate "
            f"{est.disparity:.3g}, {est.n} images with skin; passes only when the upper end is within "
            f"threshold + {cfg.representation_margin:g})"
        )
    return [
        threshold_check(
            "representation_disparity",
            gated,
            cfg.max_representation_disparity,
            "max",
            what,
            skew_fix,
            audit="bias",
            why_unmeasured=no_power,
            allow_unmeasured=allowed,
        ),
        threshold_check(
            "representation_amplification",
            None if gated is None else gated - data_disparity,
            cfg.max_amplification,
            "max",
            "corrected disparity of generated images minus the disparity of the training data"
            + (" (lower end of the disparity's interval)" if on_interval else ""),
            "the model is more skewed than its data: rebalance it"
            if not balanced
            else "the model is more skewed than its balanced data: train longer or a larger preset",
            audit="bias",
            why_unmeasured=no_power,
            allow_unmeasured=allowed,
        ),
    ]


# Training shares within this total variation distance of uniform count as balanced.
_BALANCED_TV = 0.05


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
    part.calibration = (list(wanted), nearest_reference(labs, refs))
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
