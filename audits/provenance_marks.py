"""Provenance marks read back from generated images: the metadata and the invisible watermark.

`training.output_marks` writes them (what is written and why is in its docstring). A watermark counts
as read when at least 29 of its 32 bits match (chance: about 1 in 800,000). A cropped image moves the
library's block grid; `read_mark` then searches the crop's offset (`watermark_search`) and needs 31 of
32 bits over its 2,048 hypotheses. A downscaled copy (every output is at least `MIN_SIDE` px on its
short side) is read once more after scaling it back to that side (`watermark_rescaled`).
"""

from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from governance.components import Component, library
from training.output_marks import (
    DECODER_MIN_PIXELS,
    DIGITAL_SOURCE_TYPE,
    MIN_BIT_ACCURACY,
    MIN_SIDE,
    WATERMARK_BITS,
    WATERMARK_SCALES,
    XMP_KEY,
    watermark_tag,
)


class ProvenanceMark(BaseModel):
    """What `read_mark` found on an image."""

    digital_source_type: str | None = None
    model_name: str | None = None
    run_id: str | None = None
    metadata_found: bool = False
    watermark_checked: bool = False
    watermark_bit_accuracy: float | None = None  # against the run id's tag, when a run id was given
    watermark_found: bool = False
    watermark_hex: str | None = None
    watermark_searched: bool = False  # found only by searching for a crop (see `watermark_search`)
    watermark_rescaled: bool = False  # found only after scaling a downscaled copy back up


def _decode_bits(img: Image.Image) -> list[int] | None:
    """The bits invisible-watermark's dwtDctSvd decoder reads, computed vectorised (about 15x faster:
    the library scores its 4,096 blocks of a 512 px image one Python call each)."""
    from audits.watermark_search import BITS, block_scores

    rgb = img.convert("RGB")
    if rgb.width * rgb.height < DECODER_MIN_PIXELS:
        return None  # the library's decoder refuses small images: nothing to read
    bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
    scores = block_scores(bgr, WATERMARK_SCALES[1]).reshape(-1)  # U channel, raster order, as the library
    votes = np.array([scores[b::BITS].mean() for b in range(BITS)])
    return [int(v) for v in votes * 255 > 127]


def read_mark(
    source: Image.Image | Path | str, run_id: str | None = None, search_crop: bool = True
) -> ProvenanceMark:
    """Read the metadata and the watermark of an image (or image file).

    With `run_id`, the watermark is compared with that run's tag; without it, the decoded bits are
    returned as hex and `watermark_found` stays False (there is nothing to compare with). When the
    plain read misses the tag, `search_crop` looks for it as in a crop (`watermark_searched`).
    """
    if isinstance(source, str | Path):
        with Image.open(source) as im:
            im.load()
            img = im.copy()
            info = dict(im.info)
    else:
        img, info = source, dict(source.info)
    text = {k: str(v) for k, v in info.items() if isinstance(v, str)}
    raw_xmp = info.get("xmp", b"")  # Pillow's own key when it parsed XMP (JPEG/WebP)
    xmp = text.get(XMP_KEY) or (raw_xmp.decode("utf-8", "replace") if isinstance(raw_xmp, bytes) else "")
    dst = text.get("DigitalSourceType") or (DIGITAL_SOURCE_TYPE if DIGITAL_SOURCE_TYPE in xmp else None)
    mark = ProvenanceMark(
        digital_source_type=dst,
        model_name=text.get("AIModel"),
        run_id=text.get("RunID"),
        metadata_found=dst == DIGITAL_SOURCE_TYPE,
    )
    bits = _decode_bits(img)
    if bits is not None:
        mark.watermark_checked = True
        mark.watermark_hex = np.packbits(np.array(bits, dtype=np.uint8)).tobytes().hex()
        if run_id:
            accuracy = float(np.mean(np.array(bits) == np.array(watermark_tag(run_id))))
            mark.watermark_bit_accuracy = accuracy
            mark.watermark_found = accuracy >= MIN_BIT_ACCURACY
    if run_id and not mark.watermark_found and min(img.size) < MIN_SIDE:
        _read_rescaled(img, run_id, mark)
    if run_id and not mark.watermark_found and search_crop:
        _search_cropped(img, run_id, mark)
    return mark


def _read_rescaled(img: Image.Image, run_id: str, mark: ProvenanceMark) -> None:
    """Read a copy smaller than any output again at the output size (one more 29-of-32 hypothesis)."""
    factor = MIN_SIDE / min(img.size)
    size = (round(img.width * factor), round(img.height * factor))
    bits = _decode_bits(img.convert("RGB").resize(size, Image.Resampling.BICUBIC))
    if bits is None:
        return
    accuracy = float(np.mean(np.array(bits) == np.array(watermark_tag(run_id))))
    if accuracy >= MIN_BIT_ACCURACY:
        mark.watermark_checked = mark.watermark_found = mark.watermark_rescaled = True
        mark.watermark_bit_accuracy = accuracy
        mark.watermark_hex = np.packbits(np.array(bits, dtype=np.uint8)).tobytes().hex()


def _search_cropped(img: Image.Image, run_id: str, mark: ProvenanceMark) -> None:
    """Look for the run's tag as if `img` were cropped from a marked image (stricter threshold)."""
    from audits.watermark_search import MIN_MATCHES_SEARCHED, search_bits

    rgb = img.convert("RGB")
    bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
    bits, matches = search_bits(bgr, WATERMARK_SCALES[1], watermark_tag(run_id))
    if matches >= MIN_MATCHES_SEARCHED:
        mark.watermark_checked = True
        mark.watermark_found = mark.watermark_searched = True
        mark.watermark_bit_accuracy = matches / WATERMARK_BITS
        mark.watermark_hex = np.packbits(bits.astype(np.uint8)).tobytes().hex()


def watermark_component() -> Component:
    """Licence disclosure of the watermarking library."""
    return library("invisible-watermark", name="invisible-watermark (dwtDctSvd)")
