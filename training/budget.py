"""The wall-clock budget: the fraction spent and the stop condition (durations: training.durations)."""

import time
from dataclasses import dataclass


@dataclass
class Budget:
    """The training clock. `start` is when the first attempt began (kept across resumes).

    `reserve_s` is held back for the final save, samples and report; the schedule reaches 0 where
    training stops, at `deadline - reserve_s`.
    """

    start: float
    deadline: float
    reserve_s: float
    # the reserve is re-measured as saves are timed; the fraction must still never step backwards
    _floor: float = 0.0

    @property
    def total_s(self) -> float:
        return self.deadline - self.start

    @property
    def train_end(self) -> float:
        return self.deadline - self.reserve_s

    def fraction(self, now: float | None = None) -> float:
        """Share of the training window (start .. deadline - reserve) already spent."""
        now = time.time() if now is None else now
        current = min(1.0, max(0.0, (now - self.start) / max(self.train_end - self.start, 1e-9)))
        self._floor = max(self._floor, current)
        return self._floor

    def should_stop(self, next_step_s: float, now: float | None = None) -> bool:
        """True when one more step would run past the training window."""
        now = time.time() if now is None else now
        return now + next_step_s > self.train_end
