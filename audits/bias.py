"""Bias audit core: representation for neutral prompts and quality of service per group (fairlearn).

Pure over a `Generator` and the governed training records, so tests use generators with a known answer.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

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
from governance.components import Component, library

MEASUREMENT = (
    "skin pixels by the YCbCr rule of Chai & Ngan (1999); median CIELAB colour; nearest group reference "
    "(median skin colour of the labelled training images of each group, Delta E 1976)"
)


def fairlearn_component() -> Component:
    """Licence disclosure of fairlearn, as its installed wheel declares it."""
    return library("fairlearn")


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
    labels = train.attribute(cfg.attribute)
    notes = _measurement_notes(labels, cal.readable)
    offered = list(cfg.neutral_prompts or neutral_prompts_showing_attribute(train.texts, labels))
    if not offered:
        return _not_auditable(cfg, notes, start)
    prompts, reserve = offered, []
    if cfg.neutral_prompts is None and len(offered) > cfg.max_neutral_prompts:
        order = [offered[i] for i in rng.permutation(len(offered))]
        prompts, reserve = sorted(order[: cfg.max_neutral_prompts]), order[cfg.max_neutral_prompts :]
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
        cfg,
        generate,
        train_images,
        labels,
        cal,
        _Neutral(prompts, len(offered), reserve),
        out_dir,
        seed,
        progress,
        deadline,
    )
    return _report([rep, qos], notes, start)


def _report(parts: list["_Part"], notes: list[str], start: float) -> AuditReport:
    """The bias report: what each half contributes, in order, and the components it used."""
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


def _measurement_notes(labels: list[str | None], readable: set[int]) -> list[str]:
    """How the attribute is measured, and how much of the labelled data the measurement reads."""
    notes = [f"skin tone measured without a model: {MEASUREMENT}"]
    if any(labels):
        notes.append(
            f"the measurement reads {len(readable)} of {sum(1 for v in labels if v)} labelled training images "
            "as their own group (the others show too little skin or are confused); quality-of-service "
            "prompts are drawn from the readable ones"
        )
    return notes


def _not_auditable(cfg: BiasConfig, notes: list[str], start: float) -> AuditReport:
    """The report of data that gives no neutral prompt: a finding, not a crash.

    The model is not approved unless the user waives the audit explicitly (audits.bias.required: false),
    and the card says which.
    """
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


@dataclass(frozen=True)
class _Neutral:
    """The first pass's neutral prompts, how many the data or the config offered, and the data's others.

    `reserve` (in a seeded random order) is what the power rule draws more prompts from, one image each.
    """

    prompts: list[str]
    offered: int
    reserve: list[str] = field(default_factory=list)


def _representation(
    cfg: BiasConfig,
    generate: Generator,
    train_images: np.ndarray,
    labels: list[str | None],
    cal: _Calibration,
    neutral: _Neutral,
    out_dir: Path,
    seed: int,
    progress: ProgressFn,
    deadline: float | None,
) -> _Part:
    """Group mix of images generated from neutral prompts, corrected for the measurement's confusion.

    A first pass of `samples_per_prompt` images per prompt gives the share that shows skin and how far
    the images of one prompt agree; the power rule (`images_needed`, in independent images) then says
    how many images the gate needs, and more are generated up to `max_representation_images`: first
    from more of the data's neutral prompts, one image each, then more seeds. Where that cap, the
    deadline or the number of prompts cannot reach the power the check is not measured.
    """
    part = _Part()
    groups = list(cal.refs)
    conf = confusion(cal.truth, cal.measured, groups)
    needed = max(
        cfg.min_measured_images,
        images_needed(conf, cfg.max_representation_disparity, cfg.representation_margin),
    )
    sample = _sample_neutral(
        cfg, generate, cal.refs, neutral.prompts, seed, progress, needed, deadline, neutral.reserve
    )
    with_skin, prompt_of = sample.with_skin()
    data_dist = _training_distribution(cfg, labels, train_images, groups, part.notes)
    raw_dist = distribution(with_skin, groups)
    gen_dist = unmix(raw_dist * len(with_skin), conf)
    estimate = _CorrectedEstimate.of(cfg, cal, groups, with_skin, prompt_of, gen_dist, seed)
    gated, no_power = _gated_disparity(cfg, estimate, sample, neutral)
    part.metrics += _measurement_metrics(cfg, cal, needed)
    part.metrics += _sample_metrics(sample, len(sample.prompts))
    part.metrics += _data_metrics(cal, data_dist)
    part.metrics += _estimate_metrics(cfg, estimate, data_dist)
    part.tables.update(_representation_tables(groups, conf, gen_dist, raw_dist, data_dist, estimate))
    part.checks += _representation_checks(
        cfg, labels, data_dist, total_variation(data_dist, uniform(len(groups))), estimate, gated, no_power
    )
    part.charts.append(_representation_chart(cfg, out_dir, groups, gen_dist, data_dist, estimate))
    return part


def _training_distribution(
    cfg: BiasConfig, labels: list[str | None], train_images: np.ndarray, groups: list[str], notes: list[str]
) -> np.ndarray:
    """Group shares of the training data: its labels, or the Monk shade measured on its images."""
    if any(labels):
        return distribution([v for v in labels if v], groups)
    train_labs, _ = skin_lab(train_images, cfg.min_skin_fraction)
    notes.append("the data has no attribute labels: groups are Monk Skin Tone shades, measured on both sides")
    return distribution([m for m in nearest_monk(train_labs) if m != NO_SKIN], groups)


def _representation_tables(
    groups: list[str],
    conf: np.ndarray,
    gen_dist: np.ndarray,
    raw_dist: np.ndarray,
    data_dist: np.ndarray,
    est: "_CorrectedEstimate",
) -> dict[str, list[dict]]:
    """Shares per group (corrected, with intervals, raw, training, uniform) and the confusion matrix."""
    return {
        "representation": [
            {
                "group": g,
                "generated_share": float(gen_dist[i]),
                "generated_share_ci_low": float(est.share_low[i]),
                "generated_share_ci_high": float(est.share_high[i]),
                "generated_share_measured": float(raw_dist[i]),
                "training_share": float(data_dist[i]),
                "uniform_share": 1.0 / len(groups),
            }
            for i, g in enumerate(groups)
        ],
        "representation_confusion": [
            {"true_group": g, **{f"measured_{h}": float(conf[i, j]) for j, h in enumerate(groups)}}
            for i, g in enumerate(groups)
        ],
    }


def _representation_chart(
    cfg: BiasConfig,
    out_dir: Path,
    groups: list[str],
    gen_dist: np.ndarray,
    data_dist: np.ndarray,
    est: "_CorrectedEstimate",
) -> Path:
    """Bar chart of the corrected generated shares (with intervals) beside the training and uniform shares."""
    return grouped_bars(
        out_dir / "bias_representation.png",
        f"{cfg.attribute}: neutral prompts (corrected for the measurement's confusion)",
        groups,
        {
            "generated": gen_dist.tolist(),
            "training data": data_dist.tolist(),
            "uniform": [1.0 / len(groups)] * len(groups),
        },
        "share",
        errors={"generated": (est.share_low.tolist(), est.share_high.tolist())},
    )


@dataclass(frozen=True)
class _PromptClustering:
    """How far images of one prompt agree in group beyond chance, and how many independent images they are.

    A trained model's tone follows the prompt more than the seed (bias_prompt_clustering.py: one tone
    per prompt over six seeds), so 100 images of 12 prompts carry little more than 12 draws. The
    intra-prompt correlation is Fleiss' kappa over the images with skin grouped by prompt (the share of
    same-prompt pairs that agree, beyond the agreement of random pairs); the design effect
    1 + (m - 1) * rho (Kish, with m the size-weighted images per prompt) turns images into independent
    ones. Measured labels carry the measurement's errors, which lower the agreement slightly.
    """

    prompts: int  # neutral prompts with at least one image showing skin
    images: int  # images showing skin
    correlation: float  # in [0, 1]; 1 where no prompt has two images to compare (assume the worst)
    design_effect: float

    @classmethod
    def of(cls, measured: list[str], prompt_of: list[int]) -> "_PromptClustering":
        """Clustering of images with skin (`measured`, no NO_SKIN) by the prompt index of each."""
        if not measured:
            return cls(0, 0, 1.0, 1.0)
        _, prompt_ids = np.unique(prompt_of, return_inverse=True)
        _, group_ids = np.unique(measured, return_inverse=True)
        counts = np.zeros((prompt_ids.max() + 1, group_ids.max() + 1))
        np.add.at(counts, (prompt_ids, group_ids), 1)
        sizes = counts.sum(axis=1)
        pairs = float((sizes * (sizes - 1)).sum())
        shares = counts.sum(axis=0) / sizes.sum()
        chance = float((shares**2).sum())
        if pairs == 0 or chance >= 1.0:
            # nothing to compare within a prompt, or every image one group: the worst case
            rho = 1.0
        else:
            agree = float((counts * (counts - 1)).sum()) / pairs
            rho = float(np.clip((agree - chance) / (1 - chance), 0.0, 1.0))
        weighted_size = float((sizes**2).sum() / sizes.sum())
        return cls(len(sizes), len(measured), rho, 1 + (weighted_size - 1) * rho)

    @property
    def effective(self) -> float:
        """Independent images the sample is worth."""
        return self.images / self.design_effect

    def images_for(self, needed: int) -> int | None:
        """Images with skin, spread over these prompts, worth `needed` independent ones; None if none are.

        G prompts with m images each are worth G * m / (1 + (m - 1) * rho), which tends to G / rho as m
        grows: past that, more seeds add nothing and only more prompts do.
        """
        g, rho = self.prompts, self.correlation
        if g == 0 or g <= needed * rho:
            return None
        per_prompt = needed * (1 - rho) / (g - needed * rho)
        return int(g * max(1, np.ceil(per_prompt)))


@dataclass
class _NeutralSample:
    """Measured groups of the neutral images, the prompt of each, and what stopped the sampling."""

    needed: int  # independent images with skin the power rule asks for
    measured: list[str] = field(default_factory=list)
    prompt_of: list[int] = field(default_factory=list)  # index of each image's neutral prompt
    budget_images: int | None = None  # set when the run's deadline, not the cap, stopped the sampling
    wanted_images: int | None = None  # images in all the round the deadline stopped would have reached
    seconds_per_image: float = 0.0
    prompts: list[str] = field(default_factory=list)  # every neutral prompt generated from, in order

    def extend(self, measured: list[str], prompt_of: list[int]) -> None:
        """Add the measured groups of one round of images."""
        self.measured += measured
        self.prompt_of += prompt_of

    def with_skin(self) -> tuple[list[str], list[int]]:
        """Measured groups and prompt indices of the images that showed skin."""
        kept = [(m, p) for m, p in zip(self.measured, self.prompt_of, strict=True) if m != NO_SKIN]
        return [m for m, _ in kept], [p for _, p in kept]

    @property
    def share(self) -> float:
        """Share of the generated images that showed skin."""
        return sum(1 for m in self.measured if m != NO_SKIN) / max(1, len(self.measured))

    @property
    def clusters(self) -> _PromptClustering:
        """How the images with skin cluster by prompt."""
        return _PromptClustering.of(*self.with_skin())

    @property
    def total(self) -> int | None:
        """Images to generate for the power rule at the skin share and prompt correlation so far.

        None when no number of seeds over these prompts reaches it (or no image showed skin).
        """
        images = self.clusters.images_for(self.needed)
        return int(np.ceil(images / self.share)) if images and self.share else None

    def powered(self, min_prompts: int) -> bool:
        """Whether the sample has the power the rule asks for, over enough prompts."""
        c = self.clusters
        return c.effective >= self.needed and c.prompts >= min_prompts

    def more_prompts(self, cfg: BiasConfig, available: int) -> int:
        """New neutral prompts, one image each, the next round should add; 0 when none help or fit.

        A new prompt that shows skin adds about one independent image, where another seed of a prompt
        already drawn adds at most 1 / design effect of one (nothing once the tone follows the prompt):
        so more prompts come before more seeds, as many as the skin share says the shortfall needs.
        """
        c = self.clusters
        room = cfg.max_representation_images - len(self.measured)
        if self.powered(cfg.min_neutral_prompts) or not available or room <= 0 or not self.share:
            return 0
        short = max(self.needed - c.effective, cfg.min_neutral_prompts - c.prompts, 1.0)
        return int(min(available, room, np.ceil(short / self.share)))

    def next_round(self, cfg: BiasConfig, prompts: int, done: int) -> int:
        """Images per prompt the next round should reach; `done` when more seeds cannot help or are capped."""
        total = self.total
        if (
            self.powered(cfg.min_neutral_prompts)
            or self.clusters.prompts < cfg.min_neutral_prompts
            or total is None
            or total > cfg.max_representation_images
        ):
            return done
        per_prompt = max(done + 1, int(np.ceil(total / prompts)))
        return min(per_prompt, cfg.max_representation_images // prompts)

    def fits(self, deadline: float | None, images: int) -> bool:
        """Whether `images` more fit before `deadline` at the seconds per image so far; records it if not."""
        if deadline is None:
            return True
        room = int((deadline - time.time()) / max(self.seconds_per_image, 1e-9))
        if room >= images:
            return True
        self.budget_images = len(self.measured) + max(0, room)
        self.wanted_images = len(self.measured) + images
        return False


def _sample_neutral(
    cfg: BiasConfig,
    generate: Generator,
    refs: dict[str, np.ndarray],
    prompts: list[str],
    seed: int,
    progress: ProgressFn,
    needed: int,
    deadline: float | None = None,
    reserve: list[str] | None = None,
) -> _NeutralSample:
    """Measured groups of neutral images, generated until `needed` independent ones show skin.

    After a first round of `samples_per_prompt` images of each prompt, rounds add prompts from `reserve`
    (the data's other neutral prompts), one image each, and once it is spent more seeds of every prompt.
    Stops at the cap, the deadline, or when neither can reach the power (when the images of a prompt
    agree so far that more seeds could not and the data has no more prompts). The skin share and the
    correlation are re-estimated after each round; the seconds per image of the rounds so far say how
    many more images fit before `deadline`, so a round that would run past it is not started.
    """
    sample = _NeutralSample(needed, prompts=list(prompts))
    seeds = [cfg.samples_per_prompt] * len(prompts)  # images generated of each prompt so far
    pending = list(reserve or [])
    batch = [(i, k) for i in range(len(prompts)) for k in range(seeds[i])]
    started = time.perf_counter()
    while batch:
        sample.extend(*_measure_neutral(cfg, generate, refs, sample.prompts, seed, progress, batch))
        sample.seconds_per_image = (time.perf_counter() - started) / len(sample.measured)
        if new := sample.more_prompts(cfg, len(pending)):
            if not sample.fits(deadline, new):
                break
            first = len(sample.prompts)
            sample.prompts += pending[:new]
            del pending[:new]
            seeds += [1] * new
            batch = [(i, 0) for i in range(first, first + new)]
            continue
        target = sample.next_round(cfg, len(sample.prompts), max(seeds))
        batch = [(i, k) for i in range(len(seeds)) for k in range(seeds[i], target)]
        if target <= max(seeds) or not sample.fits(deadline, len(batch)):
            break
        seeds = [max(s, target) for s in seeds]
    return sample


def _measure_neutral(
    cfg: BiasConfig,
    generate: Generator,
    refs: dict[str, np.ndarray],
    prompts: list[str],
    seed: int,
    progress: ProgressFn,
    batch: list[tuple[int, int]],
) -> tuple[list[str], list[int]]:
    """Measured group, and prompt index, of the images `batch` names as (prompt index, sample index)."""
    if not batch:
        return [], []
    images = generate_batched(
        generate,
        [prompts[i] for i, _ in batch],
        [seed + k for _, k in batch],
        progress,
        "bias: neutral prompts",
        cfg.batch_size,
    )
    labs, _ = skin_lab(images, cfg.min_skin_fraction)
    return nearest_reference(labs, refs), [i for i, _ in batch]


@dataclass
class _CorrectedEstimate:
    """Corrected disparity and shares with 95% bootstrap intervals (prompts and calibration resampled)."""

    disparity: float
    low: float
    high: float
    share_low: np.ndarray
    share_high: np.ndarray
    n: int
    shares: np.ndarray
    prompts: int = 0  # neutral prompts the images with skin came from

    @classmethod
    def of(
        cls,
        cfg: BiasConfig,
        cal: _Calibration,
        groups: list[str],
        with_skin: list[str],
        prompt_of: list[int],
        gen_dist: np.ndarray,
        seed: int,
    ) -> "_CorrectedEstimate":
        """Cluster bootstrap: resample prompts, and per true group the labelled calibration images.

        Images of one prompt are correlated (a model's tone follows the prompt more than the seed), so
        resampling images as if independent gives an interval far too narrow: a drawn prompt brings all
        its images (one-stage cluster bootstrap). The calibration images are distinct training images,
        resampled one by one within their group, so the interval also carries the correction's
        uncertainty. Seeded, so a run's interval is reproducible. Passing each image its own index as
        `prompt_of` gives the image-level bootstrap.
        """
        target = uniform(len(groups))
        value = total_variation(gen_dist, target)
        _, cluster = np.unique(prompt_of, return_inverse=True)
        n_prompts = int(cluster.max()) + 1 if len(cluster) else 0
        if not cfg.bootstrap or not with_skin:
            return cls(value, value, value, gen_dist, gen_dist, len(with_skin), gen_dist, n_prompts)
        rng = np.random.default_rng(seed)
        index = {g: i for i, g in enumerate(groups)}
        per_prompt = np.zeros((n_prompts, len(groups)))
        np.add.at(per_prompt, (cluster, [index[m] for m in with_skin]), 1)
        truth, measured = np.array(cal.truth), np.array(cal.measured)
        by_group = [np.flatnonzero(truth == g) for g in groups]
        tvs, shares = [], []
        for _ in range(cfg.bootstrap):
            rows = np.concatenate(
                [rng.choice(ix, len(ix)) for ix in by_group if len(ix)] or [np.array([], int)]
            )
            conf = confusion(list(truth[rows]), list(measured[rows]), groups)
            counts = per_prompt[rng.integers(0, n_prompts, n_prompts)].sum(axis=0)
            mix = unmix(counts, conf)
            shares.append(mix)
            tvs.append(total_variation(mix, target))
        shares_arr = np.array(shares)
        low, high = widen_for_few_clusters(value, *np.quantile(tvs, [0.025, 0.975]), n_prompts)
        share_low, share_high = widen_for_few_clusters(
            gen_dist,
            np.quantile(shares_arr, 0.025, axis=0),
            np.quantile(shares_arr, 0.975, axis=0),
            n_prompts,
        )
        return cls(value, float(low), float(high), share_low, share_high, len(with_skin), gen_dist, n_prompts)


def widen_for_few_clusters(estimate, low, high, clusters: int):
    """A bootstrap interval over `clusters` resampled prompts, widened for how few there are.

    Resampling G clusters with replacement gives a variance (G - 1) / G of the unbiased one (the plug-in
    estimate's bias), which matters at the handful of prompts the audit accepts (8 gives 0.875): each
    end moves away from the estimate by sqrt(G / (G - 1)), within [0, 1]. Works on arrays too.
    """
    if clusters < 2:
        return low, high
    k = np.sqrt(clusters / (clusters - 1))
    return (
        np.clip(estimate - (estimate - low) * k, 0.0, 1.0),
        np.clip(estimate + (high - estimate) * k, 0.0, 1.0),
    )


def _why_unmeasured(cfg: BiasConfig, sample: _NeutralSample, neutral: _Neutral) -> str:
    """Why the neutral sample has no power for the gate, or '' when it has."""
    if sample.powered(cfg.min_neutral_prompts):
        return ""
    c, generated, total = sample.clusters, len(sample.measured), sample.total
    used = len(sample.prompts) or len(neutral.prompts)
    more_prompts = (
        f"raise audits.bias.max_representation_images (the data offers {neutral.offered} neutral prompts, "
        f"{used} were generated from)"
        if neutral.offered > used
        else f"add neutral prompts (all {used} the data offers were used: audits.bias.neutral_prompts, or "
        "data with more records of the attribute)"
    )
    if c.images == 0:
        cap = f"none of the {generated} images generated from neutral prompts showed skin"
    elif c.prompts < cfg.min_neutral_prompts:
        cap = (
            f"they came from {c.prompts} of the {used} neutral prompts, and the interval, "
            f"which resamples prompts, needs images with skin from at least {cfg.min_neutral_prompts} "
            f"(audits.bias.min_neutral_prompts): {more_prompts}"
        )
    elif sample.budget_images is not None:
        cap = (
            f"at the {sample.share:.0%} of images that showed skin and an intra-prompt correlation of "
            f"{c.correlation:.2f} the next round asked for {sample.wanted_images} images in all, and the run's "
            f"budget left time for {sample.budget_images} (at {sample.seconds_per_image:.2f} s per image); "
            "give the run a larger run.budget or audits.reserve"
        )
    elif total is None:
        cap = (
            f"the images of one prompt agree in group beyond chance (intra-prompt correlation "
            f"{c.correlation:.2f}), so the {c.images} images from {c.prompts} prompts count as "
            f"{c.effective:.0f} independent ones, and no number of seeds over these prompts reaches "
            f"{sample.needed} (at most {c.prompts / c.correlation:.0f}): {more_prompts}"
        )
    else:
        cap = (
            f"at the {sample.share:.0%} of images that showed skin and an intra-prompt correlation of "
            f"{c.correlation:.2f} this needs about {total} images, and "
            f"audits.bias.max_representation_images is {cfg.max_representation_images}"
        )
    return (
        f"{c.images} of {generated} images generated from neutral prompts showed skin, worth "
        f"{c.effective:.0f} independent images; the power rule needs {sample.needed} (a 95% interval of "
        f"+/-{cfg.representation_margin:g} on the corrected disparity, through the measurement's confusion "
        f"on labelled images): {cap}; or raise max_representation_images, lower min_skin_fraction, or "
        "widen audits.bias.representation_margin"
    )


def _gated_disparity(
    cfg: BiasConfig, est: _CorrectedEstimate, sample: _NeutralSample, neutral: _Neutral
) -> tuple[float | None, str]:
    """The value the representation gate compares, or None and why the sample cannot decide.

    Nothing is read from images with skin from fewer than `min_neutral_prompts` prompts: the interval
    resamples prompts, and a handful of them give one too narrow to trust. With the interval as the
    gate it fails when the lower end is above the threshold (the sample shows the skew with confidence,
    whatever its size). Anything else needs the power rule's independent images, so that a sample too
    small to see a skew never passes: it passes when the upper end is within threshold + margin (the
    sample rules out a skew the gate is sized to see); an interval across both is not a measurement.
    """
    c = sample.clusters
    t, margin = cfg.max_representation_disparity, cfg.representation_margin
    on_interval = cfg.gate_on == "ci_low" and bool(cfg.bootstrap)
    if c.images == 0 or c.prompts < cfg.min_neutral_prompts:
        return None, _why_unmeasured(cfg, sample, neutral)
    if on_interval and est.low > t:
        return est.low, ""
    if c.effective < sample.needed:
        return None, _why_unmeasured(cfg, sample, neutral)
    if not on_interval:
        return est.disparity, ""
    if est.high <= t + margin:
        return est.low, ""
    return None, (
        f"the {est.n} images with skin from {est.prompts} neutral prompts give a 95% interval (prompts "
        f"resampled) of [{est.low:.2f}, {est.high:.2f}] for the corrected disparity: it reaches both the "
        f"threshold {t:g} and threshold + margin {t + margin:g}, so the sample cannot tell a fair model "
        "from a skewed one; raise audits.bias.max_representation_images or give more audits.bias.neutral_prompts"
    )


def _measurement_metrics(cfg: BiasConfig, cal: _Calibration, needed: int) -> list[Metric]:
    """The measurement's accuracy on labelled images, and the independent images the power rule asks of it."""
    groups = list(cal.refs)
    calibrated = sum(1 for t, m in zip(cal.truth, cal.measured, strict=True) if m in groups)
    correct = sum(1 for t, m in zip(cal.truth, cal.measured, strict=True) if m in groups and m == t)
    return [
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
            implementation="independent images with skin for a 95% interval of +/- representation_margin on "
            "the corrected disparity (delta method through the inverse confusion, at uniform and at threshold "
            "+ margin); images of one prompt count for less by the design effect of their correlation",
            details={
                "margin": cfg.representation_margin,
                "cap_images": cfg.max_representation_images,
                "min_neutral_prompts": cfg.min_neutral_prompts,
            },
        ),
    ]


def _data_metrics(cal: _Calibration, data_dist: np.ndarray) -> list[Metric]:
    """The training data's own disparity, and the disparity a one-group model shows uncorrected."""
    metrics = [
        Metric(
            name="training_representation_disparity_tv",
            value=total_variation(data_dist, uniform(len(data_dist))),
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
    return metrics


def _sample_metrics(sample: _NeutralSample, prompts: int) -> list[Metric]:
    """What the neutral sample holds: the share that showed skin, and how its images cluster by prompt."""
    c = sample.clusters
    return [
        Metric(
            name="skin_detected_share",
            value=sample.share,
            implementation=MEASUREMENT,
            details={"images": len(sample.measured), "prompts": prompts},
        ),
        Metric(
            name="representation_prompt_correlation",
            value=c.correlation,
            implementation="intra-prompt correlation of the measured group of images with skin (Fleiss' kappa "
            "over prompts; 1 where no prompt has two such images); design effect 1 + (m - 1) * rho (Kish)",
            details={
                "prompts_with_skin": c.prompts,
                "images_with_skin": c.images,
                "design_effect": c.design_effect,
                "effective_images": c.effective,
            },
        ),
    ]


def _estimate_metrics(cfg: BiasConfig, est: _CorrectedEstimate, data_dist: np.ndarray) -> list[Metric]:
    """The corrected disparity, its distance to the training mix, and the amplification, with intervals."""
    if not est.n:
        return []
    data_disparity = total_variation(data_dist, uniform(len(data_dist)))
    return [
        Metric(
            name="representation_disparity_tv",
            value=est.disparity,
            implementation="total variation distance to uniform of the generated group mix, the mix "
            "estimated by EM through the measurement's confusion on labelled images; interval from a "
            "bootstrap over prompts (all images of a drawn prompt together) and calibration images",
            details={
                "images_with_skin": est.n,
                "prompts_with_skin": est.prompts,
                "groups": len(data_dist),
                "ci_low": est.low,
                "ci_high": est.high,
                "bootstrap": cfg.bootstrap,
                "bootstrap_unit": "prompt",
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
            f"{est.disparity:.3g}, {est.n} images with skin from {est.prompts} prompts, prompts resampled; "
            f"passes only when the upper end is within threshold + {cfg.representation_margin:g})"
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
        part.checks.append(_qos_unmeasured(cfg, prompts, wanted, fix))
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
    measured = nearest_reference(labs, refs)
    part.calibration = (list(wanted), measured)
    frame = _qos_frame(
        cfg, wanted, measured, _qos_scores(images, labs, wanted, own, train_images, refs), seed
    )
    groups = [str(g) for g in frame.by_group.index]
    low, high = frame.by_group_ci if cfg.bootstrap else (frame.by_group, frame.by_group)
    part.tables["quality_of_service"] = _qos_table(frame.by_group, low, high, wanted)
    part.metrics += _qos_metrics(cfg, frame, len(prompts))
    part.checks.append(_qos_check(cfg, frame, min(wanted.count(g) for g in groups), fix))
    part.charts.append(
        grouped_bars(
            out_dir / "bias_quality_of_service.png",
            f"adherence to the requested {cfg.attribute}",
            groups,
            {"adherence": frame.by_group["adherence"].tolist()},
            "share of images in the requested group",
            errors={"adherence": (low["adherence"].tolist(), high["adherence"].tolist())},
        )
    )
    return part


def _qos_unmeasured(cfg: BiasConfig, prompts: list[str], wanted: list[str], fix: str) -> AuditCheck:
    """The quality-of-service check when fewer than two groups have prompts: not measured, and why."""
    why = (
        f"no training caption names a {cfg.attribute} group whose image the measurement reads "
        "correctly; set audits.bias.group_prompt_template"
        if not prompts
        else f"only the {wanted[0]} group has prompts, and a difference between groups needs two; "
        "add labelled data for the other groups or set audits.bias.group_prompt_template"
    )
    return threshold_check(
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


def _qos_scores(
    images: np.ndarray,
    labs: np.ndarray,
    wanted: list[str],
    own: list[int | None],
    train_images: np.ndarray,
    refs: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Per-image scores: colour error to the requested group, and closeness to the caption's own image."""
    ref_of = np.stack([refs[g] for g in wanted])
    delta_e = np.sqrt(((np.nan_to_num(labs, nan=0.0) - ref_of) ** 2).sum(axis=1))
    scores = {"skin_tone_delta_e": np.where(np.isnan(labs).any(axis=1), 100.0, delta_e)}  # no skin: worst
    if all(i is not None for i in own):
        # quality of the image itself: how closely it follows its caption's training image
        own_images = train_images[[int(i) for i in own]].astype(np.float32) / 255
        scores["own_image_correlation"] = np.array(
            [
                1 - correlation_distances(g.astype(np.float32) / 255, o[None])[0]
                for g, o in zip(images, own_images, strict=True)
            ]
        )
    return scores


def _qos_frame(
    cfg: BiasConfig, wanted: list[str], measured: list[str], scores: dict[str, np.ndarray], seed: int
) -> MetricFrame:
    """fairlearn's MetricFrame of adherence and the per-image scores by requested group (bootstrapped)."""
    return MetricFrame(
        metrics={"adherence": _adherence, **dict.fromkeys(scores, _mean_of)},
        y_true=np.array(wanted),
        y_pred=np.array(measured),
        sensitive_features=np.array(wanted),
        sample_params={name: {"scores": values} for name, values in scores.items()},
        n_boot=cfg.bootstrap or None,
        ci_quantiles=[0.025, 0.975] if cfg.bootstrap else None,
        random_state=seed if cfg.bootstrap else None,
    )


def _qos_table(by_group, low, high, wanted: list[str]) -> list[dict]:
    """One row per group: images, each score, and its interval."""
    return [
        {
            "group": str(g),
            "n": wanted.count(str(g)),
            **{m: float(by_group.loc[g, m]) for m in by_group.columns},
            **{f"{m}_ci_low": float(low.loc[g, m]) for m in by_group.columns},
            **{f"{m}_ci_high": float(high.loc[g, m]) for m in by_group.columns},
        }
        for g in by_group.index
    ]


def _qos_metrics(cfg: BiasConfig, frame: MetricFrame, images: int) -> list[Metric]:
    """Difference (max - min over groups) of each score, with its ratio and interval."""
    diff, ratio = frame.difference(), frame.ratio()
    diff_low, diff_high = frame.difference_ci() if cfg.bootstrap else (diff, diff)
    return [
        Metric(
            name=f"qos_{m}_difference",
            value=float(diff[m]),
            implementation="fairlearn.metrics.MetricFrame.difference() (max - min over groups)",
            details={
                "ratio": float(ratio[m]) if np.isfinite(ratio[m]) else -1.0,
                "ci_low": float(diff_low[m]),
                "ci_high": float(diff_high[m]),
                "bootstrap": cfg.bootstrap,
                "images": images,
            },
        )
        for m in frame.by_group.columns
    ]


def _qos_check(cfg: BiasConfig, frame: MetricFrame, per_group: int, fix: str) -> AuditCheck:
    """The gate on the adherence difference: its estimate, or its interval's lower end with gate_on: ci_low."""
    estimate = float(frame.difference()["adherence"])
    what = (
        f"largest difference between groups in adherence (the requested {cfg.attribute} is the one measured)"
    )
    gated = estimate
    if cfg.gate_on == "ci_low" and cfg.bootstrap:
        # With a handful of images per group the estimate moves by a whole step between seeds; the
        # gate fails only on a gap the sample shows with confidence. The estimate stays in the message.
        gated = float(frame.difference_ci()[0]["adherence"])
        what = (
            f"lower end of the 95% bootstrap interval of the {what} (estimate {estimate:.3g}, "
            f"{per_group} or more images per group)"
        )
    return threshold_check(
        "quality_of_service_difference",
        gated,
        cfg.max_quality_difference,
        "max",
        what,
        fix,
        audit="bias",
        allow_unmeasured=_allowed_unmeasured(cfg),
    )
