"""FSDP on a one-process mesh: real DTensors and hooks, enough to check the bookkeeping in-process."""

import pytest
import torch
import torch.distributed as dist
from torch import nn

from training import sharding
from training.ema import EMA


@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def test_sharded_ema_loads_averages_and_gathers_by_parameter_name(one_process_group):
    from torch.distributed.fsdp import fully_shard

    model = _model()
    main, other = EMA(model, decay=0.5), EMA(model, decay=0.5)
    fully_shard(model)
    main.shard_like(model, keep_full=True)
    other.shard_like(model, keep_full=False)
    assert other.model is None and main.model is not None
    # A checkpoint's weights, distinct per parameter, land in the shard of that name.
    state = {name: torch.full_like(p, float(i)) for i, (name, p) in enumerate(_model().named_parameters())}
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


class _Blocks(nn.Module):
    """Shaped like a transformer preset: `transformer_blocks` become FSDP units of their own."""

    def __init__(self):
        super().__init__()
        self.transformer_blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        for block in self.transformer_blocks:
            x = block(x)
        return self.out(x)


@pytest.mark.parametrize("bf16", [False, True])
def test_bf16_sharding_computes_in_bf16_and_keeps_fp32_shards(one_process_group, bf16):
    torch.manual_seed(0)
    model = _Blocks()
    assert sharding.shard(model, bf16=bf16) == 3  # two blocks, then the root
    weights, outputs = [], []
    for block in model.transformer_blocks:
        # registered after FSDP's own hooks: the weight is gathered here, and resharded after forward
        block.register_forward_pre_hook(lambda mod, args: weights.append(mod.weight.dtype))
        block.register_forward_hook(lambda mod, args, out: outputs.append(out.dtype))
    model(torch.randn(3, 4)).float().sum().backward()
    wanted = torch.bfloat16 if bf16 else torch.float32
    assert weights == outputs == [wanted, wanted]
    # the shards (the optimiser's master weights) and their gradients stay fp32
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert {p.grad.dtype for p in model.parameters()} == {torch.float32}
