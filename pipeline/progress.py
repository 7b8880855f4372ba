"""Rich progress bars driven by the stages' `progress(description, completed, total)` callbacks."""

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RateColumn(TextColumn):
    def __init__(self):
        super().__init__("")

    def render(self, task):  # type: ignore[override]
        speed = task.finished_speed or task.speed
        from rich.text import Text

        return Text(f"{speed:,.1f}/s" if speed else "   -/s", style="progress.data.speed")


class StageProgress:
    """One bar per description; the stage names the work ("decode + hash", "train steps")."""

    def __init__(self, console: Console, on_tick: Callable[[], None] | None = None):
        self.console = console
        self.on_tick = on_tick
        self._last_tick = 0.0
        self._tasks: dict[str, TaskID] = {}
        self._plain = not console.is_terminal
        self._plain_state: dict[str, tuple[float, float, int]] = {}  # description -> (t0, last print, n0)
        self._notes: dict[str, str] = {}
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=False,
            disable=not console.is_terminal and not console.record,
        )

    def _print_plain(self, description: str, completed: int, total: int | None) -> None:
        # Logs and CI have no live bars: print count, rate and ETA every 10 s and at the end.
        now = time.monotonic()
        t0, last, n0 = self._plain_state.setdefault(description, (now, 0.0, completed))
        done = total is not None and completed >= total
        if now - last < 10 and not done:
            return
        self._plain_state[description] = (t0, now, n0)
        elapsed = max(now - t0, 1e-9)
        rate = (completed - n0) / elapsed
        eta = f"{(total - completed) / rate:,.0f}s" if total and rate > 0 else "-"
        of = f"/{total}" if total is not None else ""
        note = self._note_for(description)
        self.console.print(
            f"  {description}: {completed}{of}  {rate:,.1f}/s  ETA {eta}" + (f"  {note}" if note else ""),
            highlight=False,
        )

    def annotate(self, prefix: str, note: str) -> None:
        """Text shown from their next update on beside the bars whose description starts with `prefix`
        (say, the step and loss beside training's time bar, however the trainer names it)."""
        self._notes[prefix] = note

    def _note_for(self, description: str) -> str:
        matches = [p for p in self._notes if description.startswith(p)]
        return self._notes[max(matches, key=len)] if matches else ""

    def __enter__(self) -> "StageProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, description: str, completed: int, total: int | None) -> None:
        if self._plain:
            self._print_plain(description, completed, total)
        task = self._tasks.get(description)
        if task is None:
            task = self._tasks[description] = self._progress.add_task(description, total=total, note="")
        self._progress.update(task, completed=completed, total=total, note=self._note_for(description))
        now = time.monotonic()
        if self.on_tick and now - self._last_tick > 5:
            self._last_tick = now
            self.on_tick()
