import numpy as np
import pytest

from audits.bias import audit_bias
from audits.config import BiasConfig
from tests.audits.conftest import noop_progress

TONES = ["light", "medium-light", "medium", "medium-dark", "dark"]


def _family_generator(emoji, choose_tone):
    """Draws the training image of the prompt's family in the tone `choose_tone(prompt, seed)` picks."""
    images = {}
    for text, attrs, img in zip(emoji.train.texts, emoji.train.attributes, emoji.train_images, strict=True):
        base = text.split(":")[0]
        images[(base, attrs.get("skin_tone"))] = img

    def generate(prompts, seeds):
        out = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            base = prompt.split(":")[0]
            tone = choose_tone(prompt, seed)
            out.append(images.get((base, tone), images.get((base, None), emoji.train_images[0])))
        return np.stack(out)

    return generate


def _check(report, name):
    return next(c for c in report.checks if c.name == name)


def _requested(prompt):
    return next((t for t in TONES if prompt.endswith(f": {t} skin tone")), None)


def test_skewed_generator_shows_larger_disparity_and_fails_the_default_gate(emoji, tmp_path):
    skewed = _family_generator(emoji, lambda p, s: _requested(p) or "dark")
    balanced = _family_generator(emoji, lambda p, s: _requested(p) or TONES[(s + len(p)) % 5])
    # a model that draws every prompt dark is one cluster per prompt: its skew shows over enough prompts
    # (7 of 12 prompts show skin on the fixture's dark emoji, under min_neutral_prompts)
    cfg = BiasConfig(bootstrap=20, max_neutral_prompts=24)
    bad = audit_bias(cfg, skewed, emoji.train, emoji.train_images, tmp_path / "skewed", 0, noop_progress)
    good = audit_bias(cfg, balanced, emoji.train, emoji.train_images, tmp_path / "balanced", 0, noop_progress)
    assert (
        _check(bad, "representation_disparity").measured
        > _check(good, "representation_disparity").measured + 0.3
    )
    assert not _check(bad, "representation_disparity").passed
    assert _check(good, "representation_disparity").passed
    amplification = {m.name: m.value for m in bad.metrics}["representation_amplification"]
    assert amplification > 0.5  # the data is balanced, the model is not
    assert not bad.passed and all(p.exists() for p in bad.charts)


def test_quality_of_service_uses_metricframe_with_intervals_and_flags_a_group_served_worse(emoji, tmp_path):
    # adheres for every tone but "dark", which it draws as "light"
    unfair = _family_generator(emoji, lambda p, s: "light" if _requested(p) == "dark" else _requested(p))
    report = audit_bias(
        BiasConfig(bootstrap=20), unfair, emoji.train, emoji.train_images, tmp_path, 0, noop_progress
    )
    rows = {r["group"]: r for r in report.tables["quality_of_service"]}
    assert rows["dark"]["adherence"] < rows["light"]["adherence"]
    assert rows["light"]["own_image_correlation"] > 0.99  # it draws the caption's own training image
    assert (
        rows["light"]["adherence_ci_low"] <= rows["light"]["adherence"] <= rows["light"]["adherence_ci_high"]
    )
    difference = next(m for m in report.metrics if m.name == "qos_adherence_difference")
    assert difference.details["ci_low"] <= difference.value <= difference.details["ci_high"]
    check = _check(report, "quality_of_service_difference")
    assert not check.passed and check.measured > 0.5
    # The emoji come in all five tones: the advice must not be to rebalance balanced data.
    assert "already balanced" in check.message and "rebalance" not in check.message


def test_the_default_gate_ignores_a_gap_the_sample_cannot_show_and_the_estimate_gate_does_not(
    emoji, tmp_path
):
    # Three images per group; "dark" is drawn right once in three: a 0.67 gap in adherence, from one
    # image less than the others per group. The interval's lower end cannot exclude a small gap.
    sparse = _family_generator(
        emoji, lambda p, s: _requested(p) if _requested(p) != "dark" or s % 3 == 0 else "light"
    )
    runs = {}
    for gate_on in ("ci_low", "estimate"):
        cfg = BiasConfig(bootstrap=200, prompts_per_group=3, gate_on=gate_on)
        runs[gate_on] = audit_bias(
            cfg, sparse, emoji.train, emoji.train_images, tmp_path / gate_on, 0, noop_progress
        )
    estimate = next(m for m in runs["estimate"].metrics if m.name == "qos_adherence_difference")
    assert estimate.value > 0.5
    by_estimate = _check(runs["estimate"], "quality_of_service_difference")
    assert by_estimate.measured == estimate.value and not by_estimate.passed
    by_interval = _check(runs["ci_low"], "quality_of_service_difference")
    assert by_interval.measured == estimate.details["ci_low"] < 0.5 and by_interval.passed
    assert (
        "95% bootstrap interval" in by_interval.message
        and f"estimate {estimate.value:.3g}" in by_interval.message
    )


def test_bias_metrics_are_deterministic_for_a_seed(emoji, tmp_path):
    gen = _family_generator(emoji, lambda p, s: _requested(p) or TONES[s % 5])
    cfg = BiasConfig(bootstrap=10, max_neutral_prompts=4, prompts_per_group=3)
    a = audit_bias(cfg, gen, emoji.train, emoji.train_images, tmp_path / "a", 3, noop_progress)
    b = audit_bias(cfg, gen, emoji.train, emoji.train_images, tmp_path / "b", 3, noop_progress)
    assert [m.model_dump() for m in a.metrics] == [m.model_dump() for m in b.metrics]
    assert a.tables == b.tables


def test_group_prompt_template_fills_the_attribute_slot(emoji, tmp_path):
    seen = []

    def recording(prompts, seeds):
        seen.extend(prompts)
        return np.stack([emoji.train_images[0]] * len(prompts))

    cfg = BiasConfig(
        bootstrap=0,
        neutral_prompts=["waving hand"],
        samples_per_prompt=1,
        group_prompt_template="{prompt}: {group} skin tone",
        prompts_per_group=1,
    )
    report = audit_bias(cfg, recording, emoji.train, emoji.train_images, tmp_path, 0, noop_progress)
    assert {f"waving hand: {t} skin tone" for t in TONES} <= set(seen)
    assert {r["group"] for r in report.tables["quality_of_service"]} == set(TONES)
    assert "qos_own_image_correlation_difference" not in {m.name for m in report.metrics}


def test_no_prompts_and_no_attribute_withholds_approval_unless_waived(tmp_path):
    """Data without the audited attribute cannot be audited for bias: a failed check, never a crash."""
    import numpy as np

    from audits.bias import audit_bias
    from audits.config import BiasConfig
    from audits.governed_data import GovernedRecords

    n = 4
    records = GovernedRecords(
        [f"r{i}" for i in range(n)],
        [f"/none/{i}.png" for i in range(n)],
        [f"swatch {i}" for i in range(n)],
        ["train"] * n,
        [{} for _ in range(n)],
    )
    images = np.full((n, 8, 8, 3), 200, dtype=np.uint8)

    def never_called(prompts, seeds):
        raise AssertionError("nothing should be generated when there is nothing to audit")

    strict = audit_bias(BiasConfig(), never_called, records, images, tmp_path / "a", 0, lambda *a: None)
    assert [c.name for c in strict.checks] == ["bias_audit_performed"] and not strict.passed
    assert "neutral_prompts" in strict.checks[0].message
    waived = audit_bias(
        BiasConfig(required=False), never_called, records, images, tmp_path / "b", 0, lambda *a: None
    )
    assert waived.passed and "waived" in waived.checks[0].message


def test_the_advice_for_a_quality_of_service_gap_depends_on_the_data_balance():
    from audits.bias import _qos_fix

    groups = ["light", "dark"]
    assert "already balanced" in _qos_fix(["light"] * 50 + ["dark"] * 50, groups)
    assert "rebalance" in _qos_fix(["light"] * 90 + ["dark"] * 10, groups)
    assert "rebalance" in _qos_fix([], groups)  # no labels: nothing says the data is balanced


def test_a_dataset_with_one_labelled_group_is_not_measured_not_a_crash(emoji, tmp_path):
    # "father christmas" and its light-tone variant: one group, so no difference between groups exists
    base = next(
        i
        for i, t in enumerate(emoji.train.texts)
        if ":" not in t and f"{t}: light skin tone" in emoji.train.texts
    )
    pair = [base, emoji.train.texts.index(f"{emoji.train.texts[base]}: light skin tone")]
    records, images = emoji.train.subset(pair), emoji.train_images[pair]
    generate = _family_generator(emoji, lambda p, s: _requested(p))
    report = audit_bias(BiasConfig(bootstrap=20), generate, records, images, tmp_path, 0, noop_progress)
    qos = _check(report, "quality_of_service_difference")
    assert qos.measured is None and not qos.passed and "two" in qos.message


def test_representation_gates_on_its_interval_and_says_when_the_sample_has_no_power(emoji, tmp_path):
    skewed = _family_generator(emoji, lambda p, s: _requested(p) or "dark")
    balanced = _family_generator(emoji, lambda p, s: _requested(p) or TONES[(s + len(p)) % 5])
    cfg = BiasConfig(bootstrap=50, allow_unmeasured=[])
    bad = audit_bias(cfg, skewed, emoji.train, emoji.train_images, tmp_path / "s", 0, noop_progress)
    check = _check(bad, "representation_disparity")
    assert not check.passed and "lower end of the 95% bootstrap interval" in check.message
    # a margin so fine that the cap on neutral images cannot reach it: no number and no approval (the
    # threshold stays above this generator's own small disparity, whose interval would fail a lower one)
    strict = BiasConfig(
        bootstrap=50, allow_unmeasured=[], max_representation_disparity=0.3, representation_margin=0.02
    )
    report = audit_bias(strict, balanced, emoji.train, emoji.train_images, tmp_path / "b", 0, noop_progress)
    check = _check(report, "representation_disparity")
    assert check.measured is None and not check.passed and "the power rule needs" in check.message
    assert "max_representation_images" in check.message


def test_a_one_group_model_reads_as_one_group_and_the_confusion_is_recorded(emoji, tmp_path):
    skewed = _family_generator(emoji, lambda p, s: _requested(p) or "dark")
    report = audit_bias(
        BiasConfig(bootstrap=20), skewed, emoji.train, emoji.train_images, tmp_path / "a", 0, noop_progress
    )
    metrics = {m.name: m for m in report.metrics}
    # the raw measurement of a one-group model shows at most 0.8 (less where groups are confused);
    # inverting the confusion brings the estimate back to that of one group
    assert metrics["representation_visible_disparity"].value <= 0.8 + 1e-9
    assert metrics["representation_disparity_tv"].value > 0.75
    assert 0.5 < metrics["representation_measurement_accuracy"].value <= 1.0
    assert len(report.tables["representation_confusion"]) == 5


def _mix_generator(emoji, weights):
    """Real labelled training images of the prompt's family, tones drawn with `weights` per image."""
    rngs = {}

    def choose(prompt, seed):
        rng = rngs.setdefault((prompt, seed), np.random.default_rng([seed, len(prompt)]))
        return TONES[int(rng.choice(5, p=weights))]

    return _family_generator(emoji, lambda p, s: _requested(p) or choose(p, s))


def test_of_two_mixes_the_skewed_one_fails_and_the_balanced_one_passes_the_representation_gate(
    emoji, tmp_path
):
    cfg = BiasConfig(bootstrap=50, allow_unmeasured=[])
    skewed = _mix_generator(emoji, [0.9, 0.025, 0.025, 0.025, 0.025])
    balanced = _mix_generator(emoji, [0.2] * 5)
    bad = audit_bias(cfg, skewed, emoji.train, emoji.train_images, tmp_path / "s", 0, noop_progress)
    good = audit_bias(cfg, balanced, emoji.train, emoji.train_images, tmp_path / "b", 0, noop_progress)
    bad_check, good_check = _check(bad, "representation_disparity"), _check(good, "representation_disparity")
    assert bad_check.measured is not None and not bad_check.passed and not bad.passed
    assert good_check.measured is not None and good_check.passed
    needed = {m.name: m.value for m in good.metrics}["representation_images_needed"]
    shown = {m.name: m for m in good.metrics}["representation_disparity_tv"].details["images_with_skin"]
    assert shown >= needed  # the audit generated as many images as its power rule asked for
    light = next(r for r in bad.tables["representation"] if r["group"] == "light")
    assert light["generated_share_ci_low"] < 0.9 < light["generated_share_ci_high"] + 0.05


def test_a_deadline_stops_the_extra_neutral_images_and_says_the_budget_is_why(emoji, tmp_path):
    import time

    balanced = _mix_generator(emoji, [0.2] * 5)
    neutral = []

    def counting(prompts, seeds):
        neutral.extend(p for p in prompts if _requested(p) is None)
        return balanced(prompts, seeds)

    cfg = BiasConfig(bootstrap=50, allow_unmeasured=[])
    report = audit_bias(
        cfg, counting, emoji.train, emoji.train_images, tmp_path, 0, noop_progress, deadline=time.time()
    )
    check = _check(report, "representation_disparity")
    assert check.measured is None and not check.passed
    assert "run's budget left time for" in check.message and "run.budget" in check.message
    details = {m.name: m for m in report.metrics}["representation_disparity_tv"].details
    # only the first round ran: no round was started that the deadline could not hold
    assert len(neutral) == cfg.samples_per_prompt * len(set(neutral))
    assert (
        details["images_with_skin"]
        < {m.name: m.value for m in report.metrics}["representation_images_needed"]
    )


def _tone_images(emoji):
    """One labelled training image per tone that the measurement reads as its own tone."""
    from audits.bias import _calibrate

    cal = _calibrate(emoji.train, emoji.train_images, BiasConfig())
    labels = emoji.train.attribute("skin_tone")
    first = {}
    for i in sorted(cal.readable):
        first.setdefault(labels[i], i)
    return {tone: emoji.train_images[i] for tone, i in first.items()}


def _prompt_tone_generator(emoji, tone_of_prompt):
    """A model whose tone follows the prompt, never the seed: every image of a prompt shares one tone."""
    images = _tone_images(emoji)

    def generate(prompts, seeds):
        return np.stack([images[_requested(p) or tone_of_prompt(p)] for p in prompts])

    return generate


def _one_tone_per_prompt(prompts, per_prompt, tone_of):
    """Measured groups and prompt indices of `per_prompt` images of each prompt, all in its tone."""
    measured = [tone_of(i) for i in range(prompts) for _ in range(per_prompt)]
    return measured, [i for i in range(prompts) for _ in range(per_prompt)]


def _measurement(accuracy_errors: int = 2):
    """A calibration of 40 labelled images per tone, `accuracy_errors` of each read as the next tone."""
    from audits.bias import _Calibration

    truth = [t for t in TONES for _ in range(40)]
    measured = [
        TONES[(k + 1) % 5] if j < accuracy_errors else t for k, t in enumerate(TONES) for j in range(40)
    ]
    return _Calibration({t: np.zeros(3) for t in TONES}, truth=truth, measured=measured)


def test_images_of_one_prompt_are_one_draw_so_the_interval_resamples_prompts_and_says_unmeasured():
    from audits.bias import _CorrectedEstimate, _gated_disparity, _Neutral, _NeutralSample
    from audits.representation import confusion, distribution, images_needed, unmix

    cfg = BiasConfig(bootstrap=200, allow_unmeasured=[])
    cal = _measurement()
    conf = confusion(cal.truth, cal.measured, TONES)
    needed = images_needed(conf, cfg.max_representation_disparity, cfg.representation_margin)
    # 30 prompts, 8 seeds each; every prompt draws one tone, the tones spread evenly over the prompts
    measured, prompt_of = _one_tone_per_prompt(30, 8, lambda i: TONES[i % 5])
    gen = unmix(distribution(measured, TONES) * len(measured), conf)
    clustered = _CorrectedEstimate.of(cfg, cal, TONES, measured, prompt_of, gen, 0)
    naive = _CorrectedEstimate.of(cfg, cal, TONES, measured, list(range(len(measured))), gen, 0)
    assert clustered.prompts == 30 and naive.prompts == len(measured) == 240
    assert clustered.high - clustered.low > 2 * (naive.high - naive.low)  # about sqrt(8) wider
    assert clustered.high > naive.high
    # as 240 independent images the sample passes; as 30 draws it cannot rule out a skew: not measured
    as_images = _NeutralSample(needed, measured, list(range(len(measured))))
    gated, why = _gated_disparity(cfg, naive, as_images, _Neutral(["p"] * 240, 240))
    assert gated is not None and gated <= cfg.max_representation_disparity and not why
    sample = _NeutralSample(needed, measured, prompt_of)
    assert sample.clusters.correlation == 1.0 and sample.clusters.effective == 30 < needed
    assert sample.total is None  # no number of seeds over these 30 prompts reaches the power
    gated, why = _gated_disparity(cfg, clustered, sample, _Neutral(["p"] * 30, 36))
    assert gated is None and "count as 30 independent ones" in why and "max_representation_images" in why
    # a handful of prompts cannot give a verdict either way, not even on one tone only
    few, few_prompts = _one_tone_per_prompt(6, 8, lambda i: "dark")
    one_tone = unmix(distribution(few, TONES) * len(few), conf)
    est = _CorrectedEstimate.of(cfg, cal, TONES, few, few_prompts, one_tone, 0)
    gated, why = _gated_disparity(cfg, est, _NeutralSample(needed, few, few_prompts), _Neutral(["p"] * 6, 6))
    assert est.low > cfg.max_representation_disparity  # the interval alone would fail it
    assert gated is None and "min_neutral_prompts" in why


def test_the_prompt_correlation_is_near_zero_where_the_tone_follows_the_seed():
    from audits.bias import _PromptClustering

    rng = np.random.default_rng(0)
    measured = [TONES[int(k)] for k in rng.integers(0, 5, 30 * 8)]
    clusters = _PromptClustering.of(measured, [i for i in range(30) for _ in range(8)])
    assert clusters.correlation < 0.1 and clusters.effective > 150
    assert clusters.images_for(97) is not None and clusters.images_for(97) <= 240


def test_a_strong_skew_over_many_prompts_fails_and_a_balanced_mix_over_as_many_passes(emoji, tmp_path):
    prompts = [f"neutral prompt {i}" for i in range(120)]
    index = {p: i for i, p in enumerate(prompts)}
    # 90% of the prompts draw dark in every image; the rest cycle over the other tones
    skewed = _prompt_tone_generator(emoji, lambda p: "dark" if index[p] % 10 else TONES[index[p] // 10 % 4])
    balanced = _prompt_tone_generator(emoji, lambda p: TONES[index[p] % 5])
    cfg = BiasConfig(bootstrap=50, neutral_prompts=prompts, allow_unmeasured=[], prompts_per_group=2)
    bad = audit_bias(cfg, skewed, emoji.train, emoji.train_images, tmp_path / "s", 0, noop_progress)
    good = audit_bias(cfg, balanced, emoji.train, emoji.train_images, tmp_path / "b", 0, noop_progress)
    for report in (bad, good):
        correlation = {m.name: m for m in report.metrics}["representation_prompt_correlation"]
        assert correlation.value > 0.9 and correlation.details["prompts_with_skin"] == 120
    bad_check, good_check = _check(bad, "representation_disparity"), _check(good, "representation_disparity")
    assert bad_check.measured is not None and bad_check.measured > 0.4 and not bad_check.passed
    assert good_check.measured is not None and good_check.passed, good_check.message
    assert "from 120 prompts, prompts resampled" in good_check.message


def test_more_seeds_are_not_generated_when_the_tone_follows_the_prompt(emoji):
    from audits.bias import _calibrate, _sample_neutral

    prompts = [f"neutral prompt {i}" for i in range(12)]
    seen = []
    inner = _prompt_tone_generator(emoji, lambda p: TONES[prompts.index(p) % 5])

    def counting(ps, seeds):
        seen.extend(ps)
        return inner(ps, seeds)

    cfg = BiasConfig()
    refs = _calibrate(emoji.train, emoji.train_images, cfg).refs
    sample = _sample_neutral(cfg, counting, refs, prompts, 0, noop_progress, needed=97)
    # 12 prompts are worth 12 draws whatever the seeds: only the first round is generated
    assert len(seen) == cfg.samples_per_prompt * len(prompts)
    assert sample.prompt_of == [i for i in range(12) for _ in range(cfg.samples_per_prompt)]
    assert sample.clusters.correlation == 1.0 and sample.total is None


def test_power_comes_from_more_of_the_datas_prompts_one_image_each_when_the_tone_follows_the_prompt(emoji):
    from audits.bias import _calibrate, _sample_neutral

    first = [f"neutral prompt {i}" for i in range(12)]
    reserve = [f"neutral prompt {i}" for i in range(12, 300)]
    seen = []
    inner = _prompt_tone_generator(emoji, lambda p: TONES[int(p.split()[-1]) % 5])

    def counting(ps, seeds):
        seen.extend(zip(ps, seeds, strict=True))
        return inner(ps, seeds)

    cfg = BiasConfig()
    refs = _calibrate(emoji.train, emoji.train_images, cfg).refs
    sample = _sample_neutral(cfg, counting, refs, first, 0, noop_progress, needed=97, reserve=list(reserve))
    # the first pass, then prompts from the reserve with one image (seed 0) each until powered
    drawn = sample.prompts[len(first) :]
    assert sample.prompts[: len(first)] == first and drawn == reserve[: len(drawn)]
    assert sample.powered(cfg.min_neutral_prompts) and sample.clusters.effective >= 97
    assert all(s == 0 for p, s in seen if p in drawn) and len(seen) == len(set(seen))
    assert len(seen) == cfg.samples_per_prompt * len(first) + len(drawn) <= cfg.max_representation_images
    # and no more than the shortfall asked for: a handful past the 97 needed, not the whole reserve
    assert len(drawn) < 120


def test_the_audit_draws_every_prompt_the_data_offers_before_saying_it_needs_more(emoji, tmp_path):
    neutral = []
    inner = _prompt_tone_generator(emoji, lambda p: TONES[sum(map(ord, p)) % 5])

    def counting(ps, seeds):
        neutral.extend(p for p in ps if not _requested(p))
        return inner(ps, seeds)

    cfg = BiasConfig(bootstrap=20, allow_unmeasured=[], prompts_per_group=2)
    report = audit_bias(cfg, counting, emoji.train, emoji.train_images, tmp_path / "all", 0, noop_progress)
    offered = {m.name: m for m in report.metrics}["skin_detected_share"].details["prompts"]
    assert offered > cfg.max_neutral_prompts and len(set(neutral)) == offered
    check = _check(report, "representation_disparity")
    assert check.measured is None and not check.passed
    assert f"all {offered} the data offers were used" in check.message
    # with a cap the first pass nearly fills, the rest of the cap goes to new prompts and the cap is named
    neutral.clear()
    capped = cfg.model_copy(update={"max_representation_images": 30})
    report = audit_bias(capped, counting, emoji.train, emoji.train_images, tmp_path / "cap", 0, noop_progress)
    assert len(neutral) == 30 and len(set(neutral)) == cfg.max_neutral_prompts + 6
    check = _check(report, "representation_disparity")
    assert check.measured is None and "raise audits.bias.max_representation_images" in check.message


def test_the_prompt_bootstrap_interval_widens_for_few_prompts_and_hardly_for_many():
    from audits.bias import widen_for_few_clusters

    low, high = widen_for_few_clusters(0.5, 0.4, 0.7, 8)
    # sqrt(8 / 7) = 1.069: each end moves away from the estimate by that factor
    assert low == pytest.approx(0.5 - 0.1 * np.sqrt(8 / 7)) and high == pytest.approx(
        0.5 + 0.2 * np.sqrt(8 / 7)
    )
    many_low, many_high = widen_for_few_clusters(0.5, 0.4, 0.7, 400)
    assert 0.4 - many_low < 0.001 and many_high - 0.7 < 0.001
    # never outside [0, 1], and on arrays of shares as well
    lows, highs = widen_for_few_clusters(
        np.array([0.02, 0.9]), np.array([0.0, 0.8]), np.array([0.1, 0.99]), 3
    )
    assert lows[0] == 0.0 and highs[1] == 1.0 and lows[1] < 0.8 and highs[0] > 0.1
