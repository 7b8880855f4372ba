"""Sharded training (FSDP2) and state dicts that look the same with or without it.

With `sharding: fsdp` and several processes, every process holds 1/N of the weights, gradients and
optimiser state (torch's `fully_shard`, one unit per UNet level / transformer block, then the root);
otherwise every process holds a full replica (DDP through accelerate). Checkpoints always hold full
state dicts keyed by parameter name, so one written by sharded processes resumes unsharded, or on
another number of processes, and the other way round.
"""

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

# Gathered to CPU: under FSDP only the main process receives the tensors, the others an empty dict.
_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)
_LOAD_FULL = StateDictOptions(full_state_dict=True)


def shard_units(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks sharded as units of their own: each gathers its weights only while it runs."""
    units: list[torch.nn.Module] = []
    for name in ("down_blocks", "up_blocks", "transformer_blocks"):
        units += list(getattr(model, name, None) or [])
    mid = getattr(model, "mid_block", None)
    if mid is not None:
        units.append(mid)
    return units


def shard(model: torch.nn.Module, bf16: bool = False) -> int:
    """Shard `model` in place over the default process group; returns the number of FSDP units.

    Every process first takes the main process's weights (as DDP does), so the shards come from one
    initialisation even if the processes' random states differ. With `bf16`, the weights are gathered
    for compute in bf16 (half the bytes on the wire) and gradients are reduced in fp32; the shards,
    and so the optimiser's master weights, stay fp32.
    """
    import torch.distributed as dist
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            dist.broadcast(tensor.data, src=0)

    policy = (
        MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if bf16
        else MixedPrecisionPolicy()
    )
    units = shard_units(model)
    for unit in units:
        fully_shard(unit, mp_policy=policy)
    fully_shard(model, mp_policy=policy)  # the root: embeddings, norms and output layers not inside a unit
    return len(units) + 1


def local_share(model: torch.nn.Module) -> float:
    """The share of the model's parameters this process holds (1.0 unsharded; about 1/N under FSDP)."""
    total = sum(p.numel() for p in model.parameters())
    local = sum((p.to_local() if hasattr(p, "to_local") else p).numel() for p in model.parameters())
    return local / max(total, 1)


def _plain(opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
    # accelerate wraps the optimiser; the state-dict helpers need the torch one its parameters belong to
    return getattr(opt, "optimizer", opt)


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Full weights by name, on the CPU. Collective under FSDP: every process must call it."""
    return get_model_state_dict(model, options=_GATHER)


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load full weights (each process passes them all; a sharded model keeps its own shard)."""
    set_model_state_dict(model, state, options=_LOAD_FULL)


def optimizer_state(model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    """Full optimiser state keyed by parameter name. Collective under FSDP."""
    return get_optimizer_state_dict(model, _plain(opt), options=_GATHER)


def load_optimizer_state(model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a full optimiser state written by `optimizer_state` (sharded or not when it was saved)."""
    set_optimizer_state_dict(model, _plain(opt), optim_state_dict=state, options=_LOAD_FULL)
    # The helper hands group settings over as lists (Adam's betas); the optimiser made them tuples.
    for group in _plain(opt).param_groups:
        for key, value in group.items():
            if key != "params" and isinstance(value, list):
                group[key] = tuple(value)
