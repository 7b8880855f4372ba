"""Reading the dwtDctSvd watermark from a cropped image, by searching where the crop was taken.

invisible-watermark's dwtDctSvd marks the U channel: a one-level Haar DWT, then 4x4 blocks of the
low band (8x8 pixels each), bit `n % 32` in block `n` counted in raster order. A crop moves the block
grid (pixel alignment modulo 8) and which bit each block holds (the block offset), so the library's
decoder reads noise from a cropped image. This module scores every block the way the library does,
vectorised (DCT as two 4x4 matrix products, the largest singular value in one batched SVD), for each
of the 64 pixel alignments, and for each of the 32 bit offsets takes the per-bit vote.

It assumes the marked image was a whole number of 32-block rows wide (256-px multiples: the 512-px
images `provenance_marks.mark_image` makes from 32-256 px models), so that a block's bit depends on
its column only. 2,048 hypotheses are compared with the expected tag, so a match needs 31 of 32 bits
(chance on an unmarked image, over all hypotheses: about 2 in 100,000) instead of the 29 of a plain read.
"""

import cv2
import numpy as np
import pywt

BLOCK = 4  # in the DWT low band, as the library's default
PIXELS = 2 * BLOCK  # one DWT level halves each side
BITS = 32
MIN_MATCHES_SEARCHED = 31


def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix (what cv2.dct applies to each axis of a float block)."""
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n))
    m[0] *= 1 / np.sqrt(2)
    return m * np.sqrt(2 / n)


_DCT = _dct_matrix(BLOCK)


def block_scores(bgr: np.ndarray, scale: float) -> np.ndarray:
    """The library's per-block score (0/1) over the U channel, as a (rows, cols) grid."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    u = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)[:rows, :cols, 1]
    low, _ = pywt.dwt2(u, "haar")
    r, c = low.shape[0] // BLOCK, low.shape[1] // BLOCK
    blocks = low[: r * BLOCK, : c * BLOCK].reshape(r, BLOCK, c, BLOCK).transpose(0, 2, 1, 3)
    coeffs = _DCT @ blocks @ _DCT.T
    largest = np.linalg.svd(coeffs, compute_uv=False)[..., 0]
    return ((largest % scale) > scale * 0.5).astype(np.float64)


def search_bits(bgr: np.ndarray, scale: float, tag: list[int]) -> tuple[np.ndarray, int]:
    """The bits under the crop hypothesis that best matches `tag`, and how many bits match."""
    want = np.asarray(tag)
    best, best_matches = np.zeros(BITS, dtype=int), -1
    for dy in range(PIXELS):
        for dx in range(PIXELS):
            grid = block_scores(bgr[dy:, dx:], scale)
            if grid.shape[1] < BITS:
                continue  # too narrow to hold every bit once per row
            columns = grid.mean(axis=0)
            sums = np.zeros(BITS)
            counts = np.zeros(BITS)
            np.add.at(sums, np.arange(len(columns)) % BITS, columns)
            np.add.at(counts, np.arange(len(columns)) % BITS, 1)
            per_column_bit = sums / counts
            for shift in range(BITS):
                bits = (np.roll(per_column_bit, shift) * 255 > 127).astype(int)
                matches = int((bits == want).sum())
                if matches > best_matches:
                    best, best_matches = bits, matches
                    if matches == BITS:
                        # no later hypothesis can beat it, and the search keeps the first best
                        return best, best_matches
    return best, best_matches
