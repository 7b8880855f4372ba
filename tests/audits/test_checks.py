"""Threshold checks: the direction, the boundary, values with no threshold and values not measured."""

import pytest

from audits.checks import threshold_check
from audits.config import BiasConfig, QualityConfig
from audits.report import Verdict


def _check(measured, threshold, direction="max", allow=()):
    return threshold_check(
        "x", measured, threshold, direction, "x", "fix it", audit="quality", allow_unmeasured=allow
    )


def test_a_value_on_the_threshold_passes_even_after_float_rounding():
    # 0.1 + 0.2 is 0.30000000000000004: shares summed from counts land a hair past the threshold
    assert _check(0.1 + 0.2, 0.3).passed
    assert _check(0.7 - 0.4, 0.3, "min").passed  # 0.29999999999999993
    assert not _check(0.3001, 0.3).passed and not _check(0.2999, 0.3, "min").passed


def test_direction_and_messages():
    assert _check(0.2, 0.3).passed and not _check(0.4, 0.3).passed
    assert _check(0.4, 0.3, "min").passed and not _check(0.2, 0.3, "min").passed
    failed = _check(0.4, 0.3)
    assert "required at most 0.3" in failed.message and "FAILED: fix it" in failed.message
    assert failed.verdict == Verdict.FAIL and _check(0.2, 0.3).verdict == Verdict.PASS


def test_a_check_without_a_threshold_is_recorded_never_pass():
    check = _check(5.0, None)
    assert check.passed and check.verdict == Verdict.RECORDED and "recorded" in check.message


def test_a_gated_check_that_could_not_be_measured_withholds_approval_and_names_the_waiver():
    check = threshold_check(
        "heldout_loss_ratio", None, 0.5, "max", "loss", "fix", audit="quality", why_unmeasured="no eval split"
    )
    assert not check.passed and check.verdict == Verdict.UNMEASURED_REQUIRED
    assert "no eval split" in check.message and "audits.quality.allow_unmeasured" in check.message


def test_a_waived_or_ungated_unmeasured_check_passes_and_says_so():
    waived = _check(None, 0.3, allow=["x"])
    assert waived.passed and waived.verdict == Verdict.NOT_MEASURED and "waived" in waived.message
    ungated = _check(None, None)
    assert ungated.passed and ungated.verdict == Verdict.NOT_MEASURED


def test_allow_unmeasured_names_only_known_checks():
    assert QualityConfig(allow_unmeasured=["heldout_loss_ratio"]).allow_unmeasured == ["heldout_loss_ratio"]
    with pytest.raises(ValueError, match="unknown checks"):
        BiasConfig(allow_unmeasured=["no_such_check"])
