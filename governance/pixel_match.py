"""Pixel verification of a near-duplicate candidate: the two images themselves, aligned and compared.

The colour grid stored at ingest (governance.color) is 16x16 cells of a content square whose trim is
limited, so a resize of a small icon, a lossy re-encode or a crop moves sharp edges across cells and
the worst cell rejects a true copy. Here each image of a candidate pair is reduced once to a small
`Thumbnail` (its content square, anti-aliased, at most THUMB_SIDE pixels; nothing else is kept per
record) and the pair is aligned under two hypotheses, the closer one counting:

- *same framing* (a re-encode, a uniform border, a large image resized): each image is trimmed to
  the square of its content, whatever its share of the side, and both are resampled (Lanczos, so
  anti-aliased) to the smaller content's side, at most SIDE;
- *same resize* (a small icon or emoji resized up or down, the commonest scraper transform): the
  larger of the two decoded copies is resized to the smaller's exact pixel grid with each of the
  usual kernels (nearest, bilinear, bicubic, Lanczos, box) and the closest counts, so nothing but
  that resampling is forgiven. Comparing a 36 px copy with its 72 px original at one common side
  instead left differences of 0.1-0.3 at sharp edges (nearest-neighbour resizes of palette images
  keep every other pixel), above any limit that keeps skin tones apart;
- *same scale* (a crop, a border): both are brought to the same pixel scale from their original
  sizes and the smaller is located inside the larger by normalised cross-correlation
  (scikit-image's `match_template`); it must cover most of the larger image.

The last two are tried only when the original sizes differ (a crop or a resize changes the size), so
a dataset of equally sized images (an emoji set) never pays them. The aligned pair is compared after a
light blur by the largest local colour difference, any channel (what an average hides: a skin tone on
a small face, a recoloured stripe of a flag, a mouth). No brightness change is forgiven here: the
colour grid's check forgives it, and a shared gain here would turn one skin tone into the next (a hand
emoji is skin only). Under the same framing the margins are compared too: Twemoji draws one square on
margins of 0.39, 0.61, 0.83 and 1.0 of the side, and those are distinct emoji.

Each image is reduced once to a small `Thumbnail` (its content square, at most THUMB_SIDE pixels) kept
in a bounded cache, so a record's many candidates decode it once; the blurred copy at a common side is
computed once per side. SSIM is recorded for merges only (it costs more than the decision).
"""

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps
from scipy.ndimage import gaussian_filter
from skimage.feature import match_template
from skimage.metrics import structural_similarity

from governance.color import WHITE, content_square
from governance.images import ImageFailure, ImageLimits, decode, read_bytes

SIDE = 32  # the largest common side aligned content is compared at
MIN_SIDE = 8  # below this SSIM has no window to work with
CANVAS_SIDE = 48  # two images of one size are compared whole, within this side
THUMB_SIDE = 64  # a thumbnail keeps its content square at most this large (12 KB as uint8)
BLUR_SIGMA = 1.0  # pixels at the common side: an edge moved by resampling is spread, a patch is not
MIN_COVER = 0.8  # same scale: the smaller image must span this share of each side of the larger
SEARCH_SIDE = 96  # same scale: the cross-correlation runs on copies at most this large
CACHE_SIZE = 4096  # thumbnails kept (~15 KB each): a record's neighbours are checked together


@dataclass(frozen=True)
class PixelMatch:
    """The comparison of two images after alignment: what the decision records."""

    alignment: str  # "framing", "resize" or "scale": the hypothesis that fitted better
    difference: float  # largest blurred colour difference, any channel (0..1)
    share_ratio: float  # same framing: the larger margin share over the smaller (1.0: framed alike)
    side: int  # the side (shorter side for a resize) the pair was compared at
    aligned: tuple[np.ndarray, np.ndarray] = field(repr=False, compare=False)  # the two compared arrays

    @property
    def ssim(self) -> float:
        """Structural similarity of the aligned pair (1.0 identical), on their luminance."""
        a, b = (x @ np.array([0.299, 0.587, 0.114], dtype=np.float32) for x in self.aligned)
        window = min(7, min(a.shape[:2]) // 2 * 2 - 1)
        return float(structural_similarity(a, b, data_range=1.0, win_size=window))

    def evidence(self, ssim: bool = True) -> dict:
        """Rounded values for the manifest (SSIM only when asked: it costs more than the decision)."""
        return {
            "pixel_alignment": self.alignment,
            "pixel_difference": round(self.difference, 4),
            "pixel_share_ratio": round(self.share_ratio, 3),
            "pixel_side": self.side,
        } | ({"pixel_ssim": round(self.ssim, 4)} if ssim else {})


@dataclass(eq=False)
class Thumbnail:
    """What the pixel check keeps of one image: its content square, small, and where it came from."""

    content: np.ndarray  # uint8 (n, n, 3), n = min(THUMB_SIDE, the content's side), anti-aliased
    side: float  # the content square's side in the decoder's small copy, pixels
    share: float  # that side over the image's shorter side (1.0: not trimmed)
    width: int  # original size
    height: int
    canvas: np.ndarray | None = None  # uint8: the whole image, aspect kept, within SIDE x SIDE, blurred later
    _at: dict = field(default_factory=dict, repr=False)  # common side -> blurred copy (a few at most)

    def at(self, side: int) -> np.ndarray:
        """The content at `side` x `side`, blurred, RGB float (computed once per side)."""
        if side not in self._at:
            image = Image.fromarray(self.content)
            if image.width != side:
                image = image.resize((side, side), Image.Resampling.LANCZOS)
            self._at[side] = _blurred(np.asarray(image))
        return self._at[side]


def _blurred(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float 0..1, blurred by BLUR_SIGMA pixels within each channel."""
    return gaussian_filter(
        np.asarray(rgb, dtype=np.float32) / 255.0, (BLUR_SIGMA, BLUR_SIGMA, 0), mode="nearest"
    )


def _square(small: np.ndarray) -> tuple[Image.Image, tuple[float, float, float, float], float]:
    """The image padded with its margin colour, the box of its content square in it, and the share."""
    background, (left, top, right, bottom) = content_square(small, min_share=0.0)
    height, width = small.shape[:2]
    image = Image.fromarray(small)
    pad = max(0, math.ceil(max(-left, -top, right - width, bottom - height)))
    if pad:  # the square reaches past the image (a wide drawing)
        image = ImageOps.expand(image, pad, fill=tuple(int(v) for v in background))
    return image, (left + pad, top + pad, right + pad, bottom + pad), (right - left) / min(width, height)


def thumbnail(small: np.ndarray, width: int, height: int) -> Thumbnail:
    """The thumbnail of one decoded small copy (RGB uint8, alpha already on white) of a width x height image."""
    image, box, share = _square(small)
    side = box[2] - box[0]
    n = int(np.clip(round(side), 1, THUMB_SIDE))
    content = np.asarray(image.resize((n, n), Image.Resampling.LANCZOS, box=box), dtype=np.uint8)
    whole = Image.fromarray(small)
    if max(whole.size) > CANVAS_SIDE:  # the same reduction for any two images of one size
        factor = CANVAS_SIDE / max(whole.size)
        whole = whole.resize(
            (max(1, round(whole.width * factor)), max(1, round(whole.height * factor))),
            Image.Resampling.LANCZOS,
        )
    canvas = np.asarray(whole, dtype=np.uint8)
    return Thumbnail(content, float(side), float(share), int(width), int(height), canvas)


def common_side(a: Thumbnail, b: Thumbnail) -> int:
    """The side a pair's content is compared at: the smaller content's, within MIN_SIDE..SIDE."""
    return int(np.clip(round(min(a.side, b.side)), MIN_SIDE, SIDE))


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max())


def same_framing(small_a: np.ndarray, small_b: np.ndarray) -> PixelMatch:
    """Both content squares at their common side (the images' sizes taken from the small copies)."""
    ta = thumbnail(small_a, small_a.shape[1], small_a.shape[0])
    tb = thumbnail(small_b, small_b.shape[1], small_b.shape[0])
    return _framing_match(ta, tb)


def _framing_match(a: Thumbnail, b: Thumbnail) -> PixelMatch:
    ratio = max(a.share, b.share) / max(min(a.share, b.share), 1e-6)
    if (a.width, a.height) == (b.width, b.height) and a.canvas.shape == b.canvas.shape:
        # One size, one canvas: a re-encode or a tone change moves nothing, so the whole images are
        # compared as they are (trimming each on its own moved hard edges by half a pixel).
        pair = _toned(_blurred(a.canvas), _blurred(b.canvas))
        return PixelMatch("canvas", _difference(*pair), float(ratio), min(a.canvas.shape[:2]), pair)
    side = common_side(a, b)
    pair = a.at(side), b.at(side)
    return PixelMatch("framing", _difference(*pair), float(ratio), side, pair)


MAX_GAIN = 1.07  # canvas: a shared brightness gain of the drawing forgiven up to this factor


def _toned(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a with one gain (all channels alike, within MAX_GAIN) fitted to b on the drawing, not the white."""
    if MAX_GAIN <= 1.0:
        return a, b
    drawing = ~((a >= WHITE) & (b >= WHITE)).all(axis=-1)
    if not drawing.any():
        return a, b
    x, y = a[drawing], b[drawing]
    gain = float(np.clip((x * y).sum() / max(float((x * x).sum()), 1e-9), 1 / MAX_GAIN, MAX_GAIN))
    toned = a.copy()
    toned[drawing] = np.clip(x * gain, 0.0, 1.0)
    return toned, b


def _may_be_a_crop(a: Thumbnail, b: Thumbnail) -> bool:
    """Whether the sizes differ: a crop, a border or a resize changes them, a re-encode does not."""
    return (a.width, a.height) != (b.width, b.height)


def same_scale(small_a: np.ndarray, width_a: int, small_b: np.ndarray, width_b: int) -> PixelMatch | None:
    """The smaller image located inside the larger at one pixel scale; None when it cannot cover it."""
    # Each small copy's pixels per original pixel: bring both to the coarser of the two, then cap.
    scale_a, scale_b = small_a.shape[1] / width_a, small_b.shape[1] / width_b
    images = [Image.fromarray(s) for s in (small_a, small_b)]
    target = min(scale_a, scale_b) * min(1.0, SEARCH_SIDE / max(width_a * scale_a, width_b * scale_b, 1))
    sized = []
    for image, scale in ((images[0], scale_a), (images[1], scale_b)):
        factor = target / scale
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        sized.append(np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.uint8))
    big, small = sorted(sized, key=lambda s: s.shape[0] * s.shape[1], reverse=True)
    if small.shape[0] > big.shape[0] or small.shape[1] > big.shape[1]:
        return None
    if (
        min(small.shape[0] / big.shape[0], small.shape[1] / big.shape[1]) < MIN_COVER
        or min(small.shape[:2]) < 2 * MIN_SIDE
    ):
        return None
    gray = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    score = match_template(big.astype(np.float32) @ gray, small.astype(np.float32) @ gray)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    window = big[y : y + small.shape[0], x : x + small.shape[1]]
    side = int(np.clip(min(small.shape[:2]), MIN_SIDE, SIDE))
    pair = tuple(
        _blurred(np.asarray(Image.fromarray(w).resize((side, side), Image.Resampling.BOX)))
        for w in (window, small)
    )
    return PixelMatch("scale", _difference(*pair), 1.0, side, pair)


RESIZE_KERNELS = (
    Image.Resampling.NEAREST,
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
    Image.Resampling.BOX,
)
RESIZE_MAX_SIDE = (
    96  # the resize hypothesis is for small pictures: larger ones are anti-aliased at SIDE anyway
)


def same_resize(small_a: np.ndarray, small_b: np.ndarray) -> PixelMatch | None:
    """The larger small copy resized to the smaller's exact pixel grid, the closest of the usual kernels.

    A resized copy of a small icon is compared on the grid it was resampled to, under the kernel that
    best explains it, so nothing but that resampling is forgiven. None unless the two copies differ in
    size, have one aspect ratio (to the rounding of a resize) and the smaller is small.
    """
    big, little = sorted((small_a, small_b), key=lambda s: s.shape[0] * s.shape[1], reverse=True)
    (hb, wb), (hl, wl) = big.shape[:2], little.shape[:2]
    if (hb, wb) == (hl, wl) or min(hl, wl) > RESIZE_MAX_SIDE or min(hl, wl) < MIN_SIDE:
        return None
    if abs(wb * hl / hb - wl) > 1.0 or abs(hb * wl / wb - hl) > 1.0:  # not one aspect ratio
        return None
    ref, image = _blurred(little), Image.fromarray(big)
    tried = [_blurred(np.asarray(image.resize((wl, hl), kernel))) for kernel in RESIZE_KERNELS]
    best = min(tried, key=lambda t: _difference(t, ref))
    return PixelMatch("resize", _difference(best, ref), 1.0, min(hl, wl), (best, ref))


def compare_thumbnails(a: Thumbnail, b: Thumbnail, smalls) -> PixelMatch:
    """The better alignment of two thumbnails; `smalls()` gives the two small copies for a crop search."""
    framing = _framing_match(a, b)
    if not _may_be_a_crop(a, b):
        return framing
    pair = smalls()
    if pair is None:
        return framing
    best = framing
    for other in (same_resize(*pair), same_scale(pair[0], a.width, pair[1], b.width)):
        if other is not None and other.difference < best.difference:
            best = other
    return best


def _decoded(path: str, limits: ImageLimits) -> tuple[np.ndarray, int, int] | None:
    data = read_bytes(path, limits)
    decoded = None if isinstance(data, ImageFailure) else decode(data, limits)
    if decoded is None or isinstance(decoded, ImageFailure):
        return None
    return decoded.small, decoded.width, decoded.height


@functools.lru_cache(maxsize=64)  # bounded: only crop candidates come back for their small copy
def load_small(path: str, limits: ImageLimits) -> tuple[np.ndarray, int, int] | None:
    """The decoder's small copy of one image and its original size, or None if it cannot be read now."""
    return _decoded(path, limits)


@functools.lru_cache(maxsize=CACHE_SIZE)  # bounded: thumbnails of candidates only, never of all images
def load_thumbnail(path: str, limits: ImageLimits) -> Thumbnail | None:
    """The thumbnail of one image file (decoded once while it stays in the cache), or None if unreadable."""
    loaded = _decoded(path, limits)  # the small copy itself is not kept
    return None if loaded is None else thumbnail(*loaded)


def verify_on_pixels(
    path_a: str, path_b: str, limits: ImageLimits, max_difference: float, max_share_ratio: float
) -> tuple[bool, dict]:
    """Whether two image files show the same picture, with the evidence (see the module doc)."""
    a, b = load_thumbnail(path_a, limits), load_thumbnail(path_b, limits)
    if a is None or b is None:
        return False, {"pixel_check": "unreadable"}

    def smalls():
        pair = load_small(path_a, limits), load_small(path_b, limits)
        return None if None in pair else (pair[0][0], pair[1][0])

    match = compare_thumbnails(a, b, smalls)
    same = match.difference <= max_difference and match.share_ratio <= max_share_ratio
    return same, match.evidence(ssim=same)  # a rejected pair's evidence is not recorded
