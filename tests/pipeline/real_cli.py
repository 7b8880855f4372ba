"""The real `pipeline` CLI in a subprocess, as the end-to-end tests of this folder run it."""

import os
import subprocess
import sys
from pathlib import Path

PIPELINE = str(Path(sys.executable).with_name("pipeline"))


def cli(
    cwd: Path, *args: str, timeout: int = 400, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `pipeline ARGS` in `cwd`: MLflow settings and Hub tokens of the caller are not inherited,
    the Hub is offline, the terminal is 200 columns wide; `env` adds variables."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HF_TOKEN"))}
    child |= {"HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [PIPELINE, *args], cwd=cwd, env=child, capture_output=True, text=True, timeout=timeout
    )


def as_sets(settings: list[str]) -> list[str]:
    """`--set KEY=VALUE` for each setting."""
    return [a for s in settings for a in ("--set", s)]


def run_id_of(proc: subprocess.CompletedProcess) -> str:
    """The run id a `pipeline run` printed."""
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("run_id: ")]
    assert lines, proc.stdout + proc.stderr
    return lines[0].split(": ", 1)[1].strip()
