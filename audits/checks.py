"""Building `AuditCheck`s: one place decides pass/fail and writes the plain-words message."""

import math
from collections.abc import Collection
from typing import Literal

from audits.report import AuditCheck


def waiver_setting(audit: str) -> str:
    """The config key that lets named checks of `audit` stay unmeasured without withholding approval."""
    return f"audits.{audit}.allow_unmeasured"


def threshold_check(
    name: str,
    measured: float | None,
    threshold: float | None,
    direction: Literal["max", "min"],
    what: str,
    fix: str,
    *,
    audit: str,
    why_unmeasured: str = "",
    allow_unmeasured: Collection[str] = (),
) -> AuditCheck:
    """A check of `measured` against `threshold` (`max`: must be <= threshold; `min`: >=).

    A threshold of None records the value without gating (verdict `recorded`, never `pass`). A measured
    None means the run could not measure it (`why_unmeasured` says why): a gated check then withholds
    approval, unless its name is in `allow_unmeasured` (the audit's `allow_unmeasured` setting), because
    an approval that rests on a check nobody could make means nothing.
    """
    if measured is None:
        setting = waiver_setting(audit)
        reason = why_unmeasured or "the audit had nothing to measure it on"
        if threshold is None:
            passed, tail = True, "no threshold set"
        elif name in allow_unmeasured:
            passed, tail = True, f"waived: '{name}' is in {setting}"
        else:
            passed = False
            tail = (
                f"approval is withheld until it is measured; to approve without it add '{name}' to {setting}"
            )
        return AuditCheck(
            name=name,
            measured=None,
            threshold=threshold,
            direction=direction,
            passed=passed,
            message=f"{what}: not measured — {reason} ({tail}).",
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
