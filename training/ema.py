"""Exponential moving average of the denoiser's weights, kept as a full module copy (diffusers' EMAModel idea)."""

import copy

import torch


class EMA:
    """EMA weights with a warm-up of the decay, so short runs are not dominated by the initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False).eval()
        self.updates = 0

    def current_decay(self) -> float:
        """min(decay, (1 + n) / (10 + n)): the usual warm-up (as in diffusers' EMAModel)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """ema <- decay * ema + (1 - decay) * model, for all floating-point parameters and buffers."""
        decay = self.current_decay()
        ema_params = [p for p in self.model.parameters()]
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        self.updates += 1

    def state(self) -> dict[str, int]:
        """Counters for the checkpoint (the weights are saved as a model)."""
        return {"updates": self.updates}

    def load_state(self, state: dict[str, int]) -> None:
        self.updates = int(state["updates"])
