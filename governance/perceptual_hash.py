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
