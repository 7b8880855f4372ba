"""Typed audit reports. Each check carries its measured value, threshold and verdict."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from governance.components import Component


class AuditCheck(BaseModel):
    name: str  # e.g. "replication_rate"
    measured: float | None
    threshold: float | None
    direction: Literal["max", "min"]  # max: measured must be <= threshold
    passed: bool
    message: str  # plain words: what was measured, against what, and what to change if it failed


class Metric(BaseModel):
    """A number named for what it is: implementation, feature network, versions, sample counts."""

    name: str  # e.g. "fd_mobilenetv2_imagenet"
    value: float
    implementation: str = ""
    feature_network: str | None = None
    details: dict[str, str | int | float] = Field(default_factory=dict)


class AuditReport(BaseModel):
    audit: Literal["quality", "bias", "deepfake"]
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
