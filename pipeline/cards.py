"""The card stage: gather every report, chain the digests, render the card, register the model."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from governance.components import Component
from governance.report import GovernanceReport
from model_cards.inputs import CardInputs
from pipeline.digests import Chain, build_chain
from pipeline.recording import redact
from pipeline.state import RunState
from training.report import TrainingReport

if TYPE_CHECKING:
    from pipeline.runner import Runner

DIGESTS_FILE = "digests.json"
_DESCRIPTION_LIMIT = 4900  # the registry's description column holds 5000 characters


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def pipeline_components() -> list[Component]:
    """Tools the spine itself runs, for the card's licence table."""
    return [
        Component(
            name="MLflow", kind="library", version=_version("mlflow"), license="Apache-2.0", source="PyPI"
        ),
        Component(
            name="pydantic", kind="library", version=_version("pydantic"), license="MIT", source="PyPI"
        ),
        Component(name="Typer", kind="library", version=_version("typer"), license="MIT", source="PyPI"),
    ]


def verdict_of(state: RunState) -> tuple[str, list[str]]:
    """Verdict so far from the recorded gates, with the failing gates' messages first."""
    failed = [g for g in state.gates if not g.passed]
    reasons = [f"{g.stage}.{g.name}: {g.message}" for g in failed]
    if any(g.stage == "data_gate" for g in failed):
        return "blocked", reasons
    if failed:
        return "not_approved", reasons
    needed = {"data_gate", "train", "quality", "bias", "deepfake"}
    if not needed <= set(state.completed):
        return "incomplete", [f"stage not run: {s}" for s in sorted(needed - set(state.completed))]
    return "approved", []


def chain_links(state: RunState) -> list[tuple[str, list[str]]]:
    """The links up to the audits, over the artifact paths present in the run folder."""
    root = state.run_dir
    candidates = [
        ("manifest", ["governance/manifest.parquet"]),
        ("governed_dataset", ["governance/governed.parquet"]),
        ("governance_report", ["reports/governance.json"]),
        ("training", ["reports/training.json", "training/model"]),
        ("audits", ["reports/quality.json", "reports/bias.json", "reports/deepfake.json"]),
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
    cfg = state.config
    comps = pipeline_components()
    return CardInputs(
        run_id=state.run_id,
        model_name=cfg["run"]["name"],
        created=created,
        verdict=verdict,
        verdict_reasons=reasons,
        gates=state.gates,
        governance=reports.get("governance"),
        training=reports.get("training"),
        audits=[reports[k] for k in ("quality", "bias", "deepfake") if k in reports],
        components=comps,
        config=redact(cfg),
        code_version=code_version,
        budget=cfg["run"]["budget"],
        digests={link.name: link.chained for link in chain.links},
        top_digest=chain.top,
        intended_use=cfg["governance"]["licenses"]["intended_use"],
    )


def build_and_record_card(runner: "Runner", stage_run: str) -> None:
    from model_cards.api import render_card
    from model_cards.publishing import card_files
    from pipeline.runner import load_reports, now_iso

    st = runner.state
    rec = runner.recorder
    reports = load_reports(st)
    verdict, reasons = verdict_of(st)
    chain = build_chain(st.run_dir, chain_links(st))
    # the code that ran (recorded at each attempt's start), not the code rendering the card now
    inputs = card_inputs(st, reports, chain, verdict, reasons, now_iso(), ", ".join(st.code_versions))
    card_dir = st.run_dir / "card"
    result = render_card(inputs, card_dir)
    # Every file of the card folder, not only README.md and card.json: publish and push copy them all,
    # and each must be the recorded bytes.
    card_rel = card_dir.relative_to(st.run_dir).as_posix()
    full = build_chain(
        st.run_dir, [("card", [f"{card_rel}/{f}" for f in card_files(card_dir)])], previous=chain
    )
    digests_path = st.run_dir / DIGESTS_FILE
    digests_path.write_text(full.model_dump_json(indent=2), encoding="utf-8")
    rec.artifact(st.run_id, card_dir, "card")
    rec.artifact(st.run_id, digests_path)
    rec.artifact(stage_run, result.readme_path)
    st.top_digest = chain.top
    # The card cannot hold its own digest, so the chain's last link is pinned by a tag as well: an
    # edited card with a recomputed digests.json would otherwise verify.
    rec.tags(
        st.run_id,
        {
            "pipeline.top_digest": chain.top,
            "pipeline.card_digest": full.top,
            "pipeline.card_verdict": verdict,
        },
    )
    training: TrainingReport | None = reports.get("training")  # type: ignore[assignment]
    if training is not None and (training.model_dir / "model_index.json").is_file():
        # The registry shows the card's summary (verdict, reasons, key facts); the full card is an artifact.
        text = result.summary or result.readme_path.read_text(encoding="utf-8")
        if len(text) > _DESCRIPTION_LIMIT:
            text = text[:_DESCRIPTION_LIMIT] + "\n\n… (truncated; the full card is the run's card/README.md)"
        text += f"\n\nFull model card: artifact `card/README.md` of run {st.run_id}."
        name = st.config["run"]["name"]
        if st.model_version is None:
            st.model_version = rec.register_model(name, st.run_id, "training/model", text)
        else:  # a rerun of the audits: same model version, new card and verdict
            rec.describe_version(name, st.model_version, text)
        if verdict == "approved":
            rec.set_alias(name, "approved", st.model_version)
        else:
            rec.drop_alias_if(name, "approved", st.model_version)
        rec.tags(st.run_id, {"pipeline.model_version": st.model_version})
        runner.console.print(
            f"  registered model {name} version {st.model_version}"
            + (" (alias approved)" if verdict == "approved" else " — NOT approved"),
            highlight=False,
        )
    governance: GovernanceReport | None = reports.get("governance")  # type: ignore[assignment]
    if governance is None:
        runner.console.print("  no governance report: the card says what did not run", highlight=False)
    st.save()


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
    import shutil

    from pipeline.digests import artifacts_digest
    from pipeline.verify import CARD_TAG, RecordError, chained, recorded_chain, recorder_for

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
    from pipeline.digests import file_sha256

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
    import json

    from model_cards.layout import CARD_JSON

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
