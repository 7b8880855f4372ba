"""The EMA kept as shards under FSDP: only the process that writes files keeps the full module."""

import torch
import torch.distributed as dist
from torch import nn

from training.ema import EMA


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_sharded_ema_loads_averages_and_gathers_by_parameter_name(tmp_path):
    from torch.distributed.fsdp import fully_shard

    # One process is enough to shard for real (DTensors on a mesh of one) and check the bookkeeping.
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        model = _model()
        main, other = EMA(model, decay=0.5), EMA(model, decay=0.5)
        fully_shard(model)
        main.shard_like(model, keep_full=True)
        other.shard_like(model, keep_full=False)
        assert other.model is None and main.model is not None
        # A checkpoint's weights, distinct per parameter, land in the shard of that name.
        state = {
            name: torch.full_like(p, float(i)) for i, (name, p) in enumerate(_model().named_parameters())
        }
        for ema in (main, other):
            ema.load_weights(state)
            assert [s.full_tensor().flatten()[0].item() for s in ema.shards] == [0.0, 1.0, 2.0, 3.0]
        # The average moves towards the model, shards only; gathering fills the main process's module.
        before = {n: p.clone() for n, p in main.model.named_parameters()}
        for ema in (main, other):
            ema.update(model)  # first update: decay (1 + 0) / 10 = 0.1
            ema.gather()  # every process takes part; only the main one has a module to fill
        for (name, p), shard in zip(model.named_parameters(), main.shards, strict=True):
            expected = 0.1 * state[name] + 0.9 * p.full_tensor().detach()
            torch.testing.assert_close(shard.full_tensor(), expected)
            torch.testing.assert_close(dict(main.model.named_parameters())[name], expected)
            assert not torch.equal(before[name], expected)
        for a, b in zip(main.shards, other.shards, strict=True):
            torch.testing.assert_close(a.full_tensor(), b.full_tensor())
    finally:
        dist.destroy_process_group()
