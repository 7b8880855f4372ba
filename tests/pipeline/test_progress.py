"""Progress output without a terminal (logs, CI): count, rate, ETA and the note beside a bar."""

import io

from rich.console import Console

from pipeline.progress import StageProgress


def _plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=120), out


def test_plain_lines_show_count_total_and_a_note():
    console, out = _plain_console()
    with StageProgress(console) as progress:
        progress("train (s)", 0, 10)
        progress.annotate("train (s)", "step 40, loss 0.1234, 60 img/s")
        progress("train (s)", 10, 10)
    lines = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
    assert lines[0].startswith("train (s): 0/10") and "step 40" not in lines[0]
    assert lines[-1].startswith("train (s): 10/10") and lines[-1].endswith("step 40, loss 0.1234, 60 img/s")


def test_plain_lines_are_throttled_but_the_last_one_is_printed():
    console, out = _plain_console()
    with StageProgress(console) as progress:
        for i in range(1, 101):
            progress("ingest", i, 100)
    lines = [line for line in out.getvalue().splitlines() if "ingest" in line]
    # the first update and the final one; the 98 in between come faster than the 10 s print interval
    assert len(lines) == 2 and "100/100" in lines[-1]
