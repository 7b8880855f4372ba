import numpy as np

from audits.governed_data import load_image
from audits.skin_tone import NO_SKIN, ita_bin, ita_degrees, nearest_monk, skin_lab, skin_mask
from tests.audits.emoji_governed import ASSETS

THUMBS_UP = ["1f44d", "1f44d-1f3fb", "1f44d-1f3fc", "1f44d-1f3fd", "1f44d-1f3fe", "1f44d-1f3ff"]


def _solid(hex_colour: str) -> np.ndarray:
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return np.full((1, 8, 8, 3), rgb, dtype=np.uint8)


def test_mask_keeps_emoji_skin_tones_and_drops_yellow_white_and_red():
    for skin in ("#f7dece", "#f3d2a2", "#d5ab88", "#af7e57", "#7c533e"):
        assert skin_mask(_solid(skin)).all(), skin
    for other in ("#ffdc5d", "#ffffff", "#dd2e44", "#5dadec"):
        assert not skin_mask(_solid(other)).any(), other


def test_tone_variants_order_from_light_to_dark():
    images = np.stack([load_image(ASSETS / f"{name}.png", 32) for name in THUMBS_UP])
    labs, fractions = skin_lab(images, min_fraction=0.15)
    assert np.isnan(labs[0]).all()  # the yellow default shows no skin
    assert (fractions[1:] > 0.15).all()
    ita = ita_degrees(labs[1:])
    assert (np.diff(ita) < 0).all()  # ITA falls as the skin darkens
    monk = nearest_monk(labs)
    assert monk[0] == NO_SKIN
    assert monk[1] < monk[5]  # mst02 < mst07: lexical order is the scale's order


def test_ita_bins():
    assert ita_bin(60.0) == "very_light"
    assert ita_bin(-40.0) == "dark"
    assert ita_bin(float("nan")) == NO_SKIN
