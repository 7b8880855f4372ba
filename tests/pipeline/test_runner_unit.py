"""The runner's decisions from a run's state, without running a stage: what a resume skips, what a
blocked or failed gate stops, the verdict and exit code, and what `--from` forgets.

A real Runner with a real SQLite MLflow; each test starts from a run whose state says which stages
finished and what their gates decided. A stage that the runner wrongly decided to run would try real
work on no data and fail the test, and it would leave its name in `state.started` and `stage_runs`.
"""

import io

import pytest
from rich.console import Console

from model_cards.inputs import GateRow
from pipeline.config import build_config
from pipeline.runner import (
    EXIT_DATA_BLOCKED,
    EXIT_MODEL_FAILED,
    EXIT_OK,
    Runner,
    stage_verdicts,
)
from pipeline.stages import AUDIT_STAGES, GOVERNANCE_STAGES, ORDER, Stage
from pipeline.state import RunState


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One MLflow database for the module: creating its schema is the slow part."""
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture
def cfg(store, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return build_config(
        {
            "run": {
                "tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
                "artifact_location": (store / "artifacts").as_uri(),
                "output_dir": str(tmp_path / "runs"),
                "experiment": "runner-unit",
                "budget": "10m",
            }
        }
    )


def console() -> Console:
    return Console(file=io.StringIO(), width=200)


def row(stage: Stage, passed: bool, name: str = "g") -> GateRow:
    return GateRow(stage=stage.value, name=name, measured=1, threshold=1, passed=passed, message=name)


def finished(runner: Runner, stages, gates: list[GateRow]) -> RunState:
    """Mark `stages` begun and finished with `gates`, as a killed or finished run's state.json would."""
    st = runner.state
    st.started = [s.value for s in stages]
    st.completed = [s.value for s in stages]
    st.gates = gates
    st.save()
    return st


def passing_gates() -> list[GateRow]:
    return [row(Stage.DATA_GATE, True), row(Stage.TRAIN, True), *(row(a, True) for a in AUDIT_STAGES)]


def tags(runner: Runner) -> dict[str, str]:
    return runner.recorder.client.get_run(runner.state.run_id).data.tags


def test_a_resume_of_a_finished_run_replays_every_stage_and_runs_none(cfg):
    runner = Runner(cfg, console())
    finished(runner, ORDER, passing_gates())
    resumed = Runner(cfg, console(), state=RunState.load(runner.state.run_dir))
    outcome = resumed.run()
    assert (outcome.exit_code, outcome.state.verdict) == (EXIT_OK, "approved")
    assert outcome.state.stage_runs == {}
    assert outcome.state.attempts == 2
    saved = RunState.load(runner.state.run_dir)
    assert (saved.verdict, saved.exit_code) == ("approved", EXIT_OK)
    assert tags(resumed)["pipeline.attempts"] == "2"
    assert tags(resumed)["pipeline.verdict"] == "approved"


def test_a_resume_keeps_the_time_already_spent(cfg):
    runner = Runner(cfg, console())
    runner.state.spent_s = 123.0
    runner.state.save()
    resumed = Runner(cfg, console(), state=RunState.load(runner.state.run_dir))
    assert resumed.budget.spent_before_s == 123.0
    assert resumed.budget.total_s == 600.0
    # the audits' reserve is capped at half the budget (default 6m on a 10m run: 5m)
    assert resumed.budget.reserve_s == 300.0


def test_a_failed_data_gate_in_the_state_blocks_training_on_resume(cfg):
    runner = Runner(cfg, console())
    finished(runner, (*GOVERNANCE_STAGES, Stage.DATA_GATE), [row(Stage.DATA_GATE, False, "kept_records")])
    outcome = runner.run(until=Stage.TRAIN)
    assert (outcome.exit_code, outcome.state.verdict) == (EXIT_DATA_BLOCKED, "blocked")
    assert Stage.TRAIN not in outcome.state.started and outcome.state.stage_runs == {}
    assert tags(runner)["pipeline.stage_verdicts"] == "data_gate=fail(kept_records)"


def test_a_failed_training_gate_without_a_model_skips_the_audits(cfg):
    runner = Runner(cfg, console())
    gates = [row(Stage.DATA_GATE, True), row(Stage.TRAIN, False, "model_saved")]
    finished(runner, (*GOVERNANCE_STAGES, Stage.DATA_GATE, Stage.TRAIN), gates)
    outcome = runner.run(until=AUDIT_STAGES[-1])
    assert (outcome.exit_code, outcome.state.verdict) == (EXIT_MODEL_FAILED, "not_approved")
    assert not set(outcome.state.started) & {a.value for a in AUDIT_STAGES}
    assert outcome.state.stage_runs == {}


def test_one_failed_audit_withholds_approval_even_when_the_others_pass(cfg):
    runner = Runner(cfg, console())
    gates = passing_gates()
    gates[-1] = row(AUDIT_STAGES[-1], False)
    finished(runner, ORDER, gates)
    outcome = runner.run()
    assert (outcome.exit_code, outcome.state.verdict) == (EXIT_MODEL_FAILED, "not_approved")


def test_stopping_before_the_card_is_incomplete_not_approved(cfg):
    runner = Runner(cfg, console())
    finished(runner, ORDER, passing_gates())
    outcome = runner.run(until=Stage.DATA_GATE)
    assert (outcome.exit_code, outcome.state.verdict) == (EXIT_OK, "incomplete")


def test_forget_from_reruns_that_stage_and_every_later_one_only(cfg):
    runner = Runner(cfg, console())
    finished(runner, ORDER, passing_gates())
    runner.forget_from(AUDIT_STAGES[0])
    saved = RunState.load(runner.state.run_dir)
    kept = [s.value for s in ORDER[: ORDER.index(AUDIT_STAGES[0])]]
    assert saved.completed == kept and saved.started == kept
    assert [g.stage for g in saved.gates] == [Stage.DATA_GATE.value, Stage.TRAIN.value]


def test_stage_verdicts_name_the_failed_gates_per_stage_in_order():
    gates = [
        row(Stage.DATA_GATE, True, "kept_records"),
        row(Stage.TRAIN, False, "within_budget"),
        row(Stage.TRAIN, True, "steps"),
        row(Stage.TRAIN, False, "model_saved"),
    ]
    assert stage_verdicts(gates) == "data_gate=pass train=fail(within_budget,model_saved)"
    assert stage_verdicts([]) == ""


def test_the_sample_grids_are_marked_with_the_configured_watermark(store, tmp_path, monkeypatch):
    from PIL import Image
    from skimage import data

    from audits.provenance_check import check_output
    from audits.provenance_marks import read_mark

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = build_config(
        {
            "run": {
                "tracking_uri": f"sqlite:///{store / 'mlflow.db'}",
                "artifact_location": (store / "artifacts").as_uri(),
                "output_dir": str(tmp_path / "runs"),
                "experiment": "runner-unit",
            },
            "training": {"output_watermark": "rivaGan"},
        }
    )
    runner = Runner(cfg, console())
    grid = tmp_path / "grid.png"  # textured: RivaGAN misses more flat images
    Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS).save(grid)
    runner._mark_generated([grid])
    found = check_output(grid)
    assert found.recognised and found.watermark_method == "rivaGan"
    assert read_mark(grid, runner.state.run_id, method="rivaGan").watermark_found
