"""The NSFW pass: NudeNet detections (computed at ingest) against the label x threshold policy.

A detection at or above its label's threshold (a hit) is a suspicion, not yet a finding: NudeNet's
small detector scores round shapes in clip art (balloons, buttons, a web-camera icon) as
`BUTTOCKS_EXPOSED` up to 0.79. A hit drops the record only when its box shows skin: at least
`min_skin_fraction` of its pixels skin-coloured (measured at ingest, `governance.skin`). A hit
without that evidence, or on a grayscale image where skin cannot be judged, puts the record in
quarantine (`nsfw_unconfirmed`) with the hits for a human. Nothing a hit touched is kept without
one, and no record without a hit is affected: the skin check can turn a drop into a quarantine,
nothing else.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.config import GovernanceConfig, NsfwConfig
from governance.decisions import FindingsLog, dropped_ids
from governance.nsfw import policy_hits, policy_score
from governance.progress import ProgressFn, WorkProgress
from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.stage_names import GovernanceStage, decided_before
from governance.tables import read_ingest


@dataclass(frozen=True)
class NsfwVerdict:
    """What the policy decided for one record's detections, with the evidence to record."""

    decision: Decision
    reason: Reason
    evidence: dict[str, Any] = field(default_factory=dict)


def shows_skin(hit: dict, min_skin_fraction: float) -> bool:
    """Whether a hit's box holds enough skin-coloured pixels to confirm it (always, when the bar is 0).

    `skin` is None for a grayscale image (or detections stored without it): no evidence either way.
    """
    if min_skin_fraction <= 0:
        return True
    skin = hit.get("skin")
    return skin is not None and skin >= min_skin_fraction


def assess(detections: list[dict], policy: NsfwConfig) -> NsfwVerdict | None:
    """The verdict on one record's stored detections; None when no detection reaches its threshold."""
    hits = policy_hits(detections, policy.thresholds)
    if not hits:
        return None
    confirmed = [h for h in hits if shows_skin(h, policy.min_skin_fraction)]
    evidence: dict[str, Any] = {
        "hits": hits,
        "score": policy_score(detections, policy.thresholds),
        "min_skin_fraction": policy.min_skin_fraction,
    }
    if confirmed:
        return NsfwVerdict(Decision.DROP, Reason.NSFW, {**evidence, "confirmed": confirmed})
    if any("skin" not in h for h in hits):
        why = "no skin share recorded with the detections (stored before the skin check): rerun ingest"
    elif all(h["skin"] is None for h in hits):
        why = "grayscale image: skin cannot be judged from colour"
    else:
        best = max(h["skin"] for h in hits if h.get("skin") is not None)
        why = f"no hit's box is skin-coloured enough (best {best:.2f} < {policy.min_skin_fraction})"
    return NsfwVerdict(Decision.QUARANTINE, Reason.NSFW_UNCONFIRMED, {**evidence, "unconfirmed": why})


def run_nsfw_policy(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn | None = None) -> StageCounts:
    """Drop records with a skin-confirmed hit, quarantine those with unconfirmed hits (see `assess`)."""
    started = time.perf_counter()
    table = read_ingest(work_dir, ["record_id", "nsfw_detections"])
    log = FindingsLog(GovernanceStage.NSFW)
    scored = 0
    bar = WorkProgress(progress, GovernanceStage.NSFW, len(table))
    if cfg.nsfw.enabled:
        dropped = dropped_ids(work_dir, decided_before(GovernanceStage.NSFW))
        for done, (rid, raw) in enumerate(zip(table["record_id"], table["nsfw_detections"], strict=True)):
            bar.at(done)
            if raw is None or rid in dropped:
                continue
            scored += 1
            verdict = assess(json.loads(raw), cfg.nsfw)
            if verdict is not None:
                log.add(rid, "nsfw", verdict.decision, verdict.reason, verdict.evidence)
    bar.finish()
    counts = log.counts(GovernanceStage.NSFW, len(table), time.perf_counter() - started)
    counts.artifacts = [log.write(work_dir)]  # the stage's findings, for review in MLflow
    counts.metrics["images_scored"] = float(scored)
    return counts
