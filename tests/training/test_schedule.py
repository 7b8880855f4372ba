import pytest

from training.budget import Budget
from training.durations import parse_duration
from training.schedule import lr_multiplier


def test_warmup_rises_then_stable_then_decays_to_zero():
    values = [lr_multiplier(f / 100, warmup_fraction=0.1, decay_fraction=0.3) for f in range(101)]
    assert values[0] < values[5] < values[10]
    assert all(v == 1.0 for v in values[10:70])
    assert values[70] > values[85] > values[99]
    assert values[100] == 0.0


def test_no_warmup_no_decay_is_constant():
    assert {lr_multiplier(f / 10, 0.0, 0.0) for f in range(11)} == {1.0}


def test_schedule_follows_time_not_steps():
    """Same fraction of the budget -> same learning rate, however many steps a machine managed."""
    slow = Budget(start=0.0, deadline=100.0, reserve_s=0.0)
    fast = Budget(start=0.0, deadline=100.0, reserve_s=0.0)
    # the slow machine is at step 10 and the fast one at step 1000 after 80 s: same multiplier
    assert lr_multiplier(slow.fraction(now=80.0), 0.05, 0.3) == lr_multiplier(
        fast.fraction(now=80.0), 0.05, 0.3
    )
    assert slow.fraction(now=80.0) == pytest.approx(0.8)


def test_budget_fraction_excludes_reserve_and_stop_condition():
    budget = Budget(start=0.0, deadline=100.0, reserve_s=20.0)
    assert budget.fraction(now=40.0) == pytest.approx(0.5)
    assert budget.fraction(now=95.0) == 1.0
    assert not budget.should_stop(next_step_s=5.0, now=70.0)
    assert budget.should_stop(next_step_s=5.0, now=76.0)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("2m", 120), ("1.5h", 5400), ("1h30m", 5400), ("45", 45)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "m5"])
def test_parse_duration_rejects_garbage(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_fraction_never_steps_back_when_the_reserve_shrinks():
    budget = Budget(start=0.0, deadline=100.0, reserve_s=20.0)
    before = budget.fraction(now=40.0)
    budget.reserve_s = 5.0  # a save turned out faster than first estimated
    assert budget.fraction(now=41.0) >= before


def test_thread_tuner_keeps_the_faster_count():
    import torch

    from training.threads import ThreadTuner

    before = torch.get_num_threads()
    try:
        for fake, expected, steps in (({2: 0.5, 1: 0.1}, 1, 4), ({2: 0.05, 1: 0.1}, 2, 5)):
            tuner = ThreadTuner([2, 1], probe_steps=2)
            tuner.before_step()
            tuner.after_step(9.0)  # warm-up step: ignored
            while tuner.probing:
                tuner.before_step()
                tuner.after_step(fake[torch.get_num_threads()])
            assert tuner.chosen == expected and torch.get_num_threads() == expected
            # a slower multi-threaded step ends the probe at once: it costs one step, not several
            assert tuner.calls == steps
            assert f"{expected}: {fake[expected]:.3f} s/step" in tuner.describe()
    finally:
        torch.set_num_threads(before)


def _steady(tuner, seconds: dict[int, float], steps: int) -> None:
    import torch

    for _ in range(steps):
        tuner.before_step()
        tuner.after_step(seconds[torch.get_num_threads()])


def test_thread_tuner_measures_again_when_the_step_time_drifts():
    import torch

    from training.threads import ThreadTuner

    before = torch.get_num_threads()
    try:
        tuner = ThreadTuner([2, 1], probe_steps=2, window=4)
        _steady(tuner, {2: 0.05, 1: 0.1}, 6)  # warm-up + probe: two threads win
        assert tuner.chosen == 2 and not tuner.remeasured
        _steady(tuner, {2: 0.06, 1: 0.1}, 8)  # within the drift factor: no new probe
        assert tuner.chosen == 2 and not tuner.remeasured
        # another job took the second core: two threads are now 10x slower, one is unchanged
        _steady(tuner, {2: 0.5, 1: 0.1}, 4)
        assert tuner.probing and len(tuner.remeasured) == 1 and "drifted from 0.050" in tuner.remeasured[0]
        _steady(tuner, {2: 0.5, 1: 0.1}, 4)
        assert tuner.chosen == 1 and torch.get_num_threads() == 1
        assert "measured again 1x" in tuner.describe()
    finally:
        torch.set_num_threads(before)


def test_a_busy_start_probes_more_threads_once_the_load_falls():
    import torch

    from training.threads import ThreadTuner

    before = torch.get_num_threads()
    load = [4.0]
    try:
        tuner = ThreadTuner([1], deferred=[2], window=3, load_fn=lambda: load[0], cores=2)
        _steady(tuner, {2: 0.05, 1: 0.1}, 9)
        assert tuner.chosen == 1 and tuner.candidates == [1]  # still busy: two threads never tried
        load[0] = 0.5
        _steady(tuner, {2: 0.05, 1: 0.1}, 3)
        assert tuner.probing and "load average fell to 0.5" in tuner.remeasured[0]
        _steady(tuner, {2: 0.05, 1: 0.1}, 5)
        assert tuner.chosen == 2 and torch.get_num_threads() == 2
        fixed = ThreadTuner([3], reason="configured", adaptive=False)
        _steady(fixed, {3: 1.0}, 20)
        assert fixed.chosen == 3 and not fixed.remeasured and fixed.describe() == "3 (configured)"
    finally:
        torch.set_num_threads(before)
