"""Captioned synthetic images for the GPU benchmarks: one coloured circle, square or triangle each.

Made on the spot, nothing downloaded: these benchmarks measure speed, not image quality.
"""

import random
from collections.abc import Callable

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (240, 210, 40)}
SHAPES = ("circle", "square", "triangle")
# The captions' words after BERT's special tokens: the vocabulary of the benchmarks' random text encoders.
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", *COLOURS, *SHAPES]


def shape_image(rng: random.Random, background: Callable[[], Image.Image]) -> tuple[Image.Image, str]:
    """A random shape of a random colour drawn on `background()`, and its caption ("a red circle")."""
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    img = background()
    side = img.width
    draw = ImageDraw.Draw(img)
    a, b = sorted(rng.sample(range(side // 8, side - side // 8), 2))
    box = (a, a, max(b, a + 4), max(b, a + 4))
    if shape == "circle":
        draw.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        draw.rectangle(box, fill=COLOURS[colour])
    else:
        draw.polygon(
            [(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=COLOURS[colour]
        )
    return img, f"a {colour} {shape}"
