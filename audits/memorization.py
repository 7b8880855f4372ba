"""Memorization / replication: the nearest training image of each generated image.

In the spirit of Carlini et al. (2023), "Extracting training data from diffusion models": generate from
training captions with several seeds and call an output a replication when a training image is within
a small pixel distance. Candidates come from two cheap vectorised indexes (the perceptual hash, as in
dedup, and 8x8 colour thumbnails) plus the record of the caption itself; only those candidates are
compared in full pixels, so no all-pairs comparison at full resolution is ever made.
"""

from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

from governance.components import Component, library

PIXEL_DISTANCE = "mean absolute pixel difference in [0, 1] at the model's resolution (RGB on white)"
CORRELATION_DISTANCE = (
    "1 - Pearson correlation of the pixels, averaged over R, G, B, at the model's resolution: blind to the "
    "global colour and contrast shifts that classifier-free guidance adds to a copied image"
)
DISTANCES = {"correlation": CORRELATION_DISTANCE, "pixel": PIXEL_DISTANCE}
# Flat channels (std under 2 grey levels) correlate with nothing rather than with everything.
_MIN_STD = 2.0 / 255


@dataclass
class NearestTraining:
    """Per generated image: the nearest training image, the distance to it, and their pixel distance."""

    index: np.ndarray  # (N,) int
    distance: np.ndarray  # (N,) float, in the metric asked for
    pixel_distance: np.ndarray  # (N,) float in [0, 1]: identical images are 0 in any metric


def pixel_distances(image: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Mean absolute difference in [0, 1] between one float image (H,W,3) and candidates (K,H,W,3)."""
    return np.abs(candidates - image).mean(axis=(1, 2, 3))


def correlation_distances(image: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """1 - mean per-channel Pearson correlation between one float image and each candidate, in [0, 2]."""
    g = image.reshape(-1, 3)
    t = candidates.reshape(len(candidates), -1, 3)
    gc, tc = g - g.mean(axis=0), t - t.mean(axis=1, keepdims=True)
    g_std, t_std = np.sqrt((gc**2).mean(axis=0)), np.sqrt((tc**2).mean(axis=1))
    corr = (gc[None] * tc).mean(axis=1) / np.maximum(g_std * t_std, _MIN_STD**2)
    return 1.0 - corr.mean(axis=1)


def phashes(images: np.ndarray) -> np.ndarray:
    """64-bit perceptual hashes (imagehash.phash) as uint64, one per uint8 RGB image."""
    out = np.zeros(len(images), dtype=np.uint64)
    for i, img in enumerate(images):
        bits = imagehash.phash(Image.fromarray(img)).hash.flatten()
        out[i] = np.packbits(bits.astype(np.uint8)).view(">u8")[0]
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances (len(a), len(b)) between uint64 hashes, vectorised."""
    return np.bitwise_count(np.bitwise_xor(a[:, None], b[None, :])).astype(np.int16)


def thumbnails(images: np.ndarray, side: int = 8) -> np.ndarray:
    """Block-averaged (side x side x 3) thumbnails in [0, 1], flattened: a cheap colour index."""
    n, h, w, _ = images.shape
    fh, fw = max(1, h // side), max(1, w // side)
    crop = images[:, : fh * side, : fw * side].astype(np.float32) / 255.0
    return crop.reshape(n, side, fh, side, fw, 3).mean(axis=(2, 4)).reshape(n, -1)


def nearest_training(
    generated: np.ndarray,
    train_images: np.ndarray,
    candidates: int = 64,
    train_hashes: np.ndarray | None = None,
    extra: list[list[int]] | None = None,
    metric: str = "correlation",
    chunk: int = 64,
    exclude: np.ndarray | None = None,
) -> NearestTraining:
    """Nearest training image of each generated image among pHash / thumbnail / `extra` candidates.

    `metric` is "correlation" (default) or "pixel"; see `DISTANCES`. `exclude[i]` is a training index
    query i may not match (the query itself, when training images are compared with each other).
    """
    if metric not in DISTANCES:
        raise ValueError(f"memorization metric {metric!r} unknown; use one of {sorted(DISTANCES)}")
    if generated.shape[1:] != train_images.shape[1:]:
        raise ValueError(
            f"generated {generated.shape[1:]} and training {train_images.shape[1:]} images differ"
        )
    if len(train_images) - (exclude is not None) < 1:
        raise ValueError("memorization: no training images to compare with")
    measure = correlation_distances if metric == "correlation" else pixel_distances
    hashes = phashes(train_images) if train_hashes is None else train_hashes
    gen_hashes = phashes(generated)
    train_thumbs, gen_thumbs = thumbnails(train_images), thumbnails(generated)
    k = min(candidates + (exclude is not None), len(train_images))
    index = np.zeros(len(generated), dtype=np.int64)
    distance, pixel = np.zeros(len(generated)), np.zeros(len(generated))
    train_f = train_images.astype(np.float32) / 255.0
    for start in range(0, len(generated), chunk):
        stop = min(start + chunk, len(generated))
        by_hash = np.argpartition(hamming(gen_hashes[start:stop], hashes), k - 1, axis=1)[:, :k]
        thumb_d = np.abs(gen_thumbs[start:stop, None] - train_thumbs[None]).mean(axis=2)
        by_thumb = np.argpartition(thumb_d, k - 1, axis=1)[:, :k]
        for row, i in enumerate(range(start, stop)):
            own = (extra or [[]] * len(generated))[i]
            cand = np.unique(np.concatenate([by_hash[row], by_thumb[row], own])).astype(np.int64)
            if exclude is not None:
                cand = cand[cand != exclude[i]]
            image = generated[i].astype(np.float32) / 255.0
            d, px = measure(image, train_f[cand]), pixel_distances(image, train_f[cand])
            # identical pixels are a copy in any metric (flat images have no defined correlation)
            d = np.where(px < 0.5 / 255, 0.0, d)
            best = int(np.argmin(d))
            index[i], distance[i], pixel[i] = cand[best], float(d[best]), float(px[best])
    return NearestTraining(index=index, distance=distance, pixel_distance=pixel)


def imagehash_component() -> Component:
    """Licence disclosure of the perceptual-hash library used for the candidate index."""
    return library("imagehash", name="ImageHash (pHash)")
