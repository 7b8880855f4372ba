"""The card stage's decisions on fabricated run states: the verdict, the audit order, the card settings."""

import json
from importlib import metadata
from pathlib import Path

from model_cards.api import render_card
from model_cards.inputs import GateRow
from model_cards.layout import CARD_JSON
from pipeline.cards import card_inputs, verdict_of
from pipeline.config import build_config, config_to_dict
from pipeline.digests import Chain
from pipeline.stages import AUDIT_STAGES, GATED_STAGES
from pipeline.state import RunState


def _state(tmp_path: Path, *sets: str, completed=(), gates=()) -> RunState:
    return RunState(
        run_id="r0",
        run_dir=tmp_path,
        experiment="e",
        tracking_uri="sqlite:///:memory:",
        config=config_to_dict(build_config({}, list(sets))),
        budget_s=60,
        completed=list(completed),
        gates=list(gates),
    )


def _gate(stage: str, passed: bool) -> GateRow:
    return GateRow(stage=stage, name="g", measured=1, threshold=0, passed=passed, message="m")


def test_verdict_names_every_gated_stage_not_run_and_blocks_on_the_data_gate(tmp_path):
    verdict, reasons = verdict_of(_state(tmp_path, completed=["ingest", "data_gate"]))
    assert verdict == "incomplete"
    assert reasons == [f"stage not run: {s}" for s in sorted(set(GATED_STAGES) - {"data_gate"})]
    everything = [s.value for s in GATED_STAGES]
    assert verdict_of(_state(tmp_path, completed=everything))[0] == "approved"
    failed_audit = _state(tmp_path, completed=everything, gates=[_gate("bias", False)])
    assert verdict_of(failed_audit) == ("not_approved", ["bias.g: m"])
    blocked = _state(tmp_path, completed=everything, gates=[_gate("bias", False), _gate("data_gate", False)])
    assert verdict_of(blocked)[0] == "blocked"


def test_the_card_settings_of_the_run_reach_the_rendered_card(tmp_path):
    state = _state(
        tmp_path,
        "card.out_of_scope_uses=[printing on mugs]",
        "card.limitations=[Trained on icons only.]",
    )
    inputs = card_inputs(state, {}, Chain(links=[]), "incomplete", [], "2026-01-01T00:00:00+00:00", "abc")
    assert inputs.out_of_scope_uses == ["printing on mugs"]
    assert inputs.audit_order == [s.value for s in AUDIT_STAGES]
    text = render_card(inputs, tmp_path / "card").readme_path.read_text(encoding="utf-8")
    uses = text.split("Out of scope:", 1)[1].split("## ", 1)[0]
    assert "- printing on mugs" in uses
    assert "deepfakes" not in uses  # the default list is replaced, not extended
    assert "- Trained on icons only." in text.split("## Limitations", 1)[1]


def test_default_card_settings_are_the_ones_the_card_shows(tmp_path):
    state = _state(tmp_path)
    inputs = card_inputs(state, {}, Chain(links=[]), "incomplete", [], "2026-01-01T00:00:00+00:00", "abc")
    text = render_card(inputs, tmp_path / "card").readme_path.read_text(encoding="utf-8")
    uses = text.split("Out of scope:", 1)[1].split("## ", 1)[0]
    for use in state.config["card"]["out_of_scope_uses"]:
        assert f"- {use}" in uses


def test_the_cards_library_licences_are_what_the_installed_wheels_declare(tmp_path):
    inputs = card_inputs(
        _state(tmp_path), {}, Chain(links=[]), "incomplete", [], "2026-01-01T00:00:00+00:00", "abc"
    )
    render_card(inputs, tmp_path / "card")
    card = json.loads((tmp_path / "card" / CARD_JSON).read_text(encoding="utf-8"))
    shown = {c["source"]: c for c in card["derived"]["components"] if c["used_in"] == "pipeline"}
    for dist in ("pydantic", "typer"):
        meta = metadata.metadata(dist)
        assert shown[f"PyPI {dist}"]["license"] == meta["License-Expression"], dist
        assert shown[f"PyPI {dist}"]["version"] == metadata.version(dist)
    # mlflow's wheel states no License-Expression; its classifier is what the card reads, and says so
    mlflow = metadata.metadata("mlflow")
    assert mlflow.get("License-Expression") is None
    assert "License :: OSI Approved :: Apache Software License" in mlflow.get_all("Classifier")
    assert shown["PyPI mlflow"]["license"] == "Apache-2.0"
    assert "classifier 'Apache Software License'" in shown["PyPI mlflow"]["note"]
