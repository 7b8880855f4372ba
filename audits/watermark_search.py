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


def _u_channel(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)[:, :, 1]


def _scores_of_low_band(low: np.ndarray, scale: float) -> np.ndarray:
    r, c = low.shape[0] // BLOCK, low.shape[1] // BLOCK
    blocks = low[: r * BLOCK, : c * BLOCK].reshape(r, BLOCK, c, BLOCK).transpose(0, 2, 1, 3)
    coeffs = _DCT @ blocks @ _DCT.T
    largest = np.linalg.svd(coeffs, compute_uv=False)[..., 0]
    return ((largest % scale) > scale * 0.5).astype(np.float64)


def block_scores(bgr: np.ndarray, scale: float) -> np.ndarray:
    """The library's per-block score (0/1) over the U channel, as a (rows, cols) grid."""
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    low, _ = pywt.dwt2(_u_channel(bgr)[:rows, :cols], "haar")
    return _scores_of_low_band(low, scale)


def _alignment_grids(bgr: np.ndarray, scale: float):
    """`(dy, dx, block_scores(bgr[dy:, dx:], scale))` for the 64 pixel alignments, in raster order.

    The same grids as calling `block_scores` 64 times, computed from 4 DWTs instead of 64: a Haar
    low-band coefficient depends only on its own 2x2 pixels, so the low band of `u[dy:, dx:]` is the
    low band of `u[dy % 2:, dx % 2:]` from row `dy // 2`, column `dx // 2` on (the same floating-point
    operations on the same pixels; `test_the_shared_dwt_gives_the_grids_of_each_alignment`).
    """
    u = _u_channel(bgr)
    lows = {}
    for py in range(2):
        for px in range(2):
            part = u[py:, px:]
            part = part[: part.shape[0] // 2 * 2, : part.shape[1] // 2 * 2]
            lows[py, px] = pywt.dwt2(part, "haar")[0]
    for dy in range(PIXELS):
        for dx in range(PIXELS):
            yield dy, dx, _scores_of_low_band(lows[dy % 2, dx % 2][dy // 2 :, dx // 2 :], scale)


def search_bits(
    bgr: np.ndarray, scale: float, tag: list[int], stop_at_full_match: bool = True
) -> tuple[np.ndarray, int]:
    """The bits under the crop hypothesis that best matches `tag`, and how many bits match.

    Early stop (`stop_at_full_match`): the search ends at the first hypothesis whose bits equal `tag`
    (32 of 32). The result is then exactly what the exhaustive search returns: no hypothesis can match
    more than 32, the exhaustive search keeps the first best one too, and a 32-of-32 hypothesis's bits
    are `tag` whichever hypothesis it is. It cannot add a false positive, since it only returns early
    with a full match, which the exhaustive search would also have found (and 31 of 32 already counts
    as found). An unmarked image has no full match, so it pays for all 2,048 hypotheses as before;
    stopping at 31 instead would be as safe for the found / not found answer but could return a
    payload one bit off from the one a later full match gives, so it is not done.
    `stop_at_full_match=False` is the exhaustive search (what the benchmark compares against).
    """
    want = np.asarray(tag)
    best, best_matches = np.zeros(BITS, dtype=int), -1
    for _dy, _dx, grid in _alignment_grids(bgr, scale):
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
                if matches == BITS and stop_at_full_match:
                    return best, best_matches
    return best, best_matches
