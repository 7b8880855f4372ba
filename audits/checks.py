"""Building `AuditCheck`s: one place decides pass/fail and writes the plain-words message."""

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
    passed = measured <= threshold if direction == "max" else measured >= threshold
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
