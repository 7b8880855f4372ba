"""Exponential moving average of the denoiser's weights, kept as a full module copy (diffusers' EMAModel idea).

Under FSDP the average is kept as shards beside the model's own shards (no communication per step);
`gather` fills the full module when it is needed: checkpoints, sample grids, the final model. Only the
main process does those, so only it keeps the full module; the others hold their shards alone.
"""

import copy

import torch


class EMA:
    """EMA weights with a warm-up of the decay, so short runs are not dominated by the initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).requires_grad_(False).eval()
        self.updates = 0
        self.shards: list[torch.Tensor] | None = None  # DTensors when the model is sharded
        self.names: list[str] = []  # the shards' parameter names

    def shard_like(self, sharded_model: torch.nn.Module, keep_full: bool) -> None:
        """Keep the average as shards of `sharded_model`'s parameters (built from the same weights).

        `keep_full`: whether this process keeps the full module (the main process, which writes
        checkpoints, grids and the model); the others drop it, so each holds 1/N of the average.
        """
        named = list(sharded_model.named_parameters())
        self.names = [name for name, _ in named]
        self.shards = [p.detach().clone() for _, p in named]
        if not keep_full:
            self.model = None  # type: ignore[assignment]

    def current_decay(self) -> float:
        """min(decay, (1 + n) / (10 + n)): the usual warm-up (as in diffusers' EMAModel)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """ema <- decay * ema + (1 - decay) * model, for all floating-point parameters."""
        decay = self.current_decay()
        targets = self.shards if self.shards is not None else list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(targets, params, 1.0 - decay)
        self.updates += 1

    @torch.no_grad()
    def gather(self) -> None:
        """Copy the sharded average into the full module. Collective: every process must call it."""
        if self.shards is None:
            return
        params = dict(self.model.named_parameters()) if self.model is not None else {}
        for name, shard in zip(self.names, self.shards, strict=True):
            full = shard.full_tensor()  # type: ignore[attr-defined]
            if name in params:
                params[name].copy_(full)

    @torch.no_grad()
    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load full EMA weights (and re-shard them when sharded; collective then)."""
        if self.model is not None:
            self.model.load_state_dict(state)
        if self.shards is None:
            return
        from torch.distributed.tensor import distribute_tensor

        for name, shard in zip(self.names, self.shards, strict=True):
            full = state[name].to(device=shard.device, dtype=shard.dtype)
            shard.copy_(distribute_tensor(full, shard.device_mesh, shard.placements))  # type: ignore[attr-defined]

    def state(self) -> dict[str, int]:
        """Counters for the checkpoint (the weights are saved as a model)."""
        return {"updates": self.updates}

    def load_state(self, state: dict[str, int]) -> None:
        self.updates = int(state["updates"])
