"""Pixel verification of a near-duplicate candidate: the two images themselves, aligned and compared.

The colour grid stored at ingest (governance.color) is 16x16 cells of a content square whose trim is
limited, so a resize of a small icon, a lossy re-encode or a crop moves sharp edges across cells and
the worst cell rejects a true copy. Here the two images of a candidate pair are decoded again (only
those two: nothing is held per record) and aligned under two hypotheses, the closer one counting:

- *same framing* (a resize, a re-encode, a uniform border): each image is trimmed to the square of
  its content, whatever its share of the side, and both are resampled to one small common size;
- *same scale* (a crop, a border): both are brought to the same pixel scale from their original
  sizes and the smaller is located inside the larger by normalised cross-correlation
  (scikit-image's `match_template`); it must cover most of the larger image.

The aligned pair is compared by scikit-image's SSIM (structure) and by the largest local colour
difference after a light blur (what SSIM averages away: a skin tone on a small face, a recoloured
stripe of a flag). No brightness change is forgiven here: the colour grid's check forgives it, and
a shared gain here would turn one skin tone into the next (a hand emoji is skin only). Under the
same framing the margins are compared too: Twemoji draws one square on margins of 0.39, 0.61, 0.83
and 1.0 of the side, and those are distinct emoji.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from skimage.feature import match_template
from skimage.filters import gaussian
from skimage.metrics import structural_similarity

from governance.color import content_square
from governance.images import ImageFailure, ImageLimits, decode, read_bytes

SIDE = 32  # the largest common size aligned content is compared at
MIN_SIDE = 8  # below this SSIM has no window to work with
BLUR_SIGMA = 1.0  # pixels at the common size: an edge moved by resampling is spread, a patch is not
MIN_COVER = 0.8  # same scale: the smaller image must span this share of each side of the larger
SEARCH_SIDE = 96  # same scale: the cross-correlation runs on copies at most this large


@dataclass(frozen=True)
class PixelMatch:
    """The comparison of two images after alignment: what the decision records."""

    alignment: str  # "framing" or "scale": the hypothesis that fitted better
    ssim: float  # structural similarity of the aligned content (1.0 identical)
    difference: float  # largest blurred colour difference, any channel (0..1)
    share_ratio: float  # same framing: the larger margin share over the smaller (1.0: framed alike)

    def evidence(self) -> dict:
        """Rounded values for the manifest."""
        return {
            "pixel_alignment": self.alignment,
            "pixel_ssim": round(self.ssim, 4),
            "pixel_difference": round(self.difference, 4),
            "pixel_share_ratio": round(self.share_ratio, 3),
        }


def _square(small: np.ndarray) -> tuple[Image.Image, tuple[float, float, float, float], float]:
    """The image padded with its margin colour, the box of its content square in it, and the share."""
    background, (left, top, right, bottom) = content_square(small, min_share=0.0)
    height, width = small.shape[:2]
    image = Image.fromarray(small)
    pad = max(0, math.ceil(max(-left, -top, right - width, bottom - height)))
    if pad:  # the square reaches past the image (a wide drawing)
        image = ImageOps.expand(image, pad, fill=tuple(int(v) for v in background))
    return image, (left + pad, top + pad, right + pad, bottom + pad), (right - left) / min(width, height)


def _resample(
    image: Image.Image, side: int, box: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """RGB float (side, side, 3): BOX averages exact areas when shrinking."""
    return np.asarray(image.resize((side, side), Image.Resampling.BOX, box=box), dtype=np.float32) / 255.0


def _scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(SSIM, largest blurred difference) of two float RGB arrays of one shape."""
    difference = float(np.abs(gaussian(a - b, sigma=BLUR_SIGMA, channel_axis=-1)).max())
    window = min(7, min(a.shape[:2]) // 2 * 2 - 1)
    ssim = structural_similarity(a, b, channel_axis=-1, data_range=1.0, win_size=window)
    return float(ssim), difference


def same_framing(small_a: np.ndarray, small_b: np.ndarray) -> PixelMatch:
    """Both content squares at the common size (the smaller content's side, within MIN_SIDE..SIDE)."""
    (ia, box_a, share_a), (ib, box_b, share_b) = _square(small_a), _square(small_b)
    side = int(np.clip(round(min(box_a[2] - box_a[0], box_b[2] - box_b[0])), MIN_SIDE, SIDE))
    ssim, difference = _scores(_resample(ia, side, box_a), _resample(ib, side, box_b))
    ratio = max(share_a, share_b) / max(min(share_a, share_b), 1e-6)
    return PixelMatch("framing", ssim, difference, float(ratio))


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
        sized.append(np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0)
    big, small = sorted(sized, key=lambda s: s.shape[0] * s.shape[1], reverse=True)
    if small.shape[0] > big.shape[0] or small.shape[1] > big.shape[1]:
        return None
    if (
        min(small.shape[0] / big.shape[0], small.shape[1] / big.shape[1]) < MIN_COVER
        or min(small.shape[:2]) < 2 * MIN_SIDE
    ):
        return None
    gray = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    score = match_template(big @ gray, small @ gray)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    window = big[y : y + small.shape[0], x : x + small.shape[1]]
    side = int(np.clip(min(small.shape[:2]), MIN_SIDE, SIDE))
    pair = [
        np.asarray(
            Image.fromarray(np.round(w * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BOX),
            dtype=np.float32,
        )
        / 255.0
        for w in (window, small)
    ]
    ssim, difference = _scores(*pair)
    return PixelMatch("scale", ssim, difference, 1.0)


def compare(small_a: np.ndarray, width_a: int, small_b: np.ndarray, width_b: int) -> PixelMatch:
    """The better of the two alignments (the smaller colour difference) of two decoded small copies."""
    framing = same_framing(small_a, small_b)
    scale = same_scale(small_a, width_a, small_b, width_b)
    return scale if scale is not None and scale.difference < framing.difference else framing


@functools.lru_cache(maxsize=256)  # bounded: a record's neighbours are checked together, never all images
def load_small(path: str, limits: ImageLimits) -> tuple[np.ndarray, int] | None:
    """The decoder's small copy of one image and its original width, or None if it cannot be read now."""
    data = read_bytes(path, limits)
    decoded = None if isinstance(data, ImageFailure) else decode(data, limits)
    if decoded is None or isinstance(decoded, ImageFailure):
        return None
    return decoded.small, decoded.width


def verify_on_pixels(
    path_a: str, path_b: str, limits: ImageLimits, max_difference: float, max_share_ratio: float
) -> tuple[bool, dict]:
    """Whether two image files show the same picture, with the evidence (see the module doc)."""
    a, b = load_small(path_a, limits), load_small(path_b, limits)
    if a is None or b is None:
        return False, {"pixel_check": "unreadable"}
    match = compare(a[0], a[1], b[0], b[1])
    same = match.difference <= max_difference and match.share_ratio <= max_share_ratio
    return same, match.evidence()
