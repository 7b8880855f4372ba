"""`pipeline verify`: both copies of a run checked against the digests the run recorded.

A run exists twice: in the MLflow artifact store (what `verify` used to read) and in the local run
folder (what `pipeline show`, `pipeline card --publish` and `--push` read). The recorded truth is the
stored digest chain (`digests.json`), itself pinned by two tags set when the card was rendered
(`pipeline.top_digest`, `pipeline.card_digest`): an edited chain cannot be recomputed to match a tag.
Every link of that chain is then recomputed over each copy, and a mismatch names the copy, the link
and the artifact.
"""

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.digests import DIGESTS_FILE, Chain, Link, artifacts_digest, chained, tree_sha256
from pipeline.recording import Recorder
from pipeline.state import RunState
from pipeline.store import recorder_for

TOP_TAG, CARD_TAG = "pipeline.top_digest", "pipeline.card_digest"
_SHOWN_FILES = 5  # files named inside a changed folder (the model) before "and N more"


class RecordError(Exception):
    """The run's recorded digests cannot be read or were edited: nothing can be checked against them."""


@dataclass(frozen=True)
class Copy:
    """One copy of a run's artifacts: its label for messages and the folder holding them."""

    label: str
    root: Path


def recorded_chain(state: RunState, rec: Recorder, into: Path) -> tuple[Chain, dict[str, str]]:
    """The stored digests.json, checked against the run's tags; (chain, tags). Raises RecordError."""
    tags = rec.client.get_run(state.run_id).data.tags
    try:
        rec.download(state.run_id, DIGESTS_FILE, into)
    except Exception:
        raise RecordError(
            f"run {state.run_id} has no stored {DIGESTS_FILE}: it never reached the card stage; "
            f"finish it with: pipeline run --resume {state.run_id}"
        ) from None
    chain = Chain.model_validate_json((into / DIGESTS_FILE).read_text(encoding="utf-8"))
    previous = ""
    for link in chain.links:
        if chained(previous, link.artifact_digest) != link.chained:
            raise RecordError(f"the stored {DIGESTS_FILE} was edited: its link '{link.name}' does not chain")
        previous = link.chained
    recorded_card = tags.get(CARD_TAG)
    if not recorded_card:
        raise RecordError(
            f"run {state.run_id} has no {CARD_TAG} tag: its card digest was never recorded; "
            f"render the card again with: pipeline run --resume {state.run_id} --from card"
        )
    if chain.top != recorded_card:
        raise RecordError(
            f"the stored {DIGESTS_FILE} was edited: its card link does not match the recorded card digest"
        )
    audit_links = [lnk for lnk in chain.links if lnk.name != "card"]
    recorded_top = tags.get(TOP_TAG)
    if recorded_top and audit_links and audit_links[-1].chained != recorded_top:
        raise RecordError(
            f"the stored {DIGESTS_FILE} was edited: its chain does not end in the recorded top digest"
        )
    return chain, tags


def _digest(root: Path, artifacts: list[str]) -> str | None:
    with contextlib.suppress(FileNotFoundError):
        return artifacts_digest(root, artifacts)
    return None


def _changed_files(copy: Path, other: Path) -> list[str]:
    """Files of a folder artifact whose bytes differ between two copies (or exist in one only)."""

    def files(root: Path) -> dict[str, str]:
        return {p.relative_to(root).as_posix(): tree_sha256(p) for p in root.rglob("*") if p.is_file()}

    mine, theirs = files(copy), files(other)
    return sorted(rel for rel in mine.keys() | theirs.keys() if mine.get(rel) != theirs.get(rel))


def _culprits(link: Link, copy: Copy, other: Copy, other_ok: bool) -> list[str]:
    """The artifacts of a failing link that explain it: missing ones, else the ones that differ from
    the other copy when that copy matches the record; else every artifact of the link."""
    missing = [f"{rel} (missing)" for rel in link.artifacts if not (copy.root / rel).exists()]
    if missing:
        return missing
    if not other_ok:
        return list(link.artifacts)
    out = []
    for rel in link.artifacts:
        mine, theirs = copy.root / rel, other.root / rel
        if tree_sha256(mine) == tree_sha256(theirs):
            continue
        if mine.is_dir():
            changed = _changed_files(mine, theirs)
            shown = ", ".join(changed[:_SHOWN_FILES])
            more = f" and {len(changed) - _SHOWN_FILES} more" if len(changed) > _SHOWN_FILES else ""
            out.append(f"{rel} ({shown}{more})")
        else:
            out.append(rel)
    return out or list(link.artifacts)


def check_copies(chain: Chain, copies: tuple[Copy, Copy]) -> tuple[list[str], list[str]]:
    """(problems, ok lines): every link of the recorded chain recomputed over both copies."""
    problems, ok_lines = [], []
    for link in chain.links:
        good = [_digest(c.root, link.artifacts) == link.artifact_digest for c in copies]
        for i, copy in enumerate(copies):
            if not good[i]:
                named = ", ".join(_culprits(link, copy, copies[1 - i], good[1 - i]))
                problems.append(
                    f"{copy.label}: link '{link.name}': {named} no longer matches what the run recorded"
                )
        if all(good):
            ok_lines.append(f"  ok {link.name}: {link.chained[:16]}… ({', '.join(link.artifacts)})")
    return problems, ok_lines


def _download_all(rec: Recorder, run_id: str, chain: Chain, root: Path) -> None:
    for link in chain.links:
        for rel in link.artifacts:
            with contextlib.suppress(Exception):  # a missing artifact is reported by the check
                rec.download(run_id, rel, root / Path(rel).parent)


def verify_run(state: RunState) -> tuple[bool, str]:
    """(True, summary) when both copies match every link; (False, every mismatch, naming its copy)."""
    rec = recorder_for(state)
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        root = Path(tmp)
        try:
            chain, tags = recorded_chain(state, rec, root)
        except RecordError as exc:
            return False, str(exc)
        _download_all(rec, state.run_id, chain, root)
        stored = Copy(f"stored copy (MLflow artifacts of run {state.run_id})", root)
        local = Copy(f"local copy ({state.run_dir})", state.run_dir)
        problems, ok_lines = check_copies(chain, (stored, local))
    problems += _local_chain_problems(state, chain)
    if problems:
        return False, "verification FAILED:\n  " + "\n  ".join(problems) + _restore_hint(state, rec.uri)
    return True, (
        "verified: every link matches in the stored copy and in the local run folder\n"
        + "\n".join(ok_lines)
        + f"\ntop digest (shown in the card): {tags.get(TOP_TAG)}\ncard digest: {chain.top}"
    )


def _local_chain_problems(state: RunState, chain: Chain) -> list[str]:
    path = state.run_dir / DIGESTS_FILE
    try:
        local: Any = Chain.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"local copy ({state.run_dir}): {DIGESTS_FILE} is missing"]
    except ValueError:
        local = None
    if local != chain:
        return [f"local copy ({state.run_dir}): {DIGESTS_FILE} differs from the stored one"]
    return []


def _restore_hint(state: RunState, uri: str) -> str:
    return (
        "\nwhere only one copy differs, the other is the recorded one: fetch the stored copy with "
        f"`MLFLOW_TRACKING_URI={uri} mlflow artifacts download -r {state.run_id} -a PATH -d DIR`; "
        f"a card rendered again from the run's reports gets a new recorded digest: "
        f"pipeline run --resume {state.run_id} --from card"
    )
