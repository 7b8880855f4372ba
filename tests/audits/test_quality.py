import numpy as np
import pytest

from audits.config import QualityConfig
from audits.quality import audit_quality
from tests.audits.conftest import lookup_generator, noop_progress

CFG = QualityConfig(
    num_images=16, feature_resolution=64, probe_steps=80, kid_subsets=10, probe_train_images=300
)


def _noise_generator(prompts, seeds):
    rng = np.random.default_rng(seeds[0] if seeds else 0)
    return rng.integers(0, 256, (len(prompts), 32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def reports(emoji, tmp_path_factory):
    perfect = lookup_generator(emoji.held_out.texts, emoji.held_out_images, emoji.held_out_images[0])
    out = tmp_path_factory.mktemp("quality")
    args = (emoji.train, emoji.train_images, emoji.held_out, emoji.held_out_images, 0.4)
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


def test_heldout_loss_gate(reports):
    check = next(c for c in reports["perfect"].checks if c.name == "heldout_loss")
    assert check.passed and check.measured == 0.4 and check.threshold == CFG.max_heldout_loss


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
