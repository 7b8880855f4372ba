"""Small datasets through the real CLI: 8, 16 and 32 emoji (the size of a personalisation fine-tune).

None may crash an audit. A check that needs more held-out images than the run has says `NOT MEASURED`
with the reason and the setting to change, and withholds approval; memorization still runs. Training
is a few steps of a 16 px model so each run takes seconds of compute, not minutes.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from benchmarks.tiny_run import TINY_SIZES
from tests.pipeline.real_cli import as_sets, cli

pytestmark = pytest.mark.slow

TINY = [
    "run.budget=150s",
    "audits.reserve=100s",
    "training.max_steps=8",
    "audits.bias.bootstrap=10",
    *TINY_SIZES,
]


def _run(project: Path, n: int, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    sets = [f"governance.data.limit={n}", f"data_gate.min_kept={n}", *TINY, *extra]
    proc = cli(project, "run", *as_sets(sets))
    found = re.search(r"^run_id: (\w+)", proc.stdout, re.M)
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, project / "runs" / found.group(1)


def _report(run_dir: Path, audit: str) -> dict:
    return json.loads((run_dir / "reports" / f"{audit}.json").read_text())


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("small")


@pytest.fixture(scope="module")
def sixteen(project):
    return _run(project, 16)


def test_sixteen_images_do_not_crash_and_memorization_runs(sixteen):
    proc, run_dir = sixteen
    assert proc.returncode == 4, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    deepfake = _checks(_report(run_dir, "deepfake"))
    assert deepfake["replication_rate"]["measured"] is not None  # calibrated on train-to-train distances
    quality = _checks(_report(run_dir, "quality"))
    assert quality["fd_ratio_to_real"]["measured"] is None and not quality["fd_ratio_to_real"]["passed"]
    assert "min_heldout_images" in quality["fd_ratio_to_real"]["message"]
    assert "allow_unmeasured" in quality["fd_ratio_to_real"]["message"]
    assert "NOT APPROVED" in proc.stdout
    # said before any training: the eval split is too small for the quality audit
    warning = proc.stdout.index("data_gate.eval_records: 1 record held out")
    assert warning < proc.stdout.index("training until")
    assert "min_heldout_images" in proc.stdout[warning : warning + 400]


def test_no_row_without_a_threshold_reads_pass_on_the_terminal_in_show_or_in_the_card(sixteen, project):
    proc, run_dir = sixteen
    for line in proc.stdout.splitlines():
        if "(recorded, no threshold set)" in line or "not measured —" in line:
            assert not re.match(r"\s*pass\b", line), line
    show = cli(project, "show", run_dir.name)
    assert show.returncode == 0, show.stderr
    card = (run_dir / "card" / "README.md").read_text(encoding="utf-8")
    rows = [
        ln for ln in card.splitlines() if ln.startswith("| ") and ("| none |" in ln or "no threshold" in ln)
    ]
    assert rows and not any("| pass |" in ln for ln in rows), rows
    assert "**NOT MEASURED**" in card
    for row in re.findall(r"^│.*$", show.stdout, re.M):
        cells = [c.strip() for c in row.strip("│").split("│")]
        if len(cells) >= 5 and cells[3] == "-" and cells[2] != "-":  # measured, no threshold
            assert cells[4] == "recorded", row


@pytest.mark.parametrize("n", [8, 32])
def test_eight_and_thirty_two_images_do_not_crash(project, n):
    # 32 with a larger eval split: enough held-out images for the FD, so that path runs too
    extra = ("governance.dedup.eval_fraction=0.4",) if n == 32 else ()
    proc, run_dir = _run(project, n, *extra)
    assert proc.returncode in (0, 4), proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    for audit in ("quality", "bias", "deepfake"):
        assert (run_dir / "reports" / f"{audit}.json").is_file()
    quality, deepfake = _checks(_report(run_dir, "quality")), _checks(_report(run_dir, "deepfake"))
    assert deepfake["replication_rate"]["measured"] is not None  # memorization runs at every size
    assert (quality["fd_ratio_to_real"]["measured"] is not None) == (n == 32)
