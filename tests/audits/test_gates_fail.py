"""The default quality gates on real models: an untrained one and one trained for a handful of steps.

Both are trained here (16 px, the training package's own loop) and audited through `audits.api`
with the default thresholds, so the held-out loss and its baselines come from
`training.api.denoising_losses`. Only the sample counts are cut to keep the test short. The default
run itself is too long for a test; its numbers are in docs/audit-gates.md.
"""

import time

import pytest

from audits.api import run_quality
from audits.config import QualityConfig
from tests.audits.conftest import noop_progress
from tests.training.conftest import tiny_config
from training.api import train

# default thresholds; fewer samples than the default run
CFG = QualityConfig(num_images=24, probe_steps=80, probe_train_images=300, kid_subsets=5, sample_steps=10)


def _train(governed, out_dir, steps):
    cfg = tiny_config(out_dir / "cache", max_steps=steps, sample_prompts=["rocket"])
    return train(cfg, governed, out_dir, time.time() + 300, 0, lambda m, s: None, noop_progress).model_dir


@pytest.fixture(scope="module")
def audited(emoji, tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    reports = {}
    for name, steps in (("untrained", 1), ("handful", 20)):
        model_dir = _train(emoji.path, root / name, steps)
        reports[name] = run_quality(CFG, model_dir, emoji.path, root / f"q-{name}", 0, noop_progress)
    return reports


def _check(report, name):
    return next(c for c in report.checks if c.name == name)


@pytest.mark.parametrize("name", ["untrained", "handful"])
def test_an_untrained_model_and_one_trained_a_handful_of_steps_are_not_approved(audited, name):
    report = audited[name]
    assert not report.passed
    loss = _check(report, "heldout_loss_ratio")
    # measured against the baselines on the same batch and noise, and far from a trained model's 0.17
    assert loss.measured is not None and loss.measured > CFG.max_heldout_loss_ratio and not loss.passed
    assert not _check(report, "alignment_generated_top5_lift").passed


def test_more_steps_lower_the_loss_ratio(audited):
    ratios = [_check(audited[n], "heldout_loss_ratio").measured for n in ("untrained", "handful")]
    assert ratios[1] < ratios[0]
