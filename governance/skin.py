"""Skin-coloured pixels: the evidence that a NudeNet box shows skin at all.

NudeNet's small detector scores shapes: a round blue balloon or a paper clip can come out as
`BUTTOCKS_EXPOSED` at 0.5-0.8. Exposed skin, in a colour image, is skin-coloured; a box whose pixels
are almost all blue, grey or white does not show it. The mask is the skin-colour map of Chai and
Ngan (1999): a pixel is skin when, in YCrCb (OpenCV's conversion), 133 <= Cr <= 173 and
77 <= Cb <= 127. The chroma ranges hold for light and dark skin alike (brightness is in Y, which the
map ignores): the five Twemoji skin tones, light to dark, are all inside it. Greys, black and white
have Cr = Cb = 128 and are never skin, so a grayscale image has no skin evidence either way; the
policy treats it as unverifiable rather than as skin-free.
"""

import cv2
import numpy as np

CR_RANGE = (133, 173)
CB_RANGE = (77, 127)
# A pixel whose channels differ by no more than this is grey; an image of only such pixels carries
# no colour to judge skin by (JPEG noise moves channels of a grey image a few levels apart).
GRAY_TOLERANCE = 12


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean HxW mask of the skin-coloured pixels of an RGB uint8 image."""
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb)
    low = np.array([0, CR_RANGE[0], CB_RANGE[0]], dtype=np.uint8)
    high = np.array([255, CR_RANGE[1], CB_RANGE[1]], dtype=np.uint8)
    return cv2.inRange(ycrcb, low, high) > 0


def is_grayscale(rgb: np.ndarray) -> bool:
    """True when no pixel of the RGB image has colour (all channels within GRAY_TOLERANCE)."""
    channels = rgb.astype(np.int16)
    return int((channels.max(axis=2) - channels.min(axis=2)).max()) <= GRAY_TOLERANCE


def box_fraction(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Share of the mask's True pixels inside `box` (x, y, w, h in the mask's pixels); 0 for an empty box."""
    x, y, w, h = box
    height, width = mask.shape
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    return float(mask[y0:y1, x0:x1].mean())
