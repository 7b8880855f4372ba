"""Finding a run and reading what it recorded: its local state, its reports, its MLflow store.

The commands that only read (`runs`, `show`, `card`, `verify`) and the card stage read runs through
this module, so the way a run's store is reached is written once.
"""

import json
from pathlib import Path

from pydantic import BaseModel

from audits.report import AuditReport
from governance.report import GovernanceReport
from pipeline.config import RunConfig, load_config
from pipeline.errors import UsageError
from pipeline.recording import Recorder, store_absent, tracking_uri
from pipeline.stages import AUDIT_STAGES
from pipeline.state import RunState
from training.report import TrainingReport

DEFAULT_CONFIG = Path("pipeline.yaml")

# report name -> the model that parses it (the data gate writes governance, train writes training,
# each audit its own name)
REPORT_MODELS: dict[str, type[BaseModel]] = {
    "governance": GovernanceReport,
    "training": TrainingReport,
    **dict.fromkeys(AUDIT_STAGES, AuditReport),
}


def project_run_config(config: Path | None) -> RunConfig:
    """The `run` section of `config`, else of ./pipeline.yaml when it exists, else the defaults."""
    path = config or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    return load_config(path).run if path is not None else RunConfig()


def project_client(config: Path | None):
    """An MLflow client of the project's tracking store (see `project_run_config`)."""
    return Recorder(project_run_config(config)).client


def recorder_for(state: RunState) -> Recorder:
    """The MLflow recorder of the run's own tracking store (from its recorded run config)."""
    return Recorder(RunConfig(**{k: v for k, v in state.config["run"].items() if k != "output_dir"}))


def resolve_run_id(given: str) -> str:
    """The run id `given` names: itself, or the one run (in MLflow or under runs/) it is a prefix of.

    As git does with commits, any unique prefix works; an ambiguous one is a usage error listing them.
    """
    if len(given) == 32 or not given:
        return given
    found = {p.name for p in Path("runs").glob(f"{given}*") if (p / "state.json").is_file()}
    try:
        run_cfg = project_run_config(None)
        if not store_absent(tracking_uri(run_cfg)):
            client = project_client(None)
            exp = client.get_experiment_by_name(run_cfg.experiment)
            if exp is not None:
                runs = client.search_runs(
                    [exp.experiment_id], "tags.`pipeline.kind` = 'run'", max_results=50_000
                )
                found |= {r.info.run_id for r in runs if r.info.run_id.startswith(given)}
    except Exception:  # an unreadable store: the local folders still answer
        pass
    if len(found) > 1:
        raise UsageError(f"run id prefix {given!r} is ambiguous: {', '.join(sorted(found))}; give more of it")
    return found.pop() if found else given


def find_state(run_id: str) -> RunState:
    """The local state of a run (a unique prefix of its id will do): from MLflow's run_dir tag, else runs/<id>."""
    run_id = resolve_run_id(run_id)
    candidates = []
    try:
        if store_absent(tracking_uri(project_run_config(None))):
            raise LookupError("no MLflow store yet")
        run = project_client(None).get_run(run_id)
        if "pipeline.run_dir" in run.data.tags:
            candidates.append(Path(run.data.tags["pipeline.run_dir"]))
    except Exception:  # no store or no such run there: the local folder may still hold it
        pass
    candidates.append(Path("runs") / run_id)
    for folder in candidates:
        if (folder / "state.json").is_file():
            return RunState.load(folder)
    raise UsageError(
        f"no run {run_id!r} found (looked in MLflow and in {candidates[-1]}); list runs with `pipeline runs`"
    )


def load_reports(state: RunState) -> dict[str, BaseModel]:
    """The stored reports of a run, by name, parsed into their models (missing ones omitted)."""
    out: dict[str, BaseModel] = {}
    for name, model in REPORT_MODELS.items():
        path = state.report_path(name)
        if path.is_file():
            out[name] = model.model_validate(json.loads(path.read_text(encoding="utf-8")))
    return out
