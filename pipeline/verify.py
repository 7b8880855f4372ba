"""`pipeline verify`: recompute the digest chain from the run's stored MLflow artifacts."""

import contextlib
import tempfile
from pathlib import Path

from pipeline.cards import DIGESTS_FILE
from pipeline.digests import Chain, first_broken_link
from pipeline.recording import Recorder, RunConfig
from pipeline.state import RunState


def verify_run(state: RunState) -> tuple[bool, str]:
    """(True, summary) when every link matches; (False, the first artifact that no longer matches)."""
    cfg = RunConfig(**{k: v for k, v in state.config["run"].items() if k != "output_dir"})
    rec = Recorder(cfg)
    tags = rec.client.get_run(state.run_id).data.tags
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        root = Path(tmp)
        try:
            rec.download(state.run_id, DIGESTS_FILE, root)
        except Exception:
            return False, f"run {state.run_id} has no {DIGESTS_FILE}: it never reached the card stage"
        chain = Chain.model_validate_json((root / DIGESTS_FILE).read_text(encoding="utf-8"))
        for link in chain.links:
            for rel in link.artifacts:
                with contextlib.suppress(Exception):
                    rec.download(state.run_id, rel, root / Path(rel).parent)
        broken = first_broken_link(root, chain)
        if broken is not None:
            link, artifact = broken
            return (
                False,
                f"digest mismatch in link '{link.name}': {artifact} no longer matches what the run recorded",
            )
        recorded_top = tags.get("pipeline.top_digest")
        audit_links = [lnk for lnk in chain.links if lnk.name != "card"]
        if recorded_top and audit_links and audit_links[-1].chained != recorded_top:
            return False, f"{DIGESTS_FILE} was edited: its chain does not end in the recorded top digest"
        recorded_card = tags.get("pipeline.card_digest")
        if recorded_card and chain.top != recorded_card:
            return False, f"{DIGESTS_FILE} was edited: its card link does not match the recorded card digest"
        lines = [f"  ok {lnk.name}: {lnk.chained[:16]}… ({', '.join(lnk.artifacts)})" for lnk in chain.links]
        return True, "verified: every link matches\n" + "\n".join(lines) + (
            f"\ntop digest (shown in the card): {recorded_top}\ncard digest: {chain.top}"
        )
