"""`pipeline runs` at 80 columns, short run ids, and the prefixes `show`/`card`/`verify`/`--resume` accept."""

import pytest
from rich.console import Console

from pipeline.errors import UsageError
from pipeline.review import failed_gates, runs_table, short_ids
from pipeline.state import RunState
from pipeline.store import find_state, resolve_run_id

A = "63ccd7579d6041a690c406516d471bbe"
B = "63ccd757ffff41a690c406516d471bbe"  # shares A's first 8 characters
C = "100758c2267847c6bd5c556c9af9863d"


def _row(run_id: str, verdict: str, stage_verdicts: str) -> dict:
    return {
        "run_id": run_id,
        "started": "2026-12-02T17:57:51",
        "dataset": "emoji",
        "verdict": verdict,
        "stage_verdicts": stage_verdicts,
    }


def test_short_ids_are_the_shortest_unique_prefixes_of_at_least_eight():
    assert short_ids([A, B, C]) == {A: "63ccd7579", B: "63ccd757f", C: "100758c2"}
    assert short_ids([C]) == {C: "100758c2"}


def test_failed_gates_names_only_what_failed():
    verdicts = "data_gate=pass train=pass quality=pass bias=fail(representation_disparity,qos) deepfake=pass"
    assert failed_gates(verdicts) == "bias: representation_disparity, qos"
    assert failed_gates("data_gate=pass quality=pass") == "-" and failed_gates(None) == "-"


def test_the_runs_table_says_what_decides_in_80_columns():
    rows = [
        _row(A, "not_approved", "data_gate=pass quality=fail(alignment_generated_top5_lift) bias=pass"),
        _row(B, "approved", "data_gate=pass quality=pass bias=pass"),
        _row(C, "blocked", "data_gate=fail(kept_records,license_conflicts)"),
    ]
    console = Console(width=80, record=True, color_system=None)
    console.print(runs_table(rows))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for expected in ("63ccd7579", "63ccd757f", "100758c2", "2026-12-02 17:57", "not_approved", "blocked"):
        assert expected in text, text
    assert "alignment_generated_top5_lift" in text.replace("\n", "").replace("│", "").replace(" ", "")


def test_a_unique_prefix_finds_the_run_and_an_ambiguous_one_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pipeline.yaml, no store: the local runs/ folders answer
    for run_id in (A, B, C):
        (tmp_path / "runs" / run_id).mkdir(parents=True)
        RunState(
            run_id=run_id,
            run_dir=tmp_path / "runs" / run_id,
            experiment="t2i-pipeline",
            tracking_uri="sqlite:///mlflow.db",
            config={"run": {}},
            budget_s=60.0,
        ).save()
    assert resolve_run_id("1007") == C and find_state("100758c2").run_id == C
    assert resolve_run_id("63ccd7579") == A
    with pytest.raises(UsageError, match=r"ambiguous.*63ccd7579d6041a690c406516d471bbe"):
        find_state("63ccd757")
    with pytest.raises(UsageError, match="no run 'ffff'"):
        find_state("ffff")
    assert not (tmp_path / "mlflow.db").exists()  # looking up a run never creates a store
