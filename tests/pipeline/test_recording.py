"""The MLflow recorder against a real MLflow with a real SQLite database."""

import pandas as pd
import pytest

from pipeline.config import RunConfig
from pipeline.recording import PARENT_TAG, Recorder, redact


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
