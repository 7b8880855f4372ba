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
    gen, noise = torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)
    ckpt.save_rng({"generator": gen, "noise_generator": noise}, tmp_path, rank=0)
    expected = torch.rand(3, generator=gen), torch.rand(3, generator=noise)
    other, other_noise = torch.Generator().manual_seed(99), torch.Generator().manual_seed(98)
    assert ckpt.load_rng({"generator": other, "noise_generator": other_noise}, tmp_path, rank=0)
    assert torch.equal(torch.rand(3, generator=other), expected[0])
    assert torch.equal(torch.rand(3, generator=other_noise), expected[1])
    assert not ckpt.load_rng({"generator": other}, tmp_path, rank=1)


def test_rng_from_a_checkpoint_without_the_noise_generator_asks_for_a_reseed(tmp_path):
    """A checkpoint written on a CPU (no device noise generator) resumed on a GPU: reseed, not half-restore."""
    ckpt.save_rng({"generator": torch.Generator().manual_seed(5)}, tmp_path, rank=0)
    wanted = {"generator": torch.Generator(), "noise_generator": torch.Generator()}
    assert not ckpt.load_rng(wanted, tmp_path, rank=0)


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
