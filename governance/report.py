"""Typed reports the governance stages return to the pipeline."""

from pathlib import Path

from pydantic import BaseModel, Field

from governance.components import Component


class StageCounts(BaseModel):
    """What one governance stage decided."""

    stage: str
    records_in: int
    decided: dict[str, int] = Field(default_factory=dict, description="decision -> count this stage set")
    reasons: dict[str, int] = Field(default_factory=dict, description="reason code -> count this stage found")
    seconds: float = 0.0
    metrics: dict[str, float] = Field(default_factory=dict)
    artifacts: list[Path] = Field(default_factory=list)


class Obligations(BaseModel):
    """What the kept data obliges the model's publisher to do."""

    licenses: dict[str, int] = Field(default_factory=dict, description="SPDX id -> kept records")
    attribution_required: bool = False
    share_alike: list[str] = Field(default_factory=list)
    non_commercial: list[str] = Field(default_factory=list)
    statements: list[str] = Field(
        default_factory=list, description="plain-language consequences for the card"
    )
    conflicts: list[str] = Field(
        default_factory=list, description="kept licences that conflict with intended use"
    )


class GovernanceReport(BaseModel):
    """The governed dataset and everything decided about it."""

    source: str
    records_in: int
    decisions: dict[str, int] = Field(description="decision -> count (sums to records_in)")
    reasons: dict[str, int] = Field(description="reason code -> count of records carrying it")
    licenses_kept: dict[str, int]
    split_counts: dict[str, int] = Field(description="train/eval -> kept records")
    duplicate_groups: int = 0
    faces_in_kept: int = 0
    obligations: Obligations = Obligations()
    stages: list[StageCounts] = Field(default_factory=list)
    manifest_path: Path
    governed_path: Path
    dataset_digest: str = Field(
        description="sha256 over the governed table's rows (record_id, content_sha256, text, split)"
    )
    manifest_digest: str
    attribution_path: Path | None = None
    datasheet_path: Path | None = None
    datasheet_json_path: Path | None = None
    charts: list[Path] = Field(default_factory=list)
    components: list[Component] = Field(default_factory=list)
