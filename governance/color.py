"""A colour-aware check beside the grey-scale pHash.

pHash sees only luminance structure, so the same emoji in five skin tones, different flags with the
same layout, or a recoloured icon hash alike. The colour hash is the mean colour of a 16x16 grid of
cells; two images are the same picture only if every cell's channels agree within the threshold
(the largest difference, not the mean: a skin tone on a small face changes only a few cells, and
an 8x8 grid or a mean over cells merged skin-tone variants of the same emoji).
"""

import numpy as np
from PIL import Image

GRID = 16


def color_hash(small: np.ndarray) -> str:
    """Hex string of the 16x16 grid of mean RGB colours (768 bytes) of an RGB uint8 image."""
    cells = Image.fromarray(small).resize((GRID, GRID), Image.Resampling.BOX)
    return np.asarray(cells, dtype=np.uint8).tobytes().hex()


def color_array(hashes: list[str] | np.ndarray) -> np.ndarray:
    """Colour hashes as an (N, 768) uint8 array."""
    return (
        np.stack([np.frombuffer(bytes.fromhex(h), dtype=np.uint8) for h in hashes])
        if len(hashes)
        else np.zeros((0, GRID * GRID * 3), dtype=np.uint8)
    )


def color_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest absolute difference over cells and channels, in 0..1 (rows of a against rows of b)."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1) / 255.0
