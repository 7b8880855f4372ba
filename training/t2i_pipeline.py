"""The project's text-to-image diffusers pipeline: a flow-matching denoiser conditioned on a frozen text encoder.

This file is copied beside the weights as `pipeline.py` (model_index.json names it), so it must import
only torch, diffusers and transformers: `DiffusionPipeline.from_pretrained(DIR, trust_remote_code=True)`
loads it without this project installed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler, ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

# The flow-matching scheduler's timesteps are sigma * 1000; training feeds the denoiser the same scale.
TIMESTEP_SCALE = 1000.0


def call_denoiser(
    denoiser: torch.nn.Module,
    x: torch.Tensor,
    sigma: torch.Tensor,
    text_emb: torch.Tensor,
    text_mask: torch.Tensor,
) -> torch.Tensor:
    """Predict the flow velocity (noise - data) at noise level `sigma` in [0, 1] for either architecture."""
    timestep = sigma * TIMESTEP_SCALE
    # torch.compile and DDP wrap the model (in that order); the inner class tells the signature
    inner = getattr(denoiser, "_orig_mod", denoiser)
    inner = getattr(inner, "module", inner)
    if type(inner).__name__ == "PixArtTransformer2DModel":
        return denoiser(
            x,
            encoder_hidden_states=text_emb,
            timestep=timestep,
            encoder_attention_mask=text_mask,
            added_cond_kwargs={"resolution": None, "aspect_ratio": None},
        ).sample
    return denoiser(x, timestep, encoder_hidden_states=text_emb, encoder_attention_mask=text_mask).sample


def encode_text(
    tokenizer, text_encoder, prompts: list[str], max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token embeddings (last hidden state) and the attention mask, padded to `max_tokens`."""
    tokens = tokenizer(
        prompts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt"
    )
    device = next(text_encoder.parameters()).device
    with torch.no_grad():
        out = text_encoder(
            input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
        )
    return out.last_hidden_state.float(), tokens["attention_mask"].to(device)


class T2IPipeline(DiffusionPipeline):
    """Text-to-image sampling with classifier-free guidance through a flow-matching Euler scheduler.

    Pixel space when `vae` is None, latent space otherwise. Deterministic for a given `generator` seed.
    """

    model_cpu_offload_seq = "text_encoder->denoiser->vae"
    _optional_components: ClassVar[list[str]] = ["vae"]

    def __init__(
        self,
        denoiser,
        scheduler: FlowMatchEulerDiscreteScheduler,
        text_encoder,
        tokenizer,
        vae=None,
        max_text_tokens: int = 32,
        default_steps: int = 20,
        default_guidance_scale: float = 3.0,
        run_id: str | None = None,
        model_name: str | None = None,
        watermark_method: str | None = None,
    ):
        super().__init__()
        self.register_modules(
            denoiser=denoiser, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer, vae=vae
        )
        self.register_to_config(
            max_text_tokens=max_text_tokens,
            default_steps=default_steps,
            default_guidance_scale=default_guidance_scale,
            run_id=run_id,
            model_name=model_name,
            watermark_method=watermark_method,
        )
        self._output_credentials = None  # set_provenance's, or a throw-away made on first save_image
        self._training_mining = "notAllowed"

    def set_provenance(
        self, run_id: str, model_name: str, credentials=None, training_mining: str = "notAllowed"
    ) -> None:
        """Name the run and model `save_image` signs for; `credentials` from the project's signing config."""
        self.register_to_config(run_id=run_id, model_name=model_name)
        self._output_credentials, self._training_mining = credentials, training_mining

    def save_image(self, image: Image.Image, path, watermark: bool = True):
        """Write a generated image as PNG: watermark, IPTC/XMP metadata, then the signed C2PA manifest.

        Needs the t2i-pipeline project installed (its watermark and signing code, and c2pa-python); the
        rest of this class needs only diffusers. Without configured credentials a throw-away key made
        once per pipeline signs: the manifest validates, but no verifier trusts its signer. The mark is
        the method saved in model_index.json (`training.output_watermark`); a model saved before the
        key existed keeps dwtDctSvd, which its earlier outputs carry.
        """
        try:
            from training.output_credentials import save_credentialed_png, throwaway_credentials
        except ImportError as exc:
            raise ImportError(
                f"save_image needs the t2i-pipeline project and c2pa-python installed ({exc}); "
                "`pip install t2i-pipeline` or save `pipe(...).images` yourself"
            ) from exc
        run_id, model_name = self.config.get("run_id"), self.config.get("model_name")
        if not run_id or not model_name:
            raise ValueError(
                "save_image: this pipeline names no run and model; call pipe.set_provenance(run_id, model_name)"
            )
        if self._output_credentials is None:
            self._output_credentials = throwaway_credentials(run_id)
        method = self.config.get("watermark_method") or "dwtDctSvd"
        return save_credentialed_png(
            image,
            path,
            run_id,
            model_name,
            self._output_credentials,
            self._training_mining,
            watermark,
            method=method,
        )

    def _latent_shape(self, batch: int) -> tuple[int, int, int, int]:
        cfg = self.denoiser.config
        size = cfg.sample_size
        return (batch, cfg.in_channels, size, size)

    def _decode(self, x: torch.Tensor) -> torch.Tensor:
        """Model space -> images in [0, 1], NCHW float."""
        if self.vae is not None:
            scale = getattr(self.vae.config, "scaling_factor", 1.0)
            shift = getattr(self.vae.config, "shift_factor", None) or 0.0
            x = self.vae.decode(x.to(self.vae.dtype) / scale + shift).sample
        return (x.float().clamp(-1, 1) + 1) / 2

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        num_images_per_prompt: int = 1,
        output_type: str = "pil",
        return_dict: bool = True,
    ):
        """Generate images for `prompt`; `output_type` is "pil", "np" (NHWC in [0,1]) or "pt" (NCHW in [0,1])."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        prompts = [p for p in prompts for _ in range(num_images_per_prompt)]
        steps = num_inference_steps or self.config.default_steps
        scale = self.config.default_guidance_scale if guidance_scale is None else guidance_scale
        device = self._execution_device
        dtype = self.denoiser.dtype
        max_tokens = self.config.max_text_tokens

        cond, cond_mask = encode_text(self.tokenizer, self.text_encoder, prompts, max_tokens)
        use_cfg = scale > 1.0
        if use_cfg:
            # The unconditional branch is the empty caption, exactly what caption dropout trained on.
            uncond, uncond_mask = encode_text(
                self.tokenizer, self.text_encoder, [""] * len(prompts), max_tokens
            )
            cond, cond_mask = torch.cat([uncond, cond]), torch.cat([uncond_mask, cond_mask])

        x = randn_tensor(
            self._latent_shape(len(prompts)), generator=generator, device=device, dtype=torch.float32
        )
        self.scheduler.set_timesteps(steps, device=device)
        for t in self.progress_bar(self.scheduler.timesteps):
            model_in = torch.cat([x, x]) if use_cfg else x
            sigma = (t / TIMESTEP_SCALE).expand(model_in.shape[0]).to(device)
            v = call_denoiser(self.denoiser, model_in.to(dtype), sigma, cond.to(dtype), cond_mask).float()
            if use_cfg:
                v_uncond, v_cond = v.chunk(2)
                v = v_uncond + scale * (v_cond - v_uncond)
            x = self.scheduler.step(v, t, x, return_dict=False)[0]

        images = self._decode(x)
        if output_type == "pt":
            out = images
        else:
            out = images.permute(0, 2, 3, 1).cpu().numpy()
            if output_type == "pil":
                out = [Image.fromarray((im * 255).round().astype(np.uint8)) for im in out]
        self.maybe_free_model_hooks()
        if not return_dict:
            return (out,)
        return ImagePipelineOutput(images=out)
