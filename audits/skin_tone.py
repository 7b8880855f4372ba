"""Skin tone measured from pixels, with no model.

1. Skin-pixel mask: governance's rule (`governance.skin.skin_mask`, Chai & Ngan 1999 YCbCr ranges minus
   near-white and near-black pixels), the same one the NSFW check uses, so the two cannot drift.
2. The median CIELAB colour of the masked pixels gives the Individual Typology Angle,
   ITA = atan((L* - 50) / b*) in degrees, and the nearest Monk Skin Tone (MST) shade.
3. For groups named in the data (e.g. the emoji's five skin tones), each image is assigned the group
   whose reference colour is nearest in CIELAB (Delta E 1976). References are the median skin colour of
   the labelled *training* images of each group, so the measurement is calibrated on the data, not on
   a model.
"""

import numpy as np
from skimage.color import rgb2lab

from governance.components import Component, library
from governance.skin import skin_mask

NO_SKIN = "no_skin"
# Monk Skin Tone scale (Monk 2019; Google's published sRGB hex values), shades 1..10
MONK_SHADES = {
    "mst01": "#f6ede4",
    "mst02": "#f3e7db",
    "mst03": "#f7ead0",
    "mst04": "#eadaba",
    "mst05": "#d7bd96",
    "mst06": "#a07e56",
    "mst07": "#825c43",
    "mst08": "#604134",
    "mst09": "#3a312a",
    "mst10": "#292420",
}
# ITA bins (Chardon et al. 1991), lower bound in degrees
ITA_BINS = [(55.0, "very_light"), (41.0, "light"), (28.0, "intermediate"), (10.0, "tan"), (-30.0, "brown")]


def _hex_to_lab(hex_colour: str) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255.0
    return rgb2lab(rgb.reshape(1, 1, 3)).reshape(3)


MONK_LAB = np.stack([_hex_to_lab(h) for h in MONK_SHADES.values()])


def skin_lab(images: np.ndarray, min_fraction: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Median CIELAB of skin pixels per image (N,3) and the skin fraction (N,); NaN rows: no skin."""
    images = np.asarray(images)
    mask = skin_mask(images)
    fractions = mask.reshape(len(images), -1).mean(axis=1)
    labs = np.full((len(images), 3), np.nan)
    for i in np.flatnonzero(fractions >= min_fraction):
        pixels = images[i][mask[i]].astype(np.float64) / 255.0
        labs[i] = np.median(rgb2lab(pixels.reshape(-1, 1, 3)).reshape(-1, 3), axis=0)
    return labs, fractions


def ita_degrees(labs: np.ndarray) -> np.ndarray:
    """Individual Typology Angle per Lab colour (NaN stays NaN)."""
    labs = np.asarray(labs, dtype=np.float64)
    return np.degrees(np.arctan2(labs[:, 0] - 50.0, labs[:, 2]))


def ita_bin(ita: float) -> str:
    """ITA category name (very_light .. dark), or `no_skin` for NaN."""
    if np.isnan(ita):
        return NO_SKIN
    for bound, name in ITA_BINS:
        if ita > bound:
            return name
    return "dark"


def nearest_monk(labs: np.ndarray) -> list[str]:
    """Nearest Monk Skin Tone shade per Lab colour (Delta E 1976), or `no_skin`."""
    return nearest_reference(labs, dict(zip(MONK_SHADES, MONK_LAB, strict=True)))


def nearest_reference(labs: np.ndarray, references: dict[str, np.ndarray]) -> list[str]:
    """Name of the nearest reference colour per Lab colour, or `no_skin` where the row is NaN."""
    names = list(references)
    ref = np.stack([references[n] for n in names])
    out = []
    for lab in np.asarray(labs, dtype=np.float64):
        if np.isnan(lab).any():
            out.append(NO_SKIN)
        else:
            out.append(names[int(np.argmin(((ref - lab) ** 2).sum(axis=1)))])
    return out


def group_references(labs: np.ndarray, groups: list[str | None]) -> dict[str, np.ndarray]:
    """Median skin colour per labelled group (ignores unlabelled images and images without skin)."""
    refs: dict[str, np.ndarray] = {}
    for name in sorted({g for g in groups if g}):
        rows = [i for i, g in enumerate(groups) if g == name and not np.isnan(labs[i]).any()]
        if rows:
            refs[name] = np.median(labs[rows], axis=0)
    return refs


def scikit_image_component() -> Component:
    """Licence disclosure of scikit-image (CIELAB conversion)."""
    return library("scikit-image", name="scikit-image (CIELAB)")
