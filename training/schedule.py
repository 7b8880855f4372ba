"""Learning-rate schedule keyed to the fraction of the training budget spent (warm-up, stable, decay)."""


def lr_multiplier(fraction: float, warmup_fraction: float, decay_fraction: float) -> float:
    """Multiplier in [0, 1] of the peak learning rate at `fraction` of the budget.

    Linear warm-up over the first `warmup_fraction`, constant, then linear decay to 0 over the last
    `decay_fraction`. Keyed to time, not steps, so a slow machine anneals as fully as a fast one.
    """
    f = min(max(fraction, 0.0), 1.0)
    if warmup_fraction > 0 and f < warmup_fraction:
        return max(f / warmup_fraction, 1e-3)  # never exactly 0: the first step should move
    decay_start = 1.0 - decay_fraction
    if decay_fraction > 0 and f > decay_start:
        return max(0.0, (1.0 - f) / decay_fraction)
    return 1.0
