"""One image file -> the training pixels: RGB uint8 [3, R, R]. Imports only PIL and numpy, so that the
shard writer's worker processes start without torch."""

import numpy as np
from PIL import Image


def decode_image(path: str, resolution: int) -> np.ndarray:
    """RGB uint8 [3, R, R]: alpha composited on white, centre-cropped square, area-resized."""
    with Image.open(path) as img:
        img.load()
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img)
        img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize(
        (resolution, resolution), Image.Resampling.BOX
    )
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()
