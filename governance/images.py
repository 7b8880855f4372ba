"""Safe image reading: limits checked from the file size and the header before any pixel is decoded."""

import io
import os
import stat
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from governance.reasons import Reason

# Only plain raster formats: PIL plugins such as EPS would start external programs on hostile input.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
SMALL_SIDE = 320  # the small copy every check shares; NudeNet's input resolution


@dataclass(frozen=True)
class ImageLimits:
    max_file_bytes: int
    max_image_pixels: int
    min_image_side: int


@dataclass
class ImageFailure:
    """Why a file could not be used, with the reason code for the decision."""

    reason: Reason
    detail: str


@dataclass
class DecodedImage:
    width: int
    height: int
    format: str
    small: np.ndarray  # RGB uint8, longest side <= SMALL_SIDE, alpha composited on white
    info_text: str  # text metadata chunks (XMP may sit in compressed PNG chunks)


def read_bytes(path: str, limits: ImageLimits) -> bytes | ImageFailure:
    """The file's bytes, or why they were not read (size checked with stat before opening)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ImageFailure(Reason.FILE_MISSING, "no such file")
    except OSError as exc:
        return ImageFailure(Reason.FILE_MISSING, f"cannot stat: {exc.__class__.__name__}")
    if not stat.S_ISREG(st.st_mode):
        return ImageFailure(Reason.NOT_AN_IMAGE, "not a regular file")
    if st.st_size == 0:
        return ImageFailure(Reason.EMPTY_FILE, "zero bytes")
    if st.st_size > limits.max_file_bytes:
        return ImageFailure(
            Reason.IMAGE_TOO_LARGE, f"{st.st_size} bytes > data.max_file_bytes={limits.max_file_bytes}"
        )
    try:
        with open(path, "rb") as handle:
            # Sized by stat, not by the limit: read(n) allocates n bytes first (50 MB per tiny file).
            data = handle.read(st.st_size + 1)
            if len(data) > st.st_size:  # it grew after stat: read on, up to the limit
                data += handle.read(limits.max_file_bytes + 1 - len(data))
    except OSError as exc:
        return ImageFailure(Reason.UNREADABLE_IMAGE, f"cannot read: {exc.__class__.__name__}")
    if len(data) > limits.max_file_bytes:  # the file grew after stat
        return ImageFailure(
            Reason.IMAGE_TOO_LARGE, f"more than data.max_file_bytes={limits.max_file_bytes} bytes"
        )
    return data


def _on_white(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white (transparent pixels hold arbitrary colours)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _text_info(image: Image.Image) -> str:
    parts = []
    for key, value in image.info.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str) and (
            "xmp" in str(key).lower() or "xmpmeta" in value or "DataMining" in value
        ):
            parts.append(value)
    return "\n".join(parts)


def decode(data: bytes, limits: ImageLimits) -> DecodedImage | ImageFailure:
    """Decode once into the shared small copy; dimensions are checked from the header first."""
    if not data:
        return ImageFailure(Reason.EMPTY_FILE, "zero bytes")
    try:
        with warnings.catch_warnings():
            # PIL warns (and later raises) on decompression bombs; both mean "too large" to us.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        return ImageFailure(Reason.NOT_AN_IMAGE, f"not a {'/'.join(ALLOWED_FORMATS)} image")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return ImageFailure(Reason.IMAGE_TOO_LARGE, f"decompression bomb: {exc}")
    except Exception as exc:  # a hostile header can raise anything inside a plugin
        return ImageFailure(Reason.UNREADABLE_IMAGE, f"header: {exc.__class__.__name__}: {exc}"[:300])
    width, height = image.size
    if width * height > limits.max_image_pixels:
        return ImageFailure(
            Reason.IMAGE_TOO_LARGE,
            f"{width}x{height} pixels > data.max_image_pixels={limits.max_image_pixels}",
        )
    if min(width, height) < limits.min_image_side:
        return ImageFailure(
            Reason.IMAGE_TOO_SMALL, f"{width}x{height}: a side < data.min_image_side={limits.min_image_side}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if image.format == "JPEG":
                # JPEG can decode at 1/2..1/8 scale directly: far less work for big photos.
                image.draft("RGB", (SMALL_SIDE, SMALL_SIDE))
            image.load()
            rgb = _on_white(image)
            rgb.thumbnail((SMALL_SIDE, SMALL_SIDE), Image.Resampling.LANCZOS)
            small = np.asarray(rgb, dtype=np.uint8).copy()
    except Exception as exc:  # truncated or corrupt data
        return ImageFailure(Reason.UNREADABLE_IMAGE, f"pixels: {exc.__class__.__name__}: {exc}"[:300])
    return DecodedImage(width, height, str(image.format), small, _text_info(image))
