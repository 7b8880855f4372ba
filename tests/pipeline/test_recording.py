"""The MLflow recorder against a real MLflow with a real SQLite database."""

from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import RunConfig
from pipeline.recording import PARENT_TAG, Recorder, redact
from pipeline.review import list_runs


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = RunConfig(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "artifacts").as_uri(),
        experiment="test",
    )
    return Recorder(cfg)


def test_parent_and_nested_stage_runs_with_dataset_and_registry(recorder, tmp_path):
    parent = recorder.start("demo", tags={"pipeline.kind": "run"})
    with recorder.stage("ingest") as child:
        recorder.metrics(child, {"records_in": 3})
    table = tmp_path / "governed.parquet"
    pd.DataFrame({"record_id": ["a", "b"], "text": ["x", "y"]}).to_parquet(table)
    recorder.dataset(parent, table, digest="d" * 64, name="governed", source="emoji")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model_index.json").write_text("{}")
    recorder.artifact(parent, model, "training/model")
    version = recorder.register_model("demo-model", parent, "training/model", "a card")
    recorder.set_alias("demo-model", "approved", version)
    recorder.finish()

    client = recorder.client
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.inputs.dataset_inputs[0].dataset.digest == ("d" * 36)
    children = client.search_runs([recorder.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent}'")
    assert [c.info.run_name for c in children] == ["ingest"]
    assert children[0].data.metrics["records_in"] == 3
    mv = client.get_model_version_by_alias("demo-model", "approved")
    assert str(mv.version) == version and mv.run_id == parent and mv.description == "a card"
    assert [a.path for a in client.list_artifacts(parent, "training/model")] == [
        "training/model/model_index.json"
    ]


def test_failed_stage_is_marked_failed(recorder):
    recorder.start("demo", tags={})
    with pytest.raises(RuntimeError), recorder.stage("train") as child:
        raise RuntimeError("boom")
    assert recorder.client.get_run(child).info.status == "FAILED"


def test_secrets_never_reach_params(recorder):
    parent = recorder.start("demo", tags={})
    recorder.params(
        parent,
        {
            "run": {"tracking_uri": "https://alice:s3cret@mlflow.example/"},
            "hub": {"token": "hf_abcdef", "repo": "me/model"},
        },
    )
    params = recorder.client.get_run(parent).data.params
    assert "s3cret" not in str(params) and "hf_abcdef" not in str(params)
    assert params["hub.repo"] == "me/model"


def test_redact_keeps_non_secrets():
    assert redact({"a": [1, "x"], "api_key": "", "password": "p"}) == {
        "a": [1, "x"],
        "api_key": "",
        "password": "***",
    }


def _store_bytes(recorder) -> bytes:
    return Path(recorder.uri.removeprefix("sqlite:///")).read_bytes()


def test_read_only_use_never_writes_to_the_store_and_the_first_run_creates_the_experiment(recorder, tmp_path):
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"run:\n  tracking_uri: {recorder.uri}\n  experiment: test\n", encoding="utf-8")
    before = _store_bytes(recorder)  # the fixture's Recorder opened the store: nothing more may change it
    assert recorder.experiment_id is None
    assert list_runs(config) == []  # `pipeline runs` on a project whose experiment has no run yet
    assert recorder.client.get_experiment_by_name("test") is None
    assert _store_bytes(recorder) == before

    parent = recorder.start("demo", tags={"pipeline.kind": "run"})
    created = recorder.client.get_experiment_by_name("test")
    assert created is not None and recorder.experiment_id == created.experiment_id
    recorder.finish()
    after_run = _store_bytes(recorder)
    assert [r["run_id"] for r in list_runs(config)] == [parent]
    assert Recorder(recorder.cfg).experiment_id == created.experiment_id
    assert _store_bytes(recorder) == after_run

    # resumed under a config naming another experiment, the stages still nest under the parent's
    again = Recorder(recorder.cfg.model_copy(update={"experiment": "renamed"}))
    again.reopen(parent)
    with again.stage("train") as child:
        pass
    assert again.client.get_run(child).info.experiment_id == created.experiment_id
    assert again.client.get_experiment_by_name("renamed") is None
    with pytest.raises(RuntimeError, match="needs a parent run"), Recorder(recorder.cfg).stage("x"):
        pass


def test_a_new_project_without_a_store_lists_no_runs_and_creates_no_database(tmp_path, monkeypatch):
    from pipeline.errors import UsageError
    from pipeline.recording import store_absent
    from pipeline.store import find_state

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert store_absent("sqlite:///mlflow.db") and not store_absent("http://mlflow.example:5000")
    assert list_runs(None) == []
    with pytest.raises(UsageError, match="no run 'abc' found"):
        find_state("abc")
    assert not (tmp_path / "mlflow.db").exists()  # opening a SQLite store would have created it


def test_the_dataset_input_counts_every_row_without_loading_the_table(recorder, tmp_path, monkeypatch):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    import pipeline.recording

    monkeypatch.setattr(pipeline.recording, "SCHEMA_ROWS", 7)  # the schema comes from the first 7 rows
    parent = recorder.start("demo", tags={})
    n = 2_500
    table = tmp_path / "governed.parquet"
    rows = pa.table({"record_id": [f"r{i}" for i in range(n)], "width": list(range(n))})
    pq.write_table(rows, table, row_group_size=100)
    recorder.dataset(parent, table, digest="e" * 64, name="governed", source="emoji")
    recorder.finish()
    dataset = recorder.client.get_run(parent).inputs.dataset_inputs[0].dataset
    assert json.loads(dataset.profile) == {"num_rows": n, "num_elements": 2 * n}
    columns = {c["name"]: c["type"] for c in json.loads(dataset.schema)["mlflow_colspec"]}
    assert columns == {"record_id": "string", "width": "long"}
    assert dataset.source_type == "local" and table.name in dataset.source


def test_mlflow_telemetry_is_off_unless_the_user_opted_in(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    Recorder(RunConfig(tracking_uri=f"sqlite:///{tmp_path / 'a.db'}"))
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true" and os.environ["DO_NOT_TRACK"] == "true"
    from mlflow.telemetry.utils import is_telemetry_disabled

    assert is_telemetry_disabled()
    # a user who opted in keeps it
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "false")
    monkeypatch.setenv("DO_NOT_TRACK", "false")
    Recorder(RunConfig(tracking_uri=f"sqlite:///{tmp_path / 'b.db'}"))
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "false" and os.environ["DO_NOT_TRACK"] == "false"


def test_the_ui_names_the_experiment_and_the_latest_runs_addresses(tmp_path, monkeypatch):
    from pipeline.review import ui_addresses

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"run:\n  tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}\n  experiment: demo\n")
    assert ui_addresses(config, "http://127.0.0.1:5000") == []  # a new project: nothing to point at
    recorder = Recorder(RunConfig(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="demo"))
    recorder.start("first", tags={"pipeline.kind": "run"})
    recorder.finish()
    latest = recorder.start("second", tags={"pipeline.kind": "run"})
    recorder.finish()
    exp = recorder.experiment_id
    assert ui_addresses(config, "http://127.0.0.1:5000") == [
        f"experiment demo: http://127.0.0.1:5000/#/experiments/{exp}",
        f"latest run {latest}: http://127.0.0.1:5000/#/experiments/{exp}/runs/{latest}",
    ]
