"""The card stage: gather every report, chain the digests, render the card, register the model."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from governance.components import Component, library
from model_cards.api import render_card
from model_cards.inputs import CardInputs
from model_cards.layout import CARD_JSON
from model_cards.publishing import card_files
from pipeline.digests import DIGESTS_FILE, Chain, artifacts_digest, build_chain, chained, file_sha256
from pipeline.recording import Recorder, redact
from pipeline.stages import AUDIT_STAGES, GATED_STAGES, Stage
from pipeline.state import RunState
from pipeline.store import load_reports, recorder_for
from pipeline.verify import CARD_TAG, TOP_TAG, RecordError, recorded_chain
from training.report import TrainingReport

_DESCRIPTION_LIMIT = 4900  # the registry's description column holds 5000 characters


def pipeline_components() -> list[Component]:
    """Tools the spine itself runs, for the card's licence table (licences as their wheels state them)."""
    return [library("mlflow", name="MLflow"), library("pydantic"), library("typer", name="Typer")]


def verdict_of(state: RunState) -> tuple[str, list[str]]:
    """Verdict so far from the recorded gates, with the failing gates' messages first."""
    failed = [g for g in state.gates if not g.passed]
    reasons = [f"{g.stage}.{g.name}: {g.message}" for g in failed]
    if any(g.stage == Stage.DATA_GATE for g in failed):
        return "blocked", reasons
    if failed:
        return "not_approved", reasons
    missing = [s for s in GATED_STAGES if s not in state.completed]
    if missing:
        return "incomplete", [f"stage not run: {s}" for s in sorted(missing)]
    return "approved", []


def chain_links(state: RunState) -> list[tuple[str, list[str]]]:
    """The links up to the audits, over the artifact paths present in the run folder."""
    root = state.run_dir
    candidates = [
        ("manifest", ["governance/manifest.parquet"]),
        ("governed_dataset", ["governance/governed.parquet"]),
        ("governance_report", ["reports/governance.json"]),
        ("training", ["reports/training.json", "training/model"]),
        ("audits", [f"reports/{stage}.json" for stage in AUDIT_STAGES]),
    ]
    links = []
    for name, paths in candidates:
        present = [p for p in paths if (root / p).exists()]
        if present:
            links.append((name, present))
    return links


def card_inputs(
    state: RunState,
    reports: dict,
    chain: Chain,
    verdict: str,
    reasons: list[str],
    created: str,
    code_version: str,
) -> CardInputs:
    """Everything the card is rendered from: the run's reports, gates, chain and card settings."""
    cfg = state.config
    card = cfg.get("card", {})  # the card's own settings override the card's defaults
    return CardInputs(
        run_id=state.run_id,
        model_name=cfg["run"]["name"],
        created=created,
        verdict=verdict,
        verdict_reasons=reasons,
        gates=state.gates,
        governance=reports.get("governance"),
        training=reports.get("training"),
        audits=[reports[s] for s in AUDIT_STAGES if s in reports],
        audit_order=[s.value for s in AUDIT_STAGES],
        components=pipeline_components(),
        config=redact(cfg),
        code_version=code_version,
        budget=cfg["run"]["budget"],
        digests={link.name: link.chained for link in chain.links},
        top_digest=chain.top,
        intended_use=cfg["governance"]["licenses"]["intended_use"],
        **{k: card[k] for k in ("intended_uses", "out_of_scope_uses", "limitations") if k in card},
    )


def build_and_record_card(state: RunState, rec: Recorder, console: Console, stage_run: str) -> None:
    """The card stage: render the card from the run's reports, record it and its digests, register."""
    reports = load_reports(state)
    verdict, reasons = verdict_of(state)
    chain = build_chain(state.run_dir, chain_links(state))
    created = datetime.now(UTC).isoformat(timespec="seconds")
    # the code that ran (recorded at each attempt's start), not the code rendering the card now
    inputs = card_inputs(state, reports, chain, verdict, reasons, created, ", ".join(state.code_versions))
    card_dir = state.run_dir / "card"
    result = render_card(inputs, card_dir)
    _record_card(state, rec, chain, card_dir, verdict)
    rec.artifact(stage_run, result.readme_path)
    state.top_digest = chain.top
    training: TrainingReport | None = reports.get("training")  # type: ignore[assignment]
    if training is not None and (training.model_dir / "model_index.json").is_file():
        # The registry shows the card's summary (verdict, reasons, key facts); the full card is an artifact.
        text = result.summary or result.readme_path.read_text(encoding="utf-8")
        _register_model(state, rec, console, _registry_description(text, state.run_id), verdict)
    if reports.get("governance") is None:
        console.print("  no governance report: the card says what did not run", highlight=False)
    state.save()


def _record_card(state: RunState, rec: Recorder, chain: Chain, card_dir: Path, verdict: str) -> Chain:
    """Digest every card file onto the chain, write digests.json, log both and pin them by tags."""
    # Every file of the card folder, not only README.md and card.json: publish and push copy them all,
    # and each must be the recorded bytes.
    card_rel = card_dir.relative_to(state.run_dir).as_posix()
    full = build_chain(
        state.run_dir, [("card", [f"{card_rel}/{f}" for f in card_files(card_dir)])], previous=chain
    )
    digests_path = state.run_dir / DIGESTS_FILE
    digests_path.write_text(full.model_dump_json(indent=2), encoding="utf-8")
    rec.artifact(state.run_id, card_dir, "card")
    rec.artifact(state.run_id, digests_path)
    # The card cannot hold its own digest, so the chain's last link is pinned by a tag as well: an
    # edited card with a recomputed digests.json would otherwise verify.
    rec.tags(
        state.run_id,
        {TOP_TAG: chain.top, CARD_TAG: full.top, "pipeline.card_verdict": verdict},
    )
    return full


def _registry_description(text: str, run_id: str) -> str:
    if len(text) > _DESCRIPTION_LIMIT:
        text = text[:_DESCRIPTION_LIMIT] + "\n\n… (truncated; the full card is the run's card/README.md)"
    return text + f"\n\nFull model card: artifact `card/README.md` of run {run_id}."


def _register_model(state: RunState, rec: Recorder, console: Console, text: str, verdict: str) -> None:
    """Register the model once per run (a rerun describes the same version again); alias approved ones."""
    name = state.config["run"]["name"]
    if state.model_version is None:
        state.model_version = rec.register_model(name, state.run_id, "training/model", text)
    else:  # a rerun of the audits: same model version, new card and verdict
        rec.describe_version(name, state.model_version, text)
    if verdict == "approved":
        rec.set_alias(name, "approved", state.model_version)
    else:
        rec.drop_alias_if(name, "approved", state.model_version)
    rec.tags(state.run_id, {"pipeline.model_version": state.model_version})
    console.print(
        f"  registered model {name} version {state.model_version}"
        + (" (alias approved)" if verdict == "approved" else " — NOT approved"),
        highlight=False,
    )


def card_paths(run_dir: Path) -> dict[str, str]:
    card = run_dir / "card"
    return {
        k: str(card / f)
        for k, f in (("card", "README.md"), ("card_json", "card.json"), ("card_html", "card.html"))
        if (card / f).exists()
    }


class CardRecordError(Exception):
    """The card cannot be published: its bytes are not the ones the run recorded (exit code 1)."""


def stage_recorded_card(state: RunState, into: Path) -> Path:
    """Copy the run's card folder into `into`/card and check the copy against the recorded card digest.

    The copy, not the run folder, is what gets published or pushed, so what leaves is exactly the
    bytes that were checked. Raises CardRecordError naming the file that differs from the record.
    """
    rec = recorder_for(state)
    try:
        chain, tags = recorded_chain(state, rec, into / "record")
    except RecordError as exc:
        raise CardRecordError(f"{exc}; the card was not published") from None
    except Exception as exc:  # MLflow unreachable: without the record nothing can be checked
        raise CardRecordError(
            f"cannot read run {state.run_id}'s recorded card digest from {rec.uri} "
            f"({type(exc).__name__}: {exc}); the card was not published"
        ) from None
    link = chain.links[-1]
    previous = chain.links[-2].chained if len(chain.links) > 1 else ""
    staged = into / "staged"
    for rel in link.artifacts:
        source = state.run_dir / rel
        if not source.is_file():
            raise CardRecordError(f"{source} is missing; the card was not published")
        (staged / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staged / rel)
    if chained(previous, artifacts_digest(staged, link.artifacts)) != tags[CARD_TAG]:
        differs = _differing_card_files(state, rec, link.artifacts, staged, into / "stored")
        raise CardRecordError(
            f"{', '.join(differs)} in {state.run_dir} differs from the card run {state.run_id} recorded "
            f"(its {CARD_TAG}); the card was not published. `pipeline verify {state.run_id}` names every "
            f"changed copy; to publish, restore the recorded card or render it again with: "
            f"pipeline run --resume {state.run_id} --from card"
        )
    card = staged / link.artifacts[0].split("/", 1)[0]
    _check_covered(card, link.artifacts, state.run_id)
    return card


def _differing_card_files(
    state: RunState, rec, artifacts: list[str], staged: Path, stored: Path
) -> list[str]:
    """The staged card files whose bytes differ from the stored copy (all of them if it is unreadable)."""
    out = []
    for rel in artifacts:
        try:
            recorded = file_sha256(rec.download(state.run_id, rel, stored / Path(rel).parent))
        except Exception:
            return list(artifacts)
        if recorded != file_sha256(staged / rel):
            out.append(rel)
    return out or list(artifacts)


def _check_covered(card: Path, artifacts: list[str], run_id: str) -> None:
    # A card recorded before every card file was digested lists files the record does not cover.
    prefix = card.name + "/"
    try:
        listed = json.loads((card / CARD_JSON).read_text(encoding="utf-8"))["derived"]["card_files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CardRecordError(
            f"the recorded {CARD_JSON} lists no card files ({type(exc).__name__}: {exc}); render the card "
            f"again with: pipeline run --resume {run_id} --from card"
        ) from None
    uncovered = [f for f in listed if prefix + f not in artifacts]
    if uncovered:
        raise CardRecordError(
            f"{', '.join(uncovered)}: not covered by the run's recorded card digest (recorded before every "
            f"card file was digested), so it cannot be checked; render the card again with: "
            f"pipeline run --resume {run_id} --from card"
        )
