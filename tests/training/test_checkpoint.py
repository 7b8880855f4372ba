import torch

from training import checkpoint as ckpt
from training import sharding


def _trained_optimizer():
    # nested, so that parameter names hold dots ("1.0.weight"), as a real denoiser's do
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.Linear(4, 3)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, foreach=True)
    for _ in range(3):
        model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    return model, opt


def test_optimizer_state_round_trips_without_pickle(tmp_path):
    model, opt = _trained_optimizer()
    ckpt.save_optimizer(sharding.optimizer_state(model, opt), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"optimizer.safetensors", "optimizer.json"}
    fresh = torch.optim.AdamW(model.parameters(), lr=5.0, foreach=True)
    sharding.load_optimizer_state(model, fresh, ckpt.load_optimizer(tmp_path))
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for idx, state in a["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["state"][idx][key]))


def test_rng_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(5)
    ckpt.save_rng(gen, tmp_path, rank=0)
    expected = torch.rand(3, generator=gen)
    other = torch.Generator().manual_seed(99)
    assert ckpt.load_rng(other, tmp_path, rank=0)
    assert torch.equal(torch.rand(3, generator=other), expected)
    assert not ckpt.load_rng(other, tmp_path, rank=1)


def test_half_written_checkpoints_are_invisible_and_rotation_keeps_newest(tmp_path):
    for step in (1, 2, 3):
        tmp = ckpt.tmp_dir_for(tmp_path, step)
        tmp.mkdir(parents=True)
        (tmp / ckpt.STATE_FILE).write_text("{}")
        ckpt.publish(tmp, tmp_path, step, keep=2)
    # a crash while writing step 4 leaves only a temporary directory
    ckpt.tmp_dir_for(tmp_path, 4).mkdir()
    # and a directory without its state file is not complete either
    (tmp_path / ckpt.checkpoint_name(5)).mkdir()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["checkpoint-00000002", "checkpoint-00000003"]
    assert ckpt.latest_checkpoint(tmp_path).name == "checkpoint-00000003"
    ckpt.clean_temporaries(tmp_path)
    assert not ckpt.tmp_dir_for(tmp_path, 4).exists()
