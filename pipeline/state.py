"""The local record of one run (runs/<run_id>/state.json): what finished, what it decided, time spent.

Written atomically after every stage and on a timer, so `--resume` knows where a killed run stood.
"""

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from model_cards.inputs import GateRow

STATE_FILE = "state.json"


class RunState(BaseModel):
    run_id: str
    run_dir: Path
    experiment: str
    tracking_uri: str
    config: dict
    budget_s: float
    spent_s: float = 0.0
    attempts: int = 1
    started: list[str] = Field(default_factory=list)  # stages begun (a begun, unfinished train resumes)
    completed: list[str] = Field(default_factory=list)
    stage_runs: dict[str, str] = Field(default_factory=dict)  # stage -> nested MLflow run id
    gates: list[GateRow] = Field(default_factory=list)
    verdict: str = "incomplete"
    exit_code: int | None = None
    model_version: str | None = None
    top_digest: str | None = None
    # the code of every attempt, in order (a resume may run other code); read by the card, which may
    # be rendered later from other code
    code_versions: list[str] = Field(default_factory=list)

    def save(self) -> None:
        path = self.run_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, run_dir: Path) -> "RunState":
        return cls.model_validate(json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8")))

    def report_path(self, name: str) -> Path:
        return self.run_dir / "reports" / f"{name}.json"
