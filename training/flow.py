"""Rectified flow (flow matching): the objective and a reference Euler sampler in one small class (minRF style).

Convention shared with diffusers' FlowMatchEulerDiscreteScheduler: x_sigma = (1 - sigma) x0 + sigma noise,
sigma = 1 is pure noise, and the model predicts the velocity v = noise - x0.
"""

import itertools
from collections.abc import Callable

import torch

# f(x_sigma, sigma, text_emb, text_mask) -> predicted velocity
VelocityFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class RectifiedFlow:
    """Flow-matching loss with logit-normal noise levels (SD3), per-sample losses for diagnostics."""

    def __init__(self, logit_mean: float = 0.0, logit_std: float = 1.0):
        self.logit_mean, self.logit_std = logit_mean, logit_std

    def sample_sigma(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise levels in (0, 1) from sigmoid(N(mean, std)): more weight on the middle of the path."""
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(n, generator=generator))

    @staticmethod
    def interpolate(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The point at noise level `sigma` on the straight path from data to noise."""
        s = sigma.view(-1, *([1] * (x0.dim() - 1)))
        return (1 - s) * x0 + s * noise

    def loss(
        self,
        velocity: VelocityFn,
        x0: torch.Tensor,
        emb: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        sigma: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        noise_generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean loss, per-sample loss, sigma). Pass `sigma`/`noise` for a fixed, reproducible evaluation.

        `noise_generator` (on x0's device) draws the noise there; without it the noise comes from
        `generator` on the CPU."""
        if sigma is None:
            sigma = self.sample_sigma(x0.shape[0], generator)
        if noise is None and noise_generator is not None:
            noise = torch.randn(x0.shape, generator=noise_generator, device=x0.device, dtype=x0.dtype)
        elif noise is None:
            noise = torch.randn(x0.shape, generator=generator)
        sigma, noise = sigma.to(x0.device), noise.to(x0.device, x0.dtype)
        x_sigma = self.interpolate(x0, noise, sigma)
        pred = velocity(x_sigma, sigma, emb, mask)
        per_sample = (pred.float() - (noise - x0).float()).pow(2).flatten(1).mean(1)
        return per_sample.mean(), per_sample.detach(), sigma

    @torch.no_grad()
    def sample(
        self,
        velocity: VelocityFn,
        noise: torch.Tensor,
        emb: torch.Tensor,
        mask: torch.Tensor,
        steps: int,
        null_emb: torch.Tensor | None = None,
        null_mask: torch.Tensor | None = None,
        guidance: float = 1.0,
    ) -> torch.Tensor:
        """Euler integration from sigma = 1 to 0 with optional classifier-free guidance."""
        x = noise
        sigmas = torch.linspace(1.0, 0.0, steps + 1)
        for s, s_next in itertools.pairwise(sigmas):
            sig = s.expand(x.shape[0]).to(x.device)
            v = velocity(x, sig, emb, mask)
            if null_emb is not None and guidance != 1.0:
                v_null = velocity(x, sig, null_emb, null_mask)
                v = v_null + guidance * (v - v_null)
            x = x + (s_next - s) * v
        return x


def sigma_bins(
    sigma: torch.Tensor, per_sample: torch.Tensor, bins: int = 4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of loss and count per noise-level bin (bin 0 is the least noisy quarter), as tensors on the
    loss's device: reading them every step would make a GPU wait for the host."""
    idx = (sigma.clamp(0, 1 - 1e-6) * bins).long()
    sums = torch.bincount(idx, weights=per_sample.float(), minlength=bins)
    return sums, torch.bincount(idx, minlength=bins)
