import numpy as np
import pytest

from audits.config import QualityConfig
from audits.quality import audit_quality
from tests.audits.conftest import lookup_generator, noop_progress

CFG = QualityConfig(
    num_images=16, feature_resolution=64, probe_steps=80, kid_subsets=10, probe_train_images=300
)


# a held-out loss well under its baselines' (the default run's ratio was 0.17)
LOSSES = {"model": 0.4, "zero_velocity": 1.6, "mean_image": 1.3}


def _check(report, name):
    return next(c for c in report.checks if c.name == name)


def _noise_generator(prompts, seeds):
    rng = np.random.default_rng(seeds[0] if seeds else 0)
    return rng.integers(0, 256, (len(prompts), 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def reports(emoji, tmp_path_factory):
    perfect = lookup_generator(emoji.held_out.texts, emoji.held_out_images, emoji.held_out_images[0])
    out = tmp_path_factory.mktemp("quality")
    args = (emoji.train, emoji.train_images, emoji.held_out, emoji.held_out_images, LOSSES)
    return {
        "perfect": audit_quality(CFG, perfect, *args, out / "p", 0, noop_progress),
        "perfect_again": audit_quality(CFG, perfect, *args, out / "p2", 0, noop_progress),
        "noise": audit_quality(CFG, _noise_generator, *args, out / "n", 0, noop_progress),
    }


def _metric(report, name):
    return next(m for m in report.metrics if m.name == name)


def test_fd_and_kid_separate_a_perfect_generator_from_noise(reports):
    for name in ("fd_mobilenetv2_imagenet", "kid_mobilenetv2_imagenet"):
        assert _metric(reports["perfect"], name).value < _metric(reports["noise"], name).value / 3


def test_alignment_probe_learns_from_train_and_rewards_images_that_follow_their_prompt(reports):
    perfect, noise = reports["perfect"], reports["noise"]
    chance = _metric(perfect, "alignment_probe_heldout_top5").details["chance_top5"]
    assert _metric(perfect, "alignment_probe_heldout_top5").value > 2 * chance
    assert (
        _metric(perfect, "alignment_generated_top5").value > _metric(noise, "alignment_generated_top5").value
    )


def test_every_metric_is_named_for_what_it_is_and_carries_its_provenance(reports):
    for metric in reports["perfect"].metrics:
        assert "fid" not in metric.name and "clip" not in metric.name
        if metric.feature_network:
            assert "mobilenetv2" in metric.feature_network
            assert {"resize", "torch"} <= set(metric.details)
    fd = _metric(reports["perfect"], "fd_mobilenetv2_imagenet")
    assert fd.details["generated"] == CFG.num_images and fd.details["held_out"] > 0
    assert any("Inception FID/KID not computed" in n for n in reports["perfect"].notes)


def test_quality_metrics_are_deterministic_for_a_seed(reports):
    a, b = reports["perfect"], reports["perfect_again"]
    assert [m.model_dump() for m in a.metrics] == [m.model_dump() for m in b.metrics]


def test_heldout_loss_is_gated_against_the_predictors_that_ignore_their_input(reports, emoji, tmp_path):
    check = _check(reports["perfect"], "heldout_loss_ratio")
    assert check.passed and check.measured == pytest.approx(0.4 / 1.3)
    assert _check(reports["perfect"], "heldout_loss").verdict == "recorded"  # no absolute threshold
    # barely better than predicting the mean image: what a model trained for a handful of steps scores
    barely = {**LOSSES, "model": 1.0}
    report = audit_quality(
        CFG,
        _noise_generator,
        emoji.train,
        emoji.train_images,
        emoji.held_out,
        emoji.held_out_images,
        barely,
        tmp_path,
        0,
        noop_progress,
    )
    assert not _check(report, "heldout_loss_ratio").passed and not report.passed


def test_fd_is_read_against_the_distance_between_real_images(reports):
    perfect, noise = (_check(reports[k], "fd_ratio_to_real") for k in ("perfect", "noise"))
    # held-out images are closer to the held-out set than train images are: under 1
    assert perfect.passed and perfect.measured < 1.0
    assert noise.measured > 1.5 * perfect.measured
    floor = _metric(reports["perfect"], "fd_mobilenetv2_imagenet_train_vs_heldout")
    assert floor.details["train"] == CFG.num_images  # as many real images as generated ones


def test_a_noise_generator_is_not_approved_and_held_out_images_are(reports):
    assert not reports["noise"].passed
    assert reports["perfect"].passed, [c.message for c in reports["perfect"].checks if not c.passed]
    assert not _check(reports["noise"], "alignment_generated_top5_lift").passed


def test_a_tiny_held_out_split_is_not_measured_and_withholds_approval(emoji, tmp_path):
    three = emoji.held_out.subset([0, 1, 2])
    args = (_noise_generator, emoji.train, emoji.train_images, three, emoji.held_out_images[:3], LOSSES)
    report = audit_quality(CFG, *args, tmp_path, 0, noop_progress)
    assert _check(report, "heldout_loss_ratio").passed  # a mean over images: three are enough
    gated = [c for c in report.checks if c.threshold is not None and not c.name.startswith("heldout")]
    assert gated and all(c.measured is None and not c.passed for c in gated)
    assert all("min_heldout_images" in c.message and "eval_fraction" in c.message for c in gated)
    waived = QualityConfig(**{**CFG.model_dump(), "allow_unmeasured": [c.name for c in gated]})
    again = audit_quality(waived, *args, tmp_path, 0, noop_progress)
    assert again.passed and all(c.verdict == "not measured" for c in again.checks if c.measured is None)


def test_real_inception_fid_is_never_faked(tmp_path):
    import importlib.util

    from audits.optional_metrics import inception_fid

    images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(FileNotFoundError, match="inception_weights"):
        inception_fid(str(tmp_path / "missing.pth"), images, images)
    if importlib.util.find_spec("torchmetrics") is None:
        weights = tmp_path / "pt_inception.pth"
        weights.write_bytes(b"")
        metrics, notes = inception_fid(str(weights), images, images)
        assert metrics == [] and "not computed" in notes[0]


def test_a_single_training_image_leaves_the_feature_checks_not_measured(emoji, tmp_path):
    one = emoji.train.subset([0])
    report = audit_quality(
        CFG,
        _noise_generator,
        one,
        emoji.train_images[:1],
        emoji.held_out,
        emoji.held_out_images,
        LOSSES,
        tmp_path,
        0,
        noop_progress,
    )
    fd = _check(report, "fd_ratio_to_real")
    assert fd.measured is None and not fd.passed and "train split holds 1 image" in fd.message
