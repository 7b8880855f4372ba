"""What the pipeline and the audits call in `training`."""

from collections.abc import Callable
from pathlib import Path

from training.config import TrainingConfig
from training.report import TrainingReport

LogFn = Callable[[dict[str, float], int | None], None]
ProgressFn = Callable[[str, int, int | None], None]


def train(
    cfg: TrainingConfig,
    governed_path: Path,
    out_dir: Path,
    deadline: float,
    seed: int,
    log: LogFn,
    progress: ProgressFn,
    resume: bool = False,
) -> TrainingReport:
    """Train on the `train` split of the governed table until `deadline` (a `time.time()` value).

    Writes checkpoints under `out_dir/checkpoints/` and the final diffusers pipeline under
    `out_dir/model/`. With `resume=True` it continues from the newest complete checkpoint.
    """
    raise NotImplementedError


def load_pipeline(model_dir: Path, device: str = "cpu"):
    """Load a saved model directory as the project's diffusers pipeline (no remote code, no pickle)."""
    raise NotImplementedError


def denoising_loss(model_dir: Path, governed_path: Path, split: str, seed: int, max_images: int = 256) -> float:
    """Mean flow-matching loss on one split at fixed timesteps and noise: the held-out loss."""
    raise NotImplementedError
