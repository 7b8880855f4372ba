"""Typed audit reports. Each check carries its measured value, threshold and verdict."""

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from governance.components import Component


class Audit(StrEnum):
    """The audits, by the names their reports, checks and config sections carry."""

    QUALITY = "quality"
    BIAS = "bias"
    DEEPFAKE = "deepfake"


# The order they run in and the card shows them. `pipeline/stages.py` owns the order of the whole run;
# its audit stages carry these names (pipeline may import audits, never the other way round).
AUDITS: tuple[Audit, ...] = tuple(Audit)


class Verdict(StrEnum):
    """What a check's row means, everywhere it is shown (terminal, `pipeline show`, card)."""

    PASS = "pass"  # measured and compared with a threshold: within it
    FAIL = "FAIL"  # measured and compared: outside the threshold
    RECORDED = "recorded"  # measured, no threshold set: nothing was compared, so never "pass"
    NOT_MEASURED = "not measured"  # could not be measured; waived or not gated, so it does not block
    UNMEASURED_REQUIRED = "NOT MEASURED"  # could not be measured and is required: withholds approval


def verdict_of(passed: bool, threshold: object, measured: object) -> Verdict:
    """The verdict of a check or gate row from what it recorded (one rule for every display)."""
    if measured is None:
        return Verdict.NOT_MEASURED if passed else Verdict.UNMEASURED_REQUIRED
    if not passed:
        return Verdict.FAIL
    if threshold is None:
        return Verdict.RECORDED
    return Verdict.PASS


class AuditCheck(BaseModel):
    name: str  # e.g. "replication_rate"
    measured: float | None
    threshold: float | None
    direction: Literal["max", "min"]  # max: measured must be <= threshold
    passed: bool
    message: str  # plain words: what was measured, against what, and what to change if it failed

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.passed, self.threshold, self.measured)


class Metric(BaseModel):
    """A number named for what it is: implementation, feature network, versions, sample counts."""

    name: str  # e.g. "fd_mobilenetv2_imagenet"
    value: float
    implementation: str = ""
    feature_network: str | None = None
    details: dict[str, str | int | float] = Field(default_factory=dict)


class AuditReport(BaseModel):
    # the audit's name as a plain str once validated: reports are dumped to YAML and JSON as before
    model_config = ConfigDict(use_enum_values=True)

    audit: Audit
    checks: list[AuditCheck] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    tables: dict[str, list[dict]] = Field(default_factory=dict)  # e.g. {"by_group": [...]}
    charts: list[Path] = Field(default_factory=list)
    examples: list[Path] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)
