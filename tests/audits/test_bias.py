import numpy as np

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
    cfg = BiasConfig(bootstrap=20)
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
    # a margin so fine that the cap on neutral images cannot reach it: no number and no approval
    strict = BiasConfig(
        bootstrap=50, allow_unmeasured=[], max_representation_disparity=0.05, representation_margin=0.02
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
