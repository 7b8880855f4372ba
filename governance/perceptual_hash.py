"""64-bit perceptual hashes stored as signed int64 (Parquet has no unsigned 64-bit in every reader)."""

import imagehash
import numpy as np
from PIL import Image


def phash_int64(small: np.ndarray) -> int:
    """imagehash's DCT pHash (8x8 bits) of an RGB uint8 image, as a signed int64."""
    bits = imagehash.phash(Image.fromarray(small)).hash.flatten()
    value = int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bit differences between int64 hashes (element-wise, broadcasting)."""
    # XOR as int64, popcount as uint64: numpy counts the bits of |x| for signed integers.
    xor = np.bitwise_xor(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    return np.bitwise_count(xor.view(np.uint64))


def _box_weights(source: int, target: int) -> np.ndarray:
    """(source, target) matrix averaging `source` samples into `target` equal bins (a box filter)."""
    edges = np.linspace(0, source, target + 1)
    lo, hi = np.arange(source)[:, None], np.arange(1, source + 1)[:, None]
    overlap = np.clip(np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1]), 0, None)
    return overlap / overlap.sum(axis=0, keepdims=True)


def grid_dhash_int64(colors: np.ndarray, grid: int = 16, chunk: int = 65536) -> np.ndarray:
    """A difference hash (dHash, 8x8 bits) of each stored colour grid, as int64: the second hash.

    Computed from the (N, grid*grid*3) uint8 colour grids the dedup pass already holds, so it costs
    no new evidence column. Each bit says whether brightness rises from one of 9 column bins to the
    next in one of 8 row bins: it keeps the pairs that pHash loses when re-encoding, palettes or a
    resize move DCT coefficients across their median (measured in benchmarks/near_duplicate_recall.py).
    """
    colors = np.asarray(colors, dtype=np.uint8)
    rows, cols = _box_weights(grid, 8), _box_weights(grid, 9)
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    out = np.zeros(len(colors), dtype=np.int64)
    for start in range(0, len(colors), chunk):  # in chunks: a float copy of 1M grids would be 3 GB
        part = colors[start : start + chunk].reshape(-1, grid, grid, 3).astype(np.float32) @ luma
        small = np.einsum("nij,ik,jl->nkl", part, rows, cols)
        bits = (small[:, :, 1:] > small[:, :, :-1] + 1e-3).reshape(len(part), 64).astype(np.uint8)
        out[start : start + chunk] = (
            np.packbits(bits, axis=1).view(">u8").astype(np.uint64).reshape(-1).view(np.int64)
        )
    return out
