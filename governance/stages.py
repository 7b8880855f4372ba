"""The governance stages as the pipeline runs them, in this order.

State passes between stages through Parquet tables in `work_dir`, so a killed run resumes and every
stage can be rerun on its own. `progress(description, completed, total)` reports long work.
"""

from collections.abc import Callable
from pathlib import Path

from governance.config import GovernanceConfig
from governance.report import GovernanceReport, StageCounts

ProgressFn = Callable[[str, int, int | None], None]


def ingest(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Read every record, decode each image once, compute all per-image evidence (hashes, NSFW, faces)."""
    raise NotImplementedError


def provenance(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Licences, required fields, declared hashes, opt-out and AI-generated signals."""
    raise NotImplementedError


def dedup(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Exact and near duplicates: one deterministic representative per group."""
    raise NotImplementedError


def nsfw(cfg: GovernanceConfig, work_dir: Path, progress: ProgressFn) -> StageCounts:
    """Drop records whose NudeNet detections exceed the label x threshold policy."""
    raise NotImplementedError


def finalize(cfg: GovernanceConfig, work_dir: Path, seed: int) -> GovernanceReport:
    """Write the manifest, the governed table (with the train/eval split), datasheet and attribution list."""
    raise NotImplementedError
