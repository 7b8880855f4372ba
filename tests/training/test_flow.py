import torch

from training.flow import RectifiedFlow, sigma_bins


def test_interpolation_endpoints():
    x0, noise = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    flow = RectifiedFlow()
    assert torch.allclose(flow.interpolate(x0, noise, torch.zeros(3)), x0)
    assert torch.allclose(flow.interpolate(x0, noise, torch.ones(3)), noise)


def test_oracle_velocity_has_zero_loss_and_sampler_recovers_data():
    """For a single data point the true velocity is noise - x0 along the whole path."""
    x0 = torch.randn(1, 3, 4, 4)

    def oracle(x, sigma, emb, mask):
        s = sigma.view(-1, 1, 1, 1)
        noise = (x - (1 - s) * x0) / s  # invert the interpolation
        return noise - x0

    flow = RectifiedFlow()
    gen = torch.Generator().manual_seed(0)
    loss, per_sample, sigma = flow.loss(oracle, x0.expand(4, -1, -1, -1), None, None, generator=gen)
    assert float(loss) < 1e-8 and per_sample.shape == (4,) and ((sigma > 0) & (sigma < 1)).all()
    out = flow.sample(oracle, torch.randn(1, 3, 4, 4, generator=gen), None, None, steps=5)
    assert torch.allclose(out, x0, atol=1e-4)


def test_wrong_velocity_is_penalised_and_fixed_noise_is_reproducible():
    flow = RectifiedFlow()
    x0 = torch.randn(8, 3, 4, 4)
    zero = lambda x, s, e, m: torch.zeros_like(x)  # noqa: E731
    sigma, noise = torch.full((8,), 0.5), torch.randn(8, 3, 4, 4)
    a, _, _ = flow.loss(zero, x0, None, None, sigma=sigma, noise=noise)
    b, _, _ = flow.loss(zero, x0, None, None, sigma=sigma, noise=noise)
    assert float(a) > 0.5 and float(a) == float(b)


def test_logit_normal_sigmas_concentrate_in_the_middle():
    sigma = RectifiedFlow().sample_sigma(20000, torch.Generator().manual_seed(0))
    middle = ((sigma > 0.25) & (sigma < 0.75)).float().mean()
    assert middle > 0.6  # a uniform draw would give 0.5


def test_sigma_bins_count_every_sample():
    sigma = torch.tensor([0.1, 0.3, 0.6, 0.9, 0.95])
    sums, counts = sigma_bins(sigma, torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert counts.tolist() == [1, 1, 1, 2]
    assert sums.tolist() == [1.0, 2.0, 3.0, 9.0]
