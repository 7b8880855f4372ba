"""The run's one deadline: reserve for the audits, a floor for training, and what a resume carries over.

The clock is set by the test (pipeline.budget reads `time.time`; `started_at` is passed because its
default is bound to the real clock when the class is defined), so every expected value is exact.
"""

import time

import pytest

from pipeline import budget as budget_module
from pipeline.budget import Budget
from pipeline.state import RunState


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock(10_000.0)
    # the time module is shared: monkeypatch puts the real clock back after the test
    monkeypatch.setattr(budget_module.time, "time", c)
    return c


def test_a_new_budget_ends_after_its_total(clock):
    b = Budget(total_s=600.0, reserve_s=60.0, started_at=clock.now)
    assert b.deadline == 10_600.0
    clock.now += 100.0
    assert b.spent() == 100.0
    assert b.left() == 500.0


def test_training_must_return_a_reserve_before_the_deadline(clock):
    b = Budget(total_s=600.0, reserve_s=60.0, started_at=clock.now)
    assert b.training_deadline() == 10_540.0


def test_training_deadline_never_falls_below_the_minimum_from_now(clock):
    b = Budget(total_s=600.0, reserve_s=60.0, started_at=clock.now)
    # 530 s in: the reserved deadline (10_540) is 10 s away, exactly the default minimum
    clock.now = 10_530.0
    assert b.training_deadline() == 10_540.0
    # one second later the minimum wins: training still gets 10 s rather than a deadline in the past
    clock.now = 10_531.0
    assert b.training_deadline() == 10_541.0
    assert b.training_deadline(minimum_s=30.0) == 10_561.0


def test_a_reserve_larger_than_the_budget_still_leaves_training_the_minimum(clock):
    b = Budget(total_s=60.0, reserve_s=600.0, started_at=clock.now)
    assert b.training_deadline(minimum_s=5.0) == 10_005.0


def test_time_spent_before_a_kill_is_not_given_back_on_resume(clock, tmp_path):
    first = Budget(total_s=1000.0, reserve_s=100.0, started_at=clock.now)
    clock.now += 250.0  # killed 250 s in; the runner records what was spent in state.json
    state = RunState(
        run_id="r",
        run_dir=tmp_path,
        experiment="e",
        tracking_uri="sqlite:///x.db",
        config={},
        budget_s=1000.0,
    )
    state.spent_s = first.spent()
    state.save()

    clock.now += 3600.0  # resumed an hour later: the pause does not count, the 250 s do
    resumed = Budget(
        total_s=1000.0, reserve_s=100.0, spent_before_s=RunState.load(tmp_path).spent_s, started_at=clock.now
    )
    assert resumed.left() == 750.0
    assert resumed.training_deadline() == clock.now + 650.0
    clock.now += 50.0
    assert resumed.spent() == 300.0


def test_a_budget_made_without_a_start_starts_when_it_is_made():
    before = time.time()
    b = Budget(total_s=600.0, reserve_s=60.0)
    assert before <= b.started_at <= time.time()
