"""CPU thread count chosen by measurement: the first training steps alternate candidates, the fastest stays.

On an idle machine all cores win; on a busy (shared) one, OpenMP's spinning threads can make two threads
several times slower than one. Measuring on the real steps costs no extra time. The machine's load
changes during a long run, so the choice is measured again when the step time drifts from what the
probe saw, and a run that started on a busy machine probes more threads once the load has fallen.
"""

import os
import statistics
from collections import deque
from collections.abc import Callable

import torch


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


class ThreadTuner:
    """Time one thread, then more threads, on the first real steps; keep the faster; re-measure on drift.

    One thread goes first (its first step builds kernels and is not counted) because on a busy machine
    a multi-threaded step can be many times slower: a multi-threaded step slower than the one-thread
    median ends the probe at once, so a bad candidate costs a single step.

    After the choice, the median of the last `window` steps is compared with the chosen count's probe
    median: `drift` times slower or faster means the machine's load changed, and the probe runs again.
    A median rather than single steps, so one slow checkpoint or log step does not trigger it.
    `deferred` counts are not probed until `load_fn()` falls below the core count (checked every
    `window` steps): a multi-threaded probe step on a busy machine once took minutes.
    """

    def __init__(
        self,
        candidates: list[int],
        probe_steps: int = 2,
        reason: str = "",
        *,
        adaptive: bool = True,
        drift: float = 1.5,
        window: int = 8,
        deferred: list[int] | None = None,
        load_fn: Callable[[], float] = load_average,
        cores: int | None = None,
    ):
        self.reason = reason
        self.candidates = sorted(set(candidates))  # ascending: 1 first
        self.probe_steps = probe_steps
        self.adaptive, self.drift, self.window = adaptive, drift, window
        self.deferred = sorted(set(deferred or []) - set(self.candidates))
        self.load_fn, self.cores = load_fn, cores or cpu_cores()
        self.times: dict[int, list[float]] = {c: [] for c in self.candidates}
        self.calls = 0  # steps seen by the current probe
        self.steps = 0  # steps seen in all
        self.chosen: int | None = self.candidates[0] if len(self.candidates) == 1 else None
        self.baseline: float | None = None  # the chosen count's probe median
        self.recent: deque[float] = deque(maxlen=window)
        self.remeasured: list[str] = []  # why each new probe ran, for the compute record
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
        self.steps += 1
        if not self.probing:
            self._watch(seconds)
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
            self.baseline = statistics.median(self.times[self.chosen])
            self.recent.clear()
            torch.set_num_threads(self.chosen)

    def _watch(self, seconds: float) -> None:
        """After the choice: probe again when the load changed (step time drifted, or a busy start ended)."""
        if not self.adaptive:
            return
        self.recent.append(seconds)
        if len(self.recent) < self.window:
            return
        now = statistics.median(self.recent)
        if self.deferred:
            load = self.load_fn()
            if load < self.cores:
                self.candidates = sorted(set(self.candidates) | set(self.deferred))
                self.deferred = []
                self._reprobe(f"load average fell to {load:.1f} on {self.cores} cores")
                return
        if self.baseline is None:  # a single fixed count was never timed: this window is its baseline
            self.baseline = now
            self.recent.clear()
        elif len(self.candidates) > 1 and not (
            self.baseline / self.drift <= now <= self.baseline * self.drift
        ):
            self._reprobe(f"step time drifted from {self.baseline:.3f} to {now:.3f} s")
        else:
            self.recent.clear()

    def _reprobe(self, why: str) -> None:
        self.remeasured.append(f"after step {self.steps}: {why}")
        self.times = {c: [] for c in self.candidates}
        self.chosen, self.baseline = None, None
        self.recent.clear()
        self.calls = 1  # kernels are built: no warm-up step this time
        self._current = self.candidates[0]
        torch.set_num_threads(self._current)

    def describe(self) -> str:
        """For the compute record: the choice and the timings behind it."""
        again = (
            f"; measured again {len(self.remeasured)}x ({'; '.join(self.remeasured)})"
            if self.remeasured
            else ""
        )
        if len(self.candidates) == 1:
            base = f"{self.candidates[0]} ({self.reason})" if self.reason else str(self.candidates[0])
            return base + again
        if self.chosen is None:
            return f"{self._current} (still probing){again}"
        timings = ", ".join(
            f"{c}: {statistics.median(self.times[c]):.3f} s/step" for c in self.candidates if self.times[c]
        )
        return f"{self.chosen} (measured on the first steps: {timings}){again}"


def make_tuner(configured: int | None, device_type: str, processes: int) -> ThreadTuner:
    """A fixed count when configured, on GPU, or on a busy CPU; otherwise probe this process's cores vs one.

    Busy means the 1-minute load average already reaches the core count: other jobs would take the
    cores our extra threads wait for, and one slow probe step there cost minutes in a measured run. A
    busy start keeps the cores as a deferred candidate, probed once the load has fallen.
    """
    share = max(1, cpu_cores() // max(processes, 1))
    if configured is not None:
        return ThreadTuner([configured], reason="configured", adaptive=False)
    if device_type != "cpu":
        return ThreadTuner([torch.get_num_threads()], reason="GPU run", adaptive=False)
    load = load_average()
    if share > 1 and load >= cpu_cores():
        return ThreadTuner(
            [1], reason=f"CPU busy at start: load average {load:.1f} on {cpu_cores()} cores", deferred=[share]
        )
    return ThreadTuner([share, 1])
