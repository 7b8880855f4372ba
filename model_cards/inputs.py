"""Everything a model card is rendered from. Numbers come from reports, never from the template."""

from typing import Literal

from pydantic import BaseModel, Field

from audits.report import AuditReport
from governance.components import Component
from governance.report import GovernanceReport
from training.report import TrainingReport


class GateRow(BaseModel):
    stage: str
    name: str
    measured: float | str | None
    threshold: float | str | None
    passed: bool
    message: str


class CardInputs(BaseModel):
    run_id: str
    model_name: str
    created: str  # ISO timestamp
    verdict: Literal["approved", "not_approved", "blocked", "incomplete"]
    verdict_reasons: list[str] = Field(default_factory=list)
    gates: list[GateRow] = Field(default_factory=list)
    governance: GovernanceReport | None = None
    training: TrainingReport | None = None
    audits: list[AuditReport] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
    config: dict = Field(default_factory=dict)  # resolved, secrets redacted
    code_version: str = ""
    budget: str = ""
    digests: dict[str, str] = Field(default_factory=dict)  # link name -> sha256
    top_digest: str = ""
    intended_use: str = "research"
