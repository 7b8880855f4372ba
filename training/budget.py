"""The wall-clock budget: duration parsing, the fraction spent, and the stop condition."""

import re
import time
from dataclasses import dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float | int) -> float:
    """Seconds in '90s', '2m', '1.5h', '1h30m' or a plain number of seconds."""
    if isinstance(text, int | float):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd]?)", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise ValueError(f"duration {text!r} is not valid: use e.g. '90s', '2m', '1.5h' or '1h30m'")
    return sum(float(n) * _UNITS[u or "s"] for n, u in parts)


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
