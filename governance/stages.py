"""The governance stages as the pipeline runs them, in this order.

State passes between stages through Parquet tables in `work_dir`, so a killed run resumes and every
stage can be rerun on its own. `progress(description, completed, total)` reports long work.
"""

from collections.abc import Callable
from pathlib import Path

from governance.config import GovernanceConfig
from governance.dedup import run_dedup
from governance.finalize import run_finalize, save_stage_counts
from governance.ingest import run_ingest
from governance.nsfw_policy import run_nsfw_policy
from governance.progress import ProgressFn
from governance.provenance import run_provenance
from governance.report import GovernanceReport, StageCounts

# The work lives in modules named for it; these functions are the contract the pipeline calls.


def ingest(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Read every record, decode each image once, compute all per-image evidence (hashes, NSFW, faces).

    Raises governance.errors.DatasetError when the dataset itself is missing or unusable; problems
    with single records become decisions.
    """
    counts = run_ingest(cfg, Path(work_dir), progress)
    save_stage_counts(work_dir, counts)
    return counts


def _pass(
    run: Callable[[GovernanceConfig, Path, ProgressFn], StageCounts],
    cfg: GovernanceConfig,
    work_dir: Path,
    progress: ProgressFn,
) -> StageCounts:
    counts = run(cfg, Path(work_dir), progress)  # each pass reports the records it has assessed
    save_stage_counts(work_dir, counts)
    return counts


def provenance(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Licences, required fields, declared hashes, opt-out and AI-generated signals."""
    return _pass(run_provenance, cfg, work_dir, progress)


def dedup(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Exact and near duplicates: one deterministic representative per group."""
    return _pass(run_dedup, cfg, work_dir, progress)


def nsfw(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Drop records whose NudeNet detections exceed the label x threshold policy."""
    return _pass(run_nsfw_policy, cfg, work_dir, progress)


def finalize(
    cfg: GovernanceConfig, work_dir: Path, seed: int, progress: ProgressFn | None = None
) -> GovernanceReport:
    """Write the manifest, the governed table (with the train/eval split), datasheet and attribution list."""
    return run_finalize(cfg, Path(work_dir), seed, progress)
