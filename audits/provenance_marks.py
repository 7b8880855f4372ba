"""Provenance marks read back from generated images: the metadata and the invisible watermark.

`training.output_marks` writes them (what is written and why is in its docstring). A watermark counts
as read when at least 29 of its 32 bits match (chance: about 1 in 800,000). A cropped image moves the
library's block grid; `read_mark` then searches the crop's offset (`watermark_search`) and needs 31 of
32 bits over its 2,048 hypotheses. A downscaled copy (every output is at least `MIN_SIDE` px on its
short side) is read once more after scaling it back to that side (`watermark_rescaled`).

RivaGAN (`WatermarkMethod.RIVAGAN`) is read from a copy scaled (bicubic) to a 256 px short side, the
size it was marked at, whatever the size of the file, and, for a copy smaller than any output read
with `search_crop`, once more as a crop at the scale an output was marked at
(`_read_riva_at_output_scale`); no block grid to search (a learned mark, trained to survive crops and
rescaling; measured in `benchmarks/provenance_robustness.py`).
Which method to decode comes from the caller, else the file's `WatermarkMethod` text, else the
default (`read_mark`); `audits.provenance_check` also tries every method on a file that names none.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from governance.components import Component, library
from training.output_marks import (
    DECODER_MIN_PIXELS,
    DIGITAL_SOURCE_TYPE,
    METHOD_KEY,
    MIN_BIT_ACCURACY,
    MIN_SIDE,
    RIVA_SIDE,
    WATERMARK_BITS,
    WATERMARK_METHOD,
    WATERMARK_SCALES,
    XMP_KEY,
    WatermarkMethod,
    riva_size,
    watermark_tag,
)

RIVA_MIN_SIDE = 64  # a copy this small at the output's scale holds too little of a mark to read


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
    watermark_method: str | None = None  # the method decoded (a `WatermarkMethod`)


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


def _riva_bits(rgb: Image.Image) -> list[int]:
    """RivaGAN's decoder on `rgb` as it is. The library's WatermarkDecoder refuses anything under
    256x256 for every method (its DWT methods need the blocks); the ONNX decoder runs on any size."""
    from imwatermark import WatermarkDecoder
    from imwatermark.rivaGan import RivaWatermark

    WatermarkDecoder.loadModel()  # once per process: the ONNX sessions are class attributes
    bgr = np.ascontiguousarray(np.asarray(rgb.convert("RGB"))[:, :, ::-1])
    return [int(b) for b in RivaWatermark([], WATERMARK_BITS).decode(bgr)]


def _decode_riva_bits(img: Image.Image) -> list[int]:
    """The bits RivaGAN reads from `img` scaled to its 256 px working size (any size reads)."""
    return _riva_bits(img.convert("RGB").resize(riva_size(img.size), Image.Resampling.BICUBIC))


def _read_riva_at_output_scale(img: Image.Image, run_id: str, mark: ProvenanceMark) -> None:
    """Read a copy smaller than any output as a crop: at the scale a `MIN_SIDE` output was marked at.

    Scaling a crop to 256 px reads it at the wrong scale (a 25% crop of a 512 px output at 1.33x);
    on 8 emoji this read found the mark after a 25% crop in 6 against 3. One more 29-of-32 hypothesis.
    """
    factor = RIVA_SIDE / MIN_SIDE
    size = (round(img.width * factor), round(img.height * factor))
    if min(size) < RIVA_MIN_SIDE:
        return
    bits = _riva_bits(img.convert("RGB").resize(size, Image.Resampling.BICUBIC))
    accuracy = float(np.mean(np.array(bits) == np.array(watermark_tag(run_id))))
    if accuracy >= MIN_BIT_ACCURACY:
        _compare(bits, run_id, mark)
        mark.watermark_searched = True


def read_mark(
    source: Image.Image | Path | str,
    run_id: str | None = None,
    search_crop: bool = True,
    method: str | None = None,
) -> ProvenanceMark:
    """Read the metadata and the watermark of an image (or image file).

    With `run_id`, the watermark is compared with that run's tag; without it, the decoded bits are
    returned as hex and `watermark_found` stays False (there is nothing to compare with). When the
    plain dwtDctSvd read misses the tag, `search_crop` looks for it as in a crop (`watermark_searched`).
    `method` (a `WatermarkMethod`): the mark to decode; None takes the one the file's metadata names,
    else the default `WATERMARK_METHOD`.
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
    named = text.get(METHOD_KEY)  # unsigned text: an unknown name falls back to the default, never raises
    known = named if named in {m.value for m in WatermarkMethod} else None
    mark.watermark_method = WatermarkMethod(method or known or WATERMARK_METHOD)
    if mark.watermark_method == WatermarkMethod.RIVAGAN:
        _compare(_decode_riva_bits(img), run_id, mark)
        if run_id and not mark.watermark_found and search_crop and min(img.size) < MIN_SIDE:
            _read_riva_at_output_scale(img, run_id, mark)
        return mark
    bits = _decode_bits(img)
    if bits is not None:
        _compare(bits, run_id, mark)
    if run_id and not mark.watermark_found and min(img.size) < MIN_SIDE:
        _read_rescaled(img, run_id, mark)
    if run_id and not mark.watermark_found and search_crop:
        _search_cropped(img, run_id, mark)
    return mark


def _compare(bits: list[int], run_id: str | None, mark: ProvenanceMark) -> None:
    """Record the decoded `bits` on `mark`, and whether they are `run_id`'s tag (29 of 32 bits)."""
    mark.watermark_checked = True
    mark.watermark_hex = np.packbits(np.array(bits, dtype=np.uint8)).tobytes().hex()
    if run_id:
        accuracy = float(np.mean(np.array(bits) == np.array(watermark_tag(run_id))))
        mark.watermark_bit_accuracy = accuracy
        mark.watermark_found = accuracy >= MIN_BIT_ACCURACY


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
