"""The summary printed at the end of `pipeline run`."""

from rich.console import Console
from rich.table import Table

from model_cards.formatting import verdict_word
from pipeline.cards import card_paths
from pipeline.state import RunState
from training.durations import format_duration

_VERDICT_TEXT = {
    "approved": "[bold green]APPROVED[/] — every gate passed",
    "not_approved": "[bold red]NOT APPROVED[/] — a model gate failed or a required check could not be measured; "
    "the model is kept and registered, not approved",
    "blocked": "[bold red]BLOCKED[/] — the data gate stopped the run before training",
    "incomplete": "[yellow]INCOMPLETE[/] — stopped early (--until); resume to finish",
}


def fmt(value: object) -> str:
    """Numbers to 4 significant digits, whole numbers without a decimal point."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else f"{value:.4g}"
    return str(value)


_VERDICT_STYLE = {"FAIL": "bold red", "NOT MEASURED": "bold red", "not measured": "yellow", "pass": "green"}


def verdict_cell(passed: bool, measured: object, threshold: object) -> str:
    """The card's verdict word for a gate row (model_cards decides it), coloured for the terminal."""
    word = verdict_word(passed, threshold, measured)
    style = _VERDICT_STYLE.get(word)
    return f"[{style}]{word}[/]" if style else word


def gate_table(*extra: str) -> Table:
    """The gates table; long gate names wrap instead of being cut."""
    table = Table("stage")
    table.add_column("gate", overflow="fold", min_width=12)
    for name in ("measured", "threshold", "verdict", *extra):
        table.add_column(name, overflow="fold")
    return table


def print_summary(console: Console, st: RunState) -> None:
    console.rule("[bold]summary")
    console.print(f"run_id: {st.run_id}", highlight=False)
    console.print(_VERDICT_TEXT.get(st.verdict, st.verdict))
    table = gate_table()
    for g in st.gates:
        table.add_row(
            g.stage,
            g.name,
            fmt(g.measured),
            fmt(g.threshold),
            verdict_cell(g.passed, g.measured, g.threshold),
        )
    console.print(table)
    for g in st.gates:
        if not g.passed:
            console.print(f"[red]✗ {g.stage}.{g.name}[/]: {g.message}", highlight=False)
    console.print(
        f"time: {format_duration(st.spent_s)} of {format_duration(st.budget_s)} budget", highlight=False
    )
    model = st.run_dir / "training" / "model"
    if model.is_dir():
        console.print(f"model: {model}", highlight=False)
    for name, path in card_paths(st.run_dir).items():
        console.print(f"{name.replace('_', ' ')}: {path}", highlight=False)
    if st.model_version:
        console.print(f"registered model version: {st.model_version}", highlight=False)
    console.print(
        f"MLflow: {st.tracking_uri} — browse with `pipeline ui`, details with `pipeline show {st.run_id}`",
        highlight=False,
    )
