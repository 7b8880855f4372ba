"""Threshold checks: the direction, the boundary, and values that could not be measured."""

from audits.checks import threshold_check


def _check(measured, threshold, direction="max"):
    return threshold_check("x", measured, threshold, direction, "x", "fix it")


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
    assert _check(None, 0.3).passed and "not measurable" in _check(None, 0.3).message
    assert _check(5.0, None).passed and "recorded" in _check(5.0, None).message
