"""How a stage reports long work: `progress(description, completed, total)`, drawn by the pipeline.

One signature for every package's stages; here because governance is the leftmost package."""

from collections.abc import Callable

ProgressFn = Callable[[str, int, int | None], None]


def _silent(description: str, completed: int, total: int | None) -> None:
    return None


class WorkProgress:
    """Units of work done (a pass's records, finalize's steps), reported every `every` units and at
    the end, so that bars show a rate and an ETA."""

    def __init__(self, progress: ProgressFn | None, name: str, total: int, every: int = 4096):
        self.progress = progress or _silent
        self.name, self.total, self.every = name, total, every
        self.progress(name, 0, total)

    def at(self, done: int) -> None:
        """Called with the count so far, as often as convenient; reports only every `every` units."""
        if done % self.every == 0 and 0 < done < self.total:
            self.progress(self.name, done, self.total)

    def finish(self) -> None:
        self.progress(self.name, self.total, self.total)
