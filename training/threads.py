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
    """Time one thread, then more threads, on the first real steps; keep the faster.

    One thread goes first (its first step builds kernels and is not counted) because on a busy machine
    a multi-threaded step can be many times slower: a multi-threaded step slower than the one-thread
    median ends the probe at once, so a bad candidate costs a single step.
    """

    def __init__(self, candidates: list[int], probe_steps: int = 2, reason: str = ""):
        self.reason = reason
        self.candidates = sorted(set(candidates))  # ascending: 1 first
        self.probe_steps = probe_steps
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.calls = 0
        self.chosen: int | None = self.candidates[0] if len(self.candidates) == 1 else None
        self._current = self.candidates[0]
        torch.set_num_threads(self._current)

    @property
    def probing(self) -> bool:
        return self.chosen is None

    def _next_candidate(self) -> int:
        for c in self.candidates:
            if len(self.times[c]) < self.probe_steps:
                return c
        return self.candidates[-1]

    def before_step(self) -> None:
        """Set the thread count for the coming step."""
        if self.probing and self.calls > 0:
            self._current = self._next_candidate()
            torch.set_num_threads(self._current)

    def after_step(self, seconds: float) -> None:
        """Record the step's duration; choose when every candidate is timed or one is clearly slower."""
        if not self.probing:
            return
        if self.calls > 0:  # the first step builds kernels: not representative
            self.times[self._current].append(seconds)
        self.calls += 1
        best_single = (
            statistics.median(self.times[self.candidates[0]]) if self.times[self.candidates[0]] else None
        )
        slower = best_single is not None and self._current != self.candidates[0] and seconds > best_single
        if slower or all(len(t) >= self.probe_steps for t in self.times.values()):
            timed = [c for c in self.candidates if self.times[c]]
            self.chosen = min(timed, key=lambda c: statistics.median(self.times[c]))
            torch.set_num_threads(self.chosen)

    def describe(self) -> str:
        """For the compute record: the choice and the timings behind it."""
        if len(self.candidates) == 1:
            return f"{self.candidates[0]} ({self.reason})" if self.reason else str(self.candidates[0])
        if self.chosen is None:
            return f"{self._current} (still probing)"
        timings = ", ".join(
            f"{c}: {statistics.median(self.times[c]):.3f} s/step" for c in self.candidates if self.times[c]
        )
        return f"{self.chosen} (measured on the first steps: {timings})"


def make_tuner(configured: int | None, device_type: str, processes: int) -> ThreadTuner:
    """A fixed count when configured, on GPU, or on a busy CPU; otherwise probe this process's cores vs one.

    Busy means the 1-minute load average already reaches the core count: other jobs would take the
    cores our extra threads wait for, and one slow probe step there cost minutes in a measured run.
    """
    share = max(1, cpu_cores() // max(processes, 1))
    if configured is not None:
        return ThreadTuner([configured], reason="configured")
    if device_type != "cpu":
        return ThreadTuner([torch.get_num_threads()], reason="GPU run")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if share > 1 and load >= cpu_cores():
        return ThreadTuner([1], reason=f"CPU busy at start: load average {load:.1f} on {cpu_cores()} cores")
    return ThreadTuner([share, 1])
