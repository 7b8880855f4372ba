"""Building `AuditCheck`s: one place decides pass/fail and writes the plain-words message."""

import math
from typing import Literal

from audits.report import AuditCheck


def threshold_check(
    name: str,
    measured: float | None,
    threshold: float | None,
    direction: Literal["max", "min"],
    what: str,
    fix: str,
) -> AuditCheck:
    """A check of `measured` against `threshold` (`max`: must be <= threshold; `min`: >=).

    A threshold of None records the value without gating. A measured None means "not measurable";
    it passes, and the message says so, because the audit had nothing to judge (never silently).
    """
    if measured is None:
        return AuditCheck(
            name=name,
            measured=None,
            threshold=threshold,
            direction=direction,
            passed=True,
            message=f"{what}: not measurable on this run ({fix}).",
        )
    if threshold is None:
        return AuditCheck(
            name=name,
            measured=measured,
            threshold=None,
            direction=direction,
            passed=True,
            message=f"{what} = {measured:.4g} (recorded, no threshold set).",
        )
    # A value on the threshold passes even when float sums land a hair beyond it: a total variation
    # distance of 4-in-5 shares came out 0.6000000000000001 against a 0.6 threshold, shown as "0.6".
    on_threshold = math.isclose(measured, threshold, rel_tol=1e-9, abs_tol=1e-12)
    passed = on_threshold or (measured <= threshold if direction == "max" else measured >= threshold)
    relation = "at most" if direction == "max" else "at least"
    verdict = "passed" if passed else f"FAILED: {fix}"
    return AuditCheck(
        name=name,
        measured=measured,
        threshold=threshold,
        direction=direction,
        passed=passed,
        message=f"{what} = {measured:.4g}, required {relation} {threshold:.4g}: {verdict}.",
    )
