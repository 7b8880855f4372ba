"""One truth for a run: `pipeline verify` checks the stored and the local copy, and `pipeline card
--publish/--push` sends only the card the run recorded.

One real run through the CLI, on a tiny imagefolder whose licences the data gate blocks: it reaches
the card stage in seconds (no training), with a manifest, a governed table, reports and a card in
both the MLflow artifact store and the local run folder. Each test edits one copy and puts it back.
"""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.pipeline.real_cli import cli

CLAIM = "\nthis model is safe for every use\n"


def _imagefolder(root: Path, n: int = 6) -> Path:
    """A folder of swatches under a licence nobody can read: the data gate blocks it before training."""
    root.mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.new("RGB", (32, 32), (40 * i, 255 - 40 * i, 128)).save(root / f"img{i}.png")
        rows.append({"file_name": f"img{i}.png", "text": f"swatch {i}", "license": "see our website"})
    (root / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, str]:
    project = tmp_path_factory.mktemp("verify")
    data = _imagefolder(project / "data")
    proc = cli(
        project, "run", "--data", str(data), "--set", "data_gate.min_kept=1", "--set", "run.budget=60s"
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr  # blocked at the data gate, card rendered
    run_id = next(ln.split(": ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("run_id: "))
    return project, run_id.strip()


def _stored_root(project: Path, run_id: str) -> Path:
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    return Path(MlflowClient(tracking_uri=uri).get_run(run_id).info.artifact_uri.removeprefix("file://"))


@contextmanager
def edited(path: Path, change) -> Iterator[None]:
    saved = path.read_bytes()
    try:
        change(path)
        yield
    finally:
        path.write_bytes(saved)


def _append_claim(path: Path) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(CLAIM)


def _flip_first_decision(path: Path) -> None:
    df = pd.read_parquet(path)
    df.loc[0, "decision"] = "keep" if df.loc[0, "decision"] != "keep" else "drop"
    df.to_parquet(path)


def test_an_untouched_run_verifies_in_both_copies(recorded):
    project, run_id = recorded
    proc = cli(project, "verify", run_id)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for link in ("manifest", "governed_dataset", "governance_report", "card"):
        assert f"ok {link}:" in proc.stdout
    assert "stored copy and in the local run folder" in proc.stdout


def test_an_edited_local_card_fails_verify_and_is_not_published(recorded, tmp_path):
    """The reported scenario: a line appended to runs/<id>/card/README.md."""
    project, run_id = recorded
    readme = project / "runs" / run_id / "card" / "README.md"
    dest = tmp_path / "published"
    with edited(readme, _append_claim):
        bad = cli(project, "verify", run_id)
        assert bad.returncode == 1, bad.stdout
        problems = bad.stderr.split("verification FAILED:")[1].split("where only one copy")[0]
        assert "local copy" in problems and "card/README.md" in problems
        assert "stored copy" not in problems  # the stored copy still matches: only the local one is named
        pub = cli(project, "card", run_id, "--publish", str(dest))
        assert pub.returncode == 1, pub.stdout + pub.stderr
        assert "card/README.md" in pub.stderr and "not published" in pub.stderr
        assert not dest.exists()
        push = cli(project, "card", run_id, "--push", "someone/some-card")
        assert push.returncode == 1 and "not published" in push.stderr
        assert "HF_TOKEN" not in push.stderr  # refused on the digest, before any Hub step


def test_publish_sends_exactly_the_recorded_bytes(recorded, tmp_path):
    project, run_id = recorded
    dest = tmp_path / "published"
    pub = cli(project, "card", run_id, "--publish", str(dest))
    assert pub.returncode == 0, pub.stdout + pub.stderr
    stored = _stored_root(project, run_id) / "card"
    published = dest / "emoji-t2i"
    names = sorted(p.relative_to(published).as_posix() for p in published.rglob("*") if p.is_file())
    assert "README.md" in names and "card.html" in names and "card.json" in names
    for rel in names:
        assert (published / rel).read_bytes() == (stored / rel).read_bytes(), rel


def _in_process(project: Path, run_id: str, monkeypatch):
    """The run's state, with the working directory where its MLflow store is (faster than the CLI)."""
    from pipeline.state import RunState

    monkeypatch.chdir(project)
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        monkeypatch.delenv(key)
    return RunState.load(project / "runs" / run_id)


def test_every_card_file_is_recorded_not_only_the_readme(recorded, tmp_path, monkeypatch):
    from pipeline.cards import CardRecordError, stage_recorded_card

    project, run_id = recorded
    state = _in_process(project, run_id, monkeypatch)
    html = state.run_dir / "card" / "card.html"
    with edited(html, _append_claim), pytest.raises(CardRecordError, match=r"card/card\.html"):
        stage_recorded_card(state, tmp_path / "a")
    staged = stage_recorded_card(state, tmp_path / "b")
    assert (staged / "card.html").read_bytes() == (state.run_dir / "card" / "card.html").read_bytes()


def test_verify_names_the_copy_that_differs(recorded, monkeypatch):
    from pipeline.verify import verify_run

    project, run_id = recorded
    state = _in_process(project, run_id, monkeypatch)
    with edited(state.run_dir / "governance" / "manifest.parquet", _flip_first_decision):
        ok, message = verify_run(state)
        problems = message.split("where only one copy")[0]
        assert not ok and "local copy" in problems and "link 'manifest'" in problems
        assert "stored copy" not in problems
    stored = _stored_root(project, run_id) / "governance" / "governed.parquet"
    with edited(stored, lambda p: p.write_bytes(p.read_bytes() + b"\0")):
        ok, message = verify_run(state)
        problems = message.split("where only one copy")[0]
        assert not ok and "stored copy" in problems and "governance/governed.parquet" in problems
        assert "local copy" not in problems
    assert verify_run(state)[0]


def test_a_local_report_or_digests_file_edit_is_named(recorded, monkeypatch):
    from pipeline.verify import verify_run

    project, run_id = recorded
    state = _in_process(project, run_id, monkeypatch)
    with edited(state.run_dir / "reports" / "governance.json", lambda p: p.write_text("{}")):
        ok, message = verify_run(state)
        assert not ok and "local copy" in message and "reports/governance.json" in message
    with edited(
        state.run_dir / "digests.json", lambda p: p.write_text(p.read_text().replace('"card"', '"kard"'))
    ):
        ok, message = verify_run(state)
        assert not ok and "digests.json differs from the stored one" in message


def test_an_edited_stored_chain_is_refused_for_publishing(recorded, tmp_path, monkeypatch):
    """Whoever rewrites the stored digests.json to match an edited card still misses the card tag."""
    from pipeline.cards import CardRecordError, stage_recorded_card
    from pipeline.digests import Chain, build_chain

    project, run_id = recorded
    state = _in_process(project, run_id, monkeypatch)
    stored = _stored_root(project, run_id)
    readme = state.run_dir / "card" / "README.md"

    def forge(path: Path) -> None:
        chain = Chain.model_validate_json(path.read_text(encoding="utf-8"))
        link = chain.links[-1]
        forged = build_chain(state.run_dir, [(link.name, link.artifacts)], Chain(links=chain.links[:-1]))
        path.write_text(forged.model_dump_json(indent=2), encoding="utf-8")

    refused = pytest.raises(CardRecordError, match="does not match the recorded card digest")
    with edited(readme, _append_claim), edited(stored / "digests.json", forge), refused:
        stage_recorded_card(state, tmp_path)


def test_a_card_recorded_with_only_readme_and_json_digested_is_not_published_unchecked(
    recorded, tmp_path, monkeypatch
):
    """Runs recorded before every card file was digested: the files the record cannot vouch for are
    refused, not published unchecked."""
    from mlflow import MlflowClient

    from pipeline.cards import CardRecordError, stage_recorded_card
    from pipeline.digests import Chain, build_chain
    from pipeline.verify import CARD_TAG

    project, run_id = recorded
    state = _in_process(project, run_id, monkeypatch)
    stored = _stored_root(project, run_id)
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    recorded_tag = client.get_run(run_id).data.tags[CARD_TAG]
    old_style: dict[str, str] = {}

    def as_recorded_before(path: Path) -> None:
        chain = Chain.model_validate_json(path.read_text(encoding="utf-8"))
        link = ("card", ["card/README.md", "card/card.json"])
        older = build_chain(stored, [link], Chain(links=chain.links[:-1]))
        path.write_text(older.model_dump_json(indent=2), encoding="utf-8")
        old_style["top"] = older.top

    try:
        with edited(stored / "digests.json", as_recorded_before):
            client.set_tag(run_id, CARD_TAG, old_style["top"])
            with pytest.raises(
                CardRecordError, match=r"card\.html.*not covered by the run's recorded card digest"
            ):
                stage_recorded_card(state, tmp_path)
    finally:
        client.set_tag(run_id, CARD_TAG, recorded_tag)
    assert stage_recorded_card(state, tmp_path / "after").is_dir()
