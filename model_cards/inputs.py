"""Everything a model card is rendered from. Numbers come from reports, never from the template."""

from typing import Literal

from pydantic import BaseModel, Field

from audits.report import AUDITS, AuditReport
from governance.components import Component
from governance.report import GovernanceReport
from training.report import TrainingReport

# What a card says the model is for and not for, unless the run's `card:` settings say otherwise.
INTENDED_USES = (
    "studying small, governed, audited text-to-image training runs: reproducing them, comparing them, "
    "and testing audit and governance tooling",
)
OUT_OF_SCOPE_USES = (
    "generating images of real, identifiable people, or any deceptive or impersonating content (deepfakes)",
    "sexual, violent, hateful or harassing content",
    "any use that breaks the licences and attribution duties listed under Training data and "
    "Third-party components",
    "decisions about people, or any use where an error harms someone",
)


class GateRow(BaseModel):
    stage: str
    name: str
    measured: float | str | None
    threshold: float | str | None
    passed: bool
    message: str

    @classmethod
    def of_audit(cls, report: AuditReport) -> list["GateRow"]:
        """Every check of an audit report as one gate row: the pipeline's audit gates, and the card's
        gates table when a run passed it none."""
        return [
            cls(
                stage=report.audit,
                name=c.name,
                measured=c.measured,
                threshold=c.threshold,
                passed=c.passed,
                message=c.message,
            )
            for c in report.checks
        ]


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
    intended_uses: list[str] = Field(default_factory=lambda: list(INTENDED_USES))
    out_of_scope_uses: list[str] = Field(default_factory=lambda: list(OUT_OF_SCOPE_USES))
    limitations: list[str] = Field(default_factory=list)  # stated by the run's owner, besides the derived
    # The audits the run was meant to run, in its order (one card section each; a missing report
    # shows as not run). The pipeline passes its own list; the default is every audit kind there is.
    audit_order: list[str] = Field(default_factory=lambda: [str(a) for a in AUDITS])
