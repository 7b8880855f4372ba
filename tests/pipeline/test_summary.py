"""The summary at the end of `pipeline run`: verdict words per row, failed gates with their fix, paths."""

from rich.console import Console

from model_cards.inputs import GateRow
from pipeline.state import RunState
from pipeline.summary import fmt, print_summary, verdict_cell


def test_a_row_without_threshold_is_recorded_never_pass():
    assert verdict_cell(True, 12, None) == "recorded"
    assert "pass" not in verdict_cell(True, 0.5, None)


def test_verdict_cells_for_pass_fail_and_the_two_kinds_of_not_measured():
    assert verdict_cell(True, 0.1, 0.2) == "[green]pass[/]"
    assert verdict_cell(False, 0.3, 0.2) == "[bold red]FAIL[/]"
    # a failed row without threshold is still a failure, not "recorded"
    assert verdict_cell(False, 3, None) == "[bold red]FAIL[/]"
    # not measured and waived does not block (yellow); not measured and required withholds approval
    assert verdict_cell(True, None, 0.2) == "[yellow]not measured[/]"
    assert verdict_cell(False, None, 0.2) == "[bold red]NOT MEASURED[/]"


def test_fmt_numbers_whole_numbers_missing_and_booleans():
    assert fmt(None) == "-"
    assert fmt(True) == "True"  # a bool is not the number 1
    assert fmt(64) == "64"
    assert fmt(1020.0) == "1020"
    assert fmt(0.123456) == "0.1235"
    assert fmt("yes") == "yes"


def run_state(tmp_path, verdict: str, gates: list[GateRow]) -> RunState:
    return RunState(
        run_id="run-1",
        run_dir=tmp_path,
        experiment="e",
        tracking_uri="sqlite:///mlflow.db",
        config={},
        budget_s=600.0,
        spent_s=754.2,
        gates=gates,
        verdict=verdict,
    )


def printed(st: RunState) -> str:
    console = Console(record=True, width=200, color_system=None)
    print_summary(console, st)
    return console.export_text()


def test_summary_names_each_failed_gate_with_its_message_and_only_those(tmp_path):
    gates = [
        GateRow(
            stage="data_gate", name="kept_records", measured=9, threshold=10, passed=False, message="too few"
        ),
        GateRow(
            stage="data_gate", name="eval_records", measured=4, threshold=None, passed=True, message="held"
        ),
    ]
    text = printed(run_state(tmp_path, "blocked", gates))
    assert "BLOCKED — the data gate stopped the run before training" in text
    assert "✗ data_gate.kept_records: too few" in text
    assert "eval_records: held" not in text
    assert "recorded" in text and "FAIL" in text
    assert "time: 12m34s of 10m00s budget" in text


def test_summary_lists_the_model_and_card_only_when_they_exist(tmp_path):
    st = run_state(tmp_path, "approved", [])
    text = printed(st)
    assert "APPROVED — every gate passed" in text
    assert "model:" not in text and "card:" not in text
    (tmp_path / "training" / "model").mkdir(parents=True)
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "README.md").write_text("# card", encoding="utf-8")
    text = printed(st)
    assert f"model: {tmp_path / 'training' / 'model'}" in text
    assert f"card: {tmp_path / 'card' / 'README.md'}" in text
    assert "card json:" not in text


def test_an_unknown_verdict_is_printed_as_it_is(tmp_path):
    assert "weird" in printed(run_state(tmp_path, "weird", []))
