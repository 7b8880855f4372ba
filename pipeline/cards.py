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
    full = build_chain(
        st.run_dir,
        [("card", [p.relative_to(st.run_dir).as_posix() for p in (result.readme_path, result.json_path)])],
        previous=chain,
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
