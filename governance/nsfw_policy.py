"""The NSFW pass: NudeNet detections (computed at ingest) against the label x threshold policy."""

import json
import time
from pathlib import Path

from governance.config import GovernanceConfig
from governance.decisions import FindingsLog, dropped_ids
from governance.nsfw import policy_hits, policy_score
from governance.progress import ProgressFn, WorkProgress
from governance.reasons import Decision, Reason
from governance.report import StageCounts
from governance.tables import read_ingest


def run_nsfw_policy(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn | None = None) -> StageCounts:
    """Drop records with a detection at or above its label's threshold; the hits are the evidence."""
    started = time.perf_counter()
    table = read_ingest(work_dir, ["record_id", "nsfw_detections"])
    log = FindingsLog("nsfw")
    scored = 0
    bar = WorkProgress(progress, "nsfw", len(table))
    if cfg.nsfw.enabled:
        dropped = dropped_ids(work_dir, ["ingest", "provenance", "dedup"])
        for done, (rid, raw) in enumerate(zip(table["record_id"], table["nsfw_detections"], strict=True)):
            bar.at(done)
            if raw is None or rid in dropped:
                continue
            scored += 1
            detections = json.loads(raw)
            hits = policy_hits(detections, cfg.nsfw.thresholds)
            if hits:
                evidence = {"hits": hits, "score": policy_score(detections, cfg.nsfw.thresholds)}
                log.add(rid, "nsfw", Decision.DROP, Reason.NSFW, evidence)
    bar.finish()
    counts = log.counts("nsfw", len(table), time.perf_counter() - started)
    counts.artifacts = [log.write(work_dir)]  # the stage's findings, for review in MLflow
    counts.metrics["images_scored"] = float(scored)
    return counts
