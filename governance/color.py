"""A colour-aware check beside the grey-scale pHash.

pHash sees only luminance structure, so the same emoji in five skin tones, different flags with the
same layout, or a recoloured icon hash alike. The colour hash is the mean colour of a 16x16 grid of
cells of the picture's content square (see `content_square`); an 8x8 grid or a mean over cells
merged skin-tone variants of the same emoji: a skin tone on a small face changes only a few cells,
so the test is on the worst cell, never on an average.

`color_match_distance` is the pair verification the dedup pass uses. Before the worst cell is taken
it forgives a global brightness or contrast change: one gain and offset, shared by the three
channels, fitted to the pair (a copy 6% darker differs by 0.06 in every cell, above any useful
per-cell limit; a skin tone or a recoloured icon changes the channels by different amounts in part
of the picture, which no shared gain explains). It does not forgive a shift: comparing each cell
with the closest of its 3x3 neighbours merged different pictures (a frowning and a pouting face,
two clock faces) and gained almost no copies (benchmarks/near_duplicate_recall.py).
"""

import numpy as np

GRID = 16
MAX_GAIN = 1.15  # brightness or contrast changes beyond 15% are not forgiven
MAX_OFFSET = 0.1  # on the 0..1 scale
TRIM_TOLERANCE = 24  # levels of 255: a margin pixel may differ this much from the margin colour (JPEG noise)
WHITE = 250 / 255  # a cell this light in every channel is the white a transparent drawing sits on
RING_UNIFORM_SHARE = 0.5  # share of the outermost pixels that must have the margin colour to trim
# A content square smaller than this share of the image is its picture, not a border: Twemoji's small,
# medium and large squares are one shape on different margins (0.39, 0.61, 0.83 and 1.0 of the side),
# distinct emoji, while a scraper's border or a canvas of a few pixels more leaves more (2 px around a 32 px icon: 0.89).
MIN_TRIMMED_SHARE = 0.85


def content_square(
    small: np.ndarray, tolerance: int = TRIM_TOLERANCE, min_share: float = MIN_TRIMMED_SHARE
) -> tuple[np.ndarray, tuple]:
    """The margin colour and the box (float pixel coordinates) of the content's square.

    The square may reach past the image; what lies outside counts as margin colour. A content square
    under `min_share` of the shorter side is not trimmed (the pixel check passes 0 and compares the
    margins separately).

    A border added by a scraper, a crop of a few pixels of background or a different canvas size
    then leave the grid where it was. The margin is the colour of at least half of the outermost
    pixels (a photo or a full-bleed drawing is kept whole); the square keeps the aspect ratio (a 2:3
    flag and a 4:5 flag of the same colours stay apart) and is centred in float coordinates, so a
    copy at twice the size is framed exactly alike (integer centring moved it by half a pixel).
    """
    pixels = small.astype(np.int16)
    ring = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(ring, axis=0)
    height, width = small.shape[:2]
    whole = background, (0.0, 0.0, float(width), float(height))
    if (np.abs(ring - background).max(axis=1) <= tolerance).mean() < RING_UNIFORM_SHARE:
        return whole
    content = (np.abs(pixels - background.astype(np.int16)) > tolerance).any(axis=2)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if len(rows) == 0:
        return whole
    x0, x1, y0, y1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    half = max(x1 - x0, y1 - y0) / 2
    if 2 * half < min_share * min(width, height):
        return whole
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return background, (cx - half, cy - half, cx + half, cy + half)


def color_hash(small: np.ndarray) -> str:
    """Hex string of the 16x16 grid of mean RGB colours (768 bytes) of an RGB uint8 image's content square."""
    background, (left, top, right, bottom) = content_square(small)
    rows = _area_weights(small.shape[0], top, bottom)  # (height, GRID), each cell's share per pixel
    cols = _area_weights(small.shape[1], left, right)
    height, width = small.shape[:2]
    pixels = small.reshape(height, width * 3).astype(np.float32)
    by_rows = (rows.T @ pixels).reshape(GRID, width, 3)
    cells = np.matmul(by_rows.transpose(0, 2, 1), cols).transpose(0, 2, 1)
    outside = 1.0 - rows.sum(axis=0)[:, None] * cols.sum(axis=0)[None, :]  # share past the image
    cells += outside[:, :, None] * background[None, None, :].astype(np.float32)
    return np.clip(np.round(cells), 0, 255).astype(np.uint8).tobytes().hex()


def _area_weights(size: int, start: float, stop: float) -> np.ndarray:
    """(size, GRID): the share of each of GRID equal cells of [start, stop) that each pixel covers.

    Exact area means (PIL's BOX filter counts a pixel wholly or not at all, by its centre), so a
    copy at another scale gives the same cells: a drawing of 72 px has 4.5 pixels a cell. Columns sum
    to less than 1 where a cell reaches past the image.
    """
    edges = np.linspace(start, stop, GRID + 1)
    lo, hi = np.arange(size)[:, None], np.arange(1, size + 1)[:, None]
    overlap = np.clip(np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1]), 0, None)
    return (overlap / (edges[1] - edges[0])).astype(np.float32)


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


def tone_fit(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the shared gain and offset mapping a onto b (weighted least squares), within the limits."""
    total = np.maximum(weight.sum(axis=1), 1e-6)
    mean_a, mean_b = (weight * a).sum(axis=1) / total, (weight * b).sum(axis=1) / total
    da, db = a - mean_a[:, None], b - mean_b[:, None]
    var_a = (weight * da * da).sum(axis=1) / total
    cov = (weight * da * db).sum(axis=1) / total
    gain = np.where(var_a > 1e-6, cov / np.maximum(var_a, 1e-6), 1.0)
    gain = np.clip(gain, 1 / MAX_GAIN, MAX_GAIN)
    offset = np.clip(mean_b - gain * mean_a, -MAX_OFFSET, MAX_OFFSET)
    return gain, offset


def _worst_cell(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per pair, the largest difference over cells and channels (0..1)."""
    return np.abs(x - y).reshape(len(x), -1).max(axis=1)


def _toned_distance(fa: np.ndarray, fb: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distance after one fitted tone change of a, fitted and applied where `keep` is False."""
    gain, offset = tone_fit(fa, fb, (~keep).astype(np.float32))
    toned = np.where(keep, fa, fa * gain[:, None] + offset[:, None]).reshape(-1, GRID, GRID, 3)
    grid_b = fb.reshape(-1, GRID, GRID, 3)
    return _worst_cell(toned, grid_b), gain, offset


def color_match_distance(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance of paired colour grids after the forgiven tone change (see the module doc).

    `a` and `b` are (P, 768) uint8 rows from `color_array`, compared row by row. The tone change is
    fitted twice, to the whole picture (a copy darkened as a whole) and to all but the white cells
    that both share (a transparent drawing darkened before it was composited on white), and the
    closer fit counts. Returns the distance (0..1, the worst cell) and that fit's gain and offset.
    """
    fa = np.asarray(a, dtype=np.float32).reshape(len(a), -1) / 255.0
    fb = np.asarray(b, dtype=np.float32).reshape(len(b), -1) / 255.0
    white = np.repeat(((fa >= WHITE) & (fb >= WHITE)).reshape(len(a), -1, 3).all(axis=2), 3, axis=1)
    whole = _toned_distance(fa, fb, np.zeros_like(white))
    drawing = _toned_distance(fa, fb, white)
    better = drawing[0] < whole[0]
    distance, gain, offset = (np.where(better, d, w) for d, w in zip(drawing, whole, strict=True))
    return distance, gain, offset
