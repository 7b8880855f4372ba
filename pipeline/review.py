"""Reviewing runs: `pipeline runs` and `pipeline show`."""

import json
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.cards import card_paths
from pipeline.recording import Recorder, store_absent, tracking_uri
from pipeline.state import RunState
from pipeline.store import project_run_config, recorder_for
from pipeline.summary import fmt, gate_table, verdict_cell
from training.durations import format_duration

# metric -> the short label the `runs` table shows (the JSON keeps the full names)
_KEY_METRICS = {
    "quality.heldout_denoising_loss": "loss",
    "quality.fd_mobilenetv2_imagenet": "FD-mnv2",
    "bias.qos_adherence_difference": "QoS gap",
    "deepfake.replication_rate": "replication",
}


def ui_addresses(config: Path | None, base: str) -> list[str]:
    """The UI addresses of the project's experiment and of its latest pipeline run (none in a new project)."""
    runs = list_runs(config)
    if not runs:
        return []
    run_cfg = project_run_config(config)
    exp = Recorder(run_cfg).experiment_id
    latest = runs[0]["run_id"]
    return [
        f"experiment {run_cfg.experiment}: {base}/#/experiments/{exp}",
        f"latest run {latest}: {base}/#/experiments/{exp}/runs/{latest}",
    ]


def list_runs(config: Path | None) -> list[dict]:
    """One dict per pipeline run in the experiment, newest first."""
    run_cfg = project_run_config(config)
    if store_absent(tracking_uri(run_cfg)):
        return []  # a new project: no store yet, and reading one would create it
    client = Recorder(run_cfg).client
    exp = client.get_experiment_by_name(run_cfg.experiment)
    if exp is None:
        return []
    found = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`pipeline.kind` = 'run'",
        order_by=["attributes.start_time DESC"],
        max_results=500,
    )
    rows = []
    for r in found:
        t, m = r.data.tags, r.data.metrics
        rows.append(
            {
                "run_id": r.info.run_id,
                "name": r.info.run_name,
                "started": datetime.fromtimestamp(r.info.start_time / 1000).isoformat(timespec="seconds"),
                "status": r.info.status,
                "dataset": t.get("pipeline.dataset_source"),
                "dataset_digest": t.get("pipeline.dataset_digest"),
                "records": m.get("records.input"),
                "kept": m.get("records.keep"),
                "dropped": m.get("records.drop"),
                "quarantined": m.get("records.quarantine"),
                "budget": t.get("pipeline.budget"),
                "spent_s": m.get("run.spent_s"),
                "device_hours": m.get("train.device_hours"),
                "metrics": {k: m[k] for k in _KEY_METRICS if k in m},
                "verdict": t.get("pipeline.verdict"),
                "stage_verdicts": t.get("pipeline.stage_verdicts"),
                "exit_code": t.get("pipeline.exit_code"),
                "model_version": t.get("pipeline.model_version"),
            }
        )
    return rows


def short_ids(ids: list[str], minimum: int = 8) -> dict[str, str]:
    """The shortest prefix of each id, at least `minimum` characters, that no other id starts with."""
    out = {}
    for run_id in ids:
        n = minimum
        while n < len(run_id) and any(o != run_id and o.startswith(run_id[:n]) for o in ids):
            n += 1
        out[run_id] = run_id[:n]
    return out


def failed_gates(stage_verdicts: str | None) -> str:
    """`stage: gate, gate` per stage that failed, one per line, from the `pipeline.stage_verdicts` tag."""
    lines = []
    for part in (stage_verdicts or "").split():
        stage, _, verdict = part.partition("=")
        if verdict.startswith("fail"):
            lines.append(f"{stage}: {verdict[5:-1].replace(',', ', ')}" if "(" in verdict else stage)
    return "\n".join(lines) or "-"


def runs_table(rows: list[dict]) -> Table:
    """The runs as a table that fits 80 columns: short id, start, dataset, verdict, what failed.

    The ids are the shortest unique prefixes (`show`, `card`, `verify` and `--resume` accept them);
    counts, budget, compute and metrics are in `pipeline show` and `pipeline runs --json`.
    """
    table = Table(title="pipeline runs", show_lines=False)
    for col in ("run", "started", "dataset", "verdict", "failed gates"):
        table.add_column(col, no_wrap=col in ("run", "started", "verdict"), overflow="fold")
    short = short_ids([r["run_id"] for r in rows])
    for r in rows:
        verdict = r["verdict"] or "-"
        style = {"approved": "green", "not_approved": "red", "blocked": "red"}.get(verdict, "yellow")
        table.add_row(
            short[r["run_id"]],
            r["started"].replace("T", " ")[:16],
            r["dataset"] or "-",
            f"[{style}]{verdict}[/]",
            f"[red]{failed_gates(r['stage_verdicts'])}[/]",
        )
    return table


def describe_run(state: RunState) -> dict:
    """Everything `pipeline show` prints, as plain data."""
    client = recorder_for(state).client
    run = client.get_run(state.run_id)
    stages = []
    for stage in state.started:
        stages.append(
            {
                "stage": stage,
                "completed": stage in state.completed,
                "mlflow_run_id": state.stage_runs.get(stage),
                "gates": [g.model_dump() for g in state.gates if g.stage == stage],
            }
        )
    rd = state.run_dir
    paths = {
        "run_dir": str(rd),
        "manifest": str(rd / "governance" / "manifest.parquet"),
        "governed": str(rd / "governance" / "governed.parquet"),
        "model_dir": str(rd / "training" / "model"),
        "reports": str(rd / "reports"),
        **card_paths(rd),
    }
    paths = {k: v for k, v in paths.items() if Path(v).exists()}
    return {
        "run_id": state.run_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "verdict": state.verdict,
        "exit_code": state.exit_code,
        "budget": state.config["run"]["budget"],
        "budget_s": state.budget_s,
        "spent_s": round(state.spent_s, 1),
        "attempts": state.attempts,
        "tracking_uri": state.tracking_uri,
        "experiment": state.experiment,
        "artifact_uri": run.info.artifact_uri,
        "model_version": state.model_version,
        "top_digest": state.top_digest,
        "stages": stages,
        "metrics": dict(sorted(run.data.metrics.items())),
        "tags": {k: v for k, v in run.data.tags.items() if k.startswith("pipeline.")},
        "paths": paths,
    }


def print_run(console: Console, info: dict) -> None:
    console.print(
        f"[bold]{info['name']}[/] run_id: {info['run_id']}  verdict: [bold]{info['verdict']}[/] "
        f"(exit {info['exit_code']})",
        highlight=False,
    )
    console.print(
        f"budget {info['budget']}, used {format_duration(info['spent_s'])}, attempts {info['attempts']}",
        highlight=False,
    )
    table = gate_table()
    messages = []
    for s in info["stages"]:
        if not s["gates"]:
            table.add_row(s["stage"], "-", "-", "-", "done" if s["completed"] else "[yellow]unfinished[/]")
        for g in s["gates"]:
            table.add_row(
                s["stage"],
                g["name"],
                fmt(g["measured"]),
                fmt(g["threshold"]),
                verdict_cell(g["passed"], g["measured"], g["threshold"]),
            )
            messages.append(f"{'✗' if not g['passed'] else '·'} {s['stage']}.{g['name']}: {g['message']}")
    console.print(table)
    # Messages below the table: a narrow terminal would otherwise fold them into a column of words.
    for line in messages:
        console.print(line, highlight=False, markup=False)
    keys = [k for k in info["metrics"] if "." in k and not k.startswith(("reason.", "gate."))]
    if keys:
        console.print("metrics: " + ", ".join(f"{k}={info['metrics'][k]:.4g}" for k in keys), highlight=False)
    for name, path in info["paths"].items():
        console.print(f"{name}: {path}", highlight=False)
    console.print(json.dumps({"artifact_uri": info["artifact_uri"]}), highlight=False)
