"""Metrics that need weights the user supplies: real Inception FID/KID and a real CLIP score.

Nothing here downloads anything; without a local path the metric is reported as not computed.
"""

from pathlib import Path

import numpy as np

from audits.report import Metric
from governance.components import installed_version


def _version(dist: str) -> str:
    return installed_version(dist) or "not installed"


def inception_fid(weights: str, generated: np.ndarray, real: np.ndarray) -> tuple[list[Metric], list[str]]:
    """FID and KID in Inception-v3 pool features with torchmetrics and a local torch-fidelity weights file."""
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"audits.quality.inception_weights: {path} is not a file (pt_inception-2015-12-05)"
        )
    try:
        import torch
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError:
        return [], [
            "real Inception FID/KID not computed: pip install torchmetrics torch-fidelity "
            "(the weights file was given)"
        ]
    fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(path))
    subset = min(len(generated), len(real), 100)
    kid = KernelInceptionDistance(feature=2048, subset_size=subset, feature_extractor_weights_path=str(path))
    for metric in (fid, kid):
        metric.update(torch.from_numpy(real).permute(0, 3, 1, 2).contiguous(), real=True)
        metric.update(torch.from_numpy(generated).permute(0, 3, 1, 2).contiguous(), real=False)
    kid_mean, kid_std = kid.compute()
    details = {
        "generated": len(generated),
        "real": len(real),
        "resize": "torch-fidelity bilinear to 299 px",
        "torchmetrics": _version("torchmetrics"),
        "torch-fidelity": _version("torch-fidelity"),
    }
    return [
        Metric(
            name="fid_inception_v3",
            value=float(fid.compute()),
            implementation="torchmetrics FrechetInceptionDistance",
            feature_network=f"Inception-v3 (pt_inception, {path.name})",
            details=details,
        ),
        Metric(
            name="kid_inception_v3",
            value=float(kid_mean),
            implementation="torchmetrics KernelInceptionDistance",
            feature_network=f"Inception-v3 (pt_inception, {path.name})",
            details={**details, "std": float(kid_std), "subset_size": subset},
        ),
    ], []


def clip_score(model_path: str, images: np.ndarray, prompts: list[str]) -> Metric:
    """CLIP score (100 x cosine, floored at 0, averaged) with a local Hugging Face CLIP model."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(
            f"audits.quality.clip_model: {path} does not exist (a local CLIP model directory)"
        )
    model = CLIPModel.from_pretrained(path).eval()
    processor = CLIPProcessor.from_pretrained(path)
    with torch.inference_mode():
        inputs = processor(
            text=prompts, images=list(images), return_tensors="pt", padding=True, truncation=True
        )
        out = model(**inputs)
        img = torch.nn.functional.normalize(out.image_embeds, dim=-1)
        txt = torch.nn.functional.normalize(out.text_embeds, dim=-1)
        score = (100 * (img * txt).sum(-1)).clamp(min=0).mean()
    return Metric(
        name="clip_score",
        value=float(score),
        implementation="transformers CLIPModel, 100 x max(cos, 0)",
        feature_network=f"CLIP ({path.name})",
        details={
            "images": len(images),
            "transformers": _version("transformers"),
            "resize": "CLIPProcessor (bicubic, centre crop)",
        },
    )
