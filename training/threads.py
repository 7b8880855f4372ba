"""CPU thread count chosen by measurement: the first training steps alternate candidates, the fastest stays.

On an idle machine all cores win; on a busy (shared) one, OpenMP's spinning threads can make two threads
several times slower than one. Measuring on the real steps costs no extra time.
"""

import os
import statistics

import torch


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class ThreadTuner:
    """Alternate `candidates` over the first steps (after one warm-up step); then keep the fastest."""

    def __init__(self, candidates: list[int], probe_steps: int = 3):
        self.candidates = sorted(set(candidates), reverse=True)
        self.probe_steps = probe_steps
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.calls = 0
        self.chosen: int | None = self.candidates[0] if len(self.candidates) == 1 else None
        self._current = self.candidates[0]
        torch.set_num_threads(self._current)

    @property
    def probing(self) -> bool:
        return self.chosen is None

    def before_step(self) -> None:
        """Set the thread count for the coming step."""
        if self.probing and self.calls > 0:
            self._current = self.candidates[(self.calls - 1) % len(self.candidates)]
            torch.set_num_threads(self._current)

    def after_step(self, seconds: float) -> None:
        """Record the step's duration; choose once every candidate has `probe_steps` timings."""
        if not self.probing:
            return
        if self.calls > 0:  # the first step builds kernels: not representative
            self.times[self._current].append(seconds)
        self.calls += 1
        if all(len(t) >= self.probe_steps for t in self.times.values()):
            self.chosen = min(self.candidates, key=lambda c: statistics.median(self.times[c]))
            torch.set_num_threads(self.chosen)

    def describe(self) -> str:
        """For the compute record: the choice and the timings behind it."""
        if len(self.candidates) == 1:
            return str(self.candidates[0])
        if self.chosen is None:
            return f"{self._current} (still probing)"
        timings = ", ".join(f"{c}: {statistics.median(self.times[c]):.3f} s/step" for c in self.candidates)
        return f"{self.chosen} (measured on the first steps: {timings})"


def make_tuner(configured: int | None, device_type: str, processes: int) -> ThreadTuner:
    """A fixed count when configured or on GPU; otherwise probe all cores of this process's share vs one."""
    share = max(1, cpu_cores() // max(processes, 1))
    if configured is not None:
        return ThreadTuner([configured])
    if device_type != "cpu":
        return ThreadTuner([torch.get_num_threads()])
    return ThreadTuner([share, 1])
