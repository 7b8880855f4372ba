"""Finding and reading runs: the local state folder, the project's config, the stored reports."""

import pytest

from pipeline.config import build_config, config_to_dict
from pipeline.errors import UsageError
from pipeline.state import RunState
from pipeline.store import load_reports, project_run_config


def _state(run_dir) -> RunState:
    run_dir.mkdir(parents=True)
    state = RunState(
        run_id=run_dir.name,
        run_dir=run_dir,
        experiment="e",
        tracking_uri="sqlite:///x.db",
        config=config_to_dict(build_config({})),
        budget_s=60,
    )
    state.save()
    return state


def test_the_project_config_is_the_one_in_the_working_folder_unless_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_run_config(None).experiment == build_config({}).run.experiment
    (tmp_path / "pipeline.yaml").write_text("run:\n  experiment: mine\n")
    assert project_run_config(None).experiment == "mine"
    (tmp_path / "other.yaml").write_text("run:\n  experiment: other\n")
    assert project_run_config(tmp_path / "other.yaml").experiment == "other"


def test_reports_present_are_parsed_and_missing_ones_left_out(tmp_path):
    state = _state(tmp_path / "r1")
    assert load_reports(state) == {}
    path = state.report_path("training")
    path.parent.mkdir()
    path.write_text('{"not": "a training report"}')
    with pytest.raises(ValueError, match="TrainingReport"):  # a broken report is an error, not a missing one
        load_reports(state)


def test_a_run_missing_from_mlflow_is_found_in_runs_and_an_unknown_one_is_named(tmp_path, monkeypatch):
    from pipeline import store

    def unreachable(config):
        raise ConnectionError("no tracking server")

    # an unreachable store is what the local fallback is for (and a real SQLite store costs seconds)
    monkeypatch.setattr(store, "project_client", unreachable)
    monkeypatch.chdir(tmp_path)
    find_state = store.find_state
    _state(tmp_path / "runs" / "abc123")
    assert find_state("abc123").run_id == "abc123"
    with pytest.raises(UsageError, match=r"no run 'nope' found .*runs/nope"):
        find_state("nope")
