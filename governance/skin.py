"""Skin-coloured pixels: the evidence that a NudeNet box shows skin at all.

NudeNet's small detector scores shapes: a round blue balloon or a paper clip can come out as
`BUTTOCKS_EXPOSED` at 0.5-0.8. Exposed skin, in a colour image, is skin-coloured; a box whose pixels
are almost all blue, grey or white does not show it. The mask is the skin-colour map of Chai and
Ngan (1999) in full-range YCbCr (BT.601): a pixel is skin when 133 <= Cr <= 173 and 77 <= Cb <= 127,
and neither near-black nor near-white (30 < Y < 250: outlines and backgrounds), the same rule the
bias audit measures skin tone with. The chroma ranges hold for light and dark skin alike: the five
Twemoji skin tones, light to dark, are all inside it. Greys, black and white have Cr = Cb = 128 and
are never skin, so a grayscale image has no skin evidence either way; the policy treats it as
unverifiable rather than as skin-free.
"""

import numpy as np

CR_RANGE = (133, 173)
CB_RANGE = (77, 127)
LUMA_RANGE = (30, 250)  # exclusive
# A pixel whose channels differ by no more than this is grey; an image of only such pixels carries
# no colour to judge skin by (JPEG noise moves channels of a grey image a few levels apart).
GRAY_TOLERANCE = 12


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean mask (...) of the skin-coloured pixels of RGB uint8 pixels (..., 3): one image or a batch."""
    pixels = np.asarray(rgb, dtype=np.float64)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = (cr >= CR_RANGE[0]) & (cr <= CR_RANGE[1]) & (cb >= CB_RANGE[0]) & (cb <= CB_RANGE[1])
    return chroma & (luma > LUMA_RANGE[0]) & (luma < LUMA_RANGE[1])


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
