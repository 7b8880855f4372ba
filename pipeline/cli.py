"""`pipeline`: init, run, runs, show, card, verify, provenance, ui (README.md, "Command line")."""

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.errors import UsageError
from pipeline.stages import RERUNNABLE, Stage, resolve_until
from pipeline.store import DEFAULT_CONFIG, find_state, project_run_config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Auditable, gated, time-budgeted text-to-image training.",
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail_usage(message: str) -> None:
    # escaped: a message naming `pip install 'pkg[extra]'` must not lose its brackets to Rich markup
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def _dataset_error_types() -> tuple[type[BaseException], ...]:
    try:
        from governance.errors import DatasetError
    except ImportError:  # governance defines it; keep the CLI usable while it is absent
        return ()
    return (DatasetError,)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="where to write the config")] = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented pipeline.yaml with every default."""
    from pipeline.config_template import default_config_yaml

    if path.exists() and not force:
        _fail_usage(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_config_yaml(), encoding="utf-8")
    console.print(f"wrote {path} — edit it, then: pipeline run -c {path}", highlight=False)


def _load(config: Path | None, sets: list[str], data: Path | None):
    from pipeline.config import load_config

    if config is None and DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
        console.print(f"config: {config}", highlight=False)
    sets = list(sets)
    if data is not None:
        if not data.is_dir():
            raise UsageError(
                f"--data {data}: no such folder; give an imagefolder with metadata.jsonl or metadata.csv, "
                "img2dataset's .tar shards, Parquet files or a save_to_disk folder"
            )
        from governance.sources.detect import detect_layout

        layout = detect_layout(data.resolve())
        console.print(
            f"data: {data} holds {layout.evidence}: governance.data.source={layout.source}", highlight=False
        )
        sets = [f"governance.data.source={layout.source}", f"governance.data.path={data.resolve()}", *sets]
    return load_config(config, sets)


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("-c", "--config", help="pipeline.yaml to use")] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="a dataset folder to govern and train on (its layout is detected)"),
    ] = None,
    sets: Annotated[list[str], typer.Option("--set", help="override a config value: KEY=VALUE")] = [],  # noqa: B006
    until: Annotated[str | None, typer.Option("--until", help="last stage or group to run")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="continue a killed or stopped run")] = None,
    rerun_from: Annotated[
        str | None,
        typer.Option("--from", help=f"with --resume: rerun from this audit stage ({', '.join(RERUNNABLE)})"),
    ] = None,
) -> None:
    """Govern the data, train within the budget, audit, record in MLflow and write the model card."""
    runner = None
    try:
        last = resolve_until(until)
        runner = _make_runner(config, sets, data, resume, rerun_from)
        outcome = runner.run(last)
    except UsageError as exc:
        _fail_usage(str(exc))
    except _dataset_error_types() as exc:
        if runner is not None:
            runner.recorder.finish("FAILED")
        _fail_usage(str(exc))
    except KeyboardInterrupt:
        if runner is not None:
            runner.recorder.finish("KILLED")
            err.print(f"interrupted; continue with: pipeline run --resume {runner.state.run_id}")
        raise typer.Exit(130) from None
    except Exception as exc:
        if runner is not None:
            runner.state.save()
            runner.recorder.finish("FAILED")
        err.print(traceback.format_exc(), highlight=False)
        err.print(f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc}", highlight=False)
        if runner is not None:
            err.print(f"the run is recorded; retry with: pipeline run --resume {runner.state.run_id}")
        raise typer.Exit(1) from None
    from pipeline.summary import print_summary

    print_summary(console, outcome.state)
    raise typer.Exit(outcome.exit_code)


def _make_runner(
    config: Path | None, sets: list[str], data: Path | None, resume: str | None, rerun_from: str | None = None
):
    from pipeline.runner import Runner

    if resume is None:
        if rerun_from is not None:
            raise UsageError("--from reruns stages of an existing run; give it with --resume RUN_ID")
        cfg = _load(config, sets, data)
        _preflight(cfg)
        return Runner(cfg, console)
    if config is not None or data is not None:
        raise UsageError("--resume continues a run with its recorded config; drop -c and --data")
    if sets and rerun_from is None:
        raise UsageError("--set with --resume needs --from STAGE (new audit thresholds rerun the audits)")
    if rerun_from is not None and rerun_from not in RERUNNABLE:
        raise UsageError(
            f"--from {rerun_from!r}: only {', '.join(RERUNNABLE)} can be rerun without retraining"
        )
    bad = [s for s in sets if not s.split("=", 1)[0].startswith(("audits.", "card."))]
    if bad:
        raise UsageError(f"--set {bad[0]!r}: a rerun may change only audits.* and card.* settings")
    from pipeline.config import build_config, config_to_dict

    state = find_state(resume)
    cfg = build_config(state.config, sets)
    if sets:
        state.config = config_to_dict(cfg)
    runner = Runner(cfg, console, state=state)
    if rerun_from is not None:
        runner.forget_from(Stage(rerun_from))
        runner.recorder.tags(
            state.run_id, {f"pipeline.rerun.{state.attempts}": f"from {rerun_from}: {' '.join(sets)}"}
        )
    return runner


def _preflight(cfg) -> None:
    """Fail before anything is recorded when the dataset as a whole cannot be read, or the engine cannot run."""
    from governance.engines import check_engine
    from governance.sources import load_source

    check_engine(cfg.governance)
    load_source(cfg.governance.data)


@app.command()
def runs(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    config: Annotated[Path | None, typer.Option("-c", "--config")] = None,
) -> None:
    """Runs with their gate verdicts, newest first."""
    from pipeline.review import list_runs, runs_table

    try:
        rows = list_runs(config)
    except UsageError as exc:
        _fail_usage(str(exc))
    if as_json:
        console.print_json(json.dumps(rows))
    else:
        console.print(runs_table(rows))


@app.command()
def show(run_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One run in full: stages, verdicts, key metrics, local artifact paths."""
    from pipeline.review import describe_run

    try:
        info = describe_run(find_state(run_id))
    except UsageError as exc:
        _fail_usage(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    from pipeline.review import print_run

    print_run(console, info)


@app.command()
def card(
    run_id: str,
    publish: Annotated[
        Path | None, typer.Option("--publish", help="copy the card to DIR/<model-name>/")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace a different card already published there")
    ] = False,
    push: Annotated[
        str | None,
        typer.Option("--push", help="also push the card to this Hugging Face Hub repo (needs HF_TOKEN)"),
    ] = None,
) -> None:
    """Show where a run's model card is; publish it to a folder and, optionally, to the Hub.

    Only the card the run recorded is published or pushed: a card edited since is refused (exit 1).
    """
    from pipeline.cards import card_paths

    try:
        state = find_state(run_id)
    except UsageError as exc:
        _fail_usage(str(exc))
    paths = card_paths(state.run_dir)
    if "card" not in paths:
        _fail_usage(f"run {run_id} has no card yet; finish it with: pipeline run --resume {run_id}")
    for name, path in paths.items():
        console.print(f"{name.replace('_', ' ')}: {path}", highlight=False)
    if publish is None and push is None:
        return
    import tempfile

    from pipeline.cards import CardRecordError, stage_recorded_card

    with tempfile.TemporaryDirectory(prefix="card-") as tmp:
        try:
            # what is published or pushed is this checked copy, never the run folder itself
            recorded = stage_recorded_card(state, Path(tmp))
        except CardRecordError as exc:
            err.print(f"[bold red]refused:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        if publish is not None:
            _publish(recorded, publish, state.config["run"]["name"], force)
        if push is not None:
            _push(recorded, push)


def _publish(card_dir: Path, dest: Path, model_name: str, force: bool) -> None:
    from model_cards.api import publish as publish_card
    from model_cards.publishing import CardPublishError

    try:
        published = publish_card(card_dir, dest, model_name, force=force)
    except CardPublishError as exc:
        _fail_usage(str(exc))
    console.print(f"published: {published}", highlight=False)


def _push(card_dir: Path, repo: str) -> None:
    from model_cards.hub import HubPushError, push_to_hub

    try:
        url = push_to_hub(card_dir, repo)
    except HubPushError as exc:
        err.print(f"[bold red]push failed:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"pushed: {url}", highlight=False)


@app.command()
def verify(run_id: str) -> None:
    """Check the stored MLflow artifacts and the local run folder against the run's recorded digests."""
    from pipeline.verify import verify_run

    try:
        state = find_state(run_id)
    except UsageError as exc:
        _fail_usage(str(exc))
    ok, message = verify_run(state)
    (console if ok else err).print(message, highlight=False)
    raise typer.Exit(0 if ok else 1)


@app.command()
def provenance(
    images: Annotated[list[Path], typer.Argument(help="image files to check")],
    run_id: Annotated[
        list[str], typer.Option("--run-id", help="a run whose watermark to look for (repeatable)")
    ] = [],  # noqa: B006 - typer reads the default; it is never mutated
    trust_anchors: Annotated[
        Path | None, typer.Option("--trust-anchors", help="PEM CA certificates that make a signer Trusted")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Per file: C2PA state, claimed model and run, watermark, IPTC fields; exit 0 when all are ours."""
    from audits.provenance_check import check_output
    from governance.content_credentials import read_trust_anchors

    try:
        anchors = read_trust_anchors(trust_anchors)
    except (FileNotFoundError, ValueError) as exc:
        _fail_usage(f"--trust-anchors: {exc}")
    reports = [check_output(path, list(run_id), anchors) for path in images]
    if as_json:
        console.print_json(json.dumps([r.model_dump() for r in reports]))
    for r in [] if as_json else reports:
        failures = f" ({', '.join(r.c2pa_failures)})" if r.c2pa_failures else ""
        console.print(
            f"{r.path}: {'ours' if r.recognised else 'NOT RECOGNISED'} — {r.reason}\n"
            f"  C2PA: {r.c2pa_state}{failures}; signer {r.signer}; model {r.claimed_model}; run {r.claimed_run}"
            f"; training/mining {sorted(set(r.training_mining.values())) or '-'}\n"
            f"  watermark {r.watermark_method or '-'}: {r.watermark_hex} (run {r.watermark_run}); IPTC: {r.iptc}",
            highlight=False,
        )
    raise typer.Exit(0 if all(r.recognised for r in reports) else 1)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
    config: Annotated[Path | None, typer.Option("-c", "--config")] = None,
) -> None:
    """Start the MLflow UI on 127.0.0.1 for this project's tracking store."""
    import os

    from pipeline.recording import telemetry_off, tracking_uri
    from pipeline.review import ui_addresses

    try:
        run_cfg = project_run_config(config)
    except UsageError as exc:
        _fail_usage(str(exc))
    uri, base = tracking_uri(run_cfg), f"http://127.0.0.1:{port}"
    telemetry_off()  # the server inherits it: its UI sends no usage data either
    off = "true" in (os.environ["MLFLOW_DISABLE_TELEMETRY"].lower(), os.environ["DO_NOT_TRACK"].lower())
    telemetry = "off" if off else "on, as MLFLOW_DISABLE_TELEMETRY and DO_NOT_TRACK ask"
    console.print(f"MLflow UI for {uri} on {base} (MLflow telemetry {telemetry})", highlight=False)
    for line in ui_addresses(config, base):
        console.print(f"  {line}", highlight=False)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    args = [str(mlflow_bin), "server", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    os.execv(args[0], args)


def main() -> None:  # pragma: no cover - console entry when run as a module
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
