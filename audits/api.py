"""What the pipeline calls in `audits`. Each audit loads the model from its directory."""

from collections.abc import Callable
from pathlib import Path

from audits.config import BiasConfig, DeepfakeConfig, QualityConfig
from audits.report import AuditReport

ProgressFn = Callable[[str, int, int | None], None]


def run_quality(cfg: QualityConfig, model_dir: Path, governed_path: Path, out_dir: Path, seed: int,
                progress: ProgressFn) -> AuditReport:
    raise NotImplementedError


def run_bias(cfg: BiasConfig, model_dir: Path, governed_path: Path, out_dir: Path, seed: int,
             progress: ProgressFn) -> AuditReport:
    raise NotImplementedError


def run_deepfake(cfg: DeepfakeConfig, model_dir: Path, governed_path: Path, out_dir: Path, seed: int,
                 progress: ProgressFn, run_id: str = "") -> AuditReport:
    raise NotImplementedError
