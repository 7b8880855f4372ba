"""Provenance marks written on every generated image: metadata that says so, and an invisible watermark.

The writing half of the output provenance (the audits read the marks back in
`audits.provenance_marks`); it lives in training because the trained pipeline's `save_image` writes
marks, and training may not import the audits.


Metadata: PNG text chunks and an XMP packet (PNG iTXt `XML:com.adobe.xmp`) with the IPTC
DigitalSourceType `trainedAlgorithmicMedia`, the model name and the run id.
Watermark: invisible-watermark's `dwtDctSvd` (survives JPEG; `dwtDct` does not) carrying a 32-bit tag
derived from the run id (first 4 bytes of its SHA-256). The library refuses images under 256x256;
smaller images are upscaled to at least 512 px (nearest neighbour, so the model's pixels stay as they
were, in blocks): on 32 px emoji the mark read back after JPEG q75 in 30/32 images at 512 px against
27/32 at 256 px (benchmarks/audits_watermark.py). Before embedding, pixel values are squeezed into
[16, 239]: the mark lives in the chroma channels and is clipped away on pure white, which left it
unreadable in 20 of 32 emoji at 256 px even without any attack. The squeeze costs a little contrast
(median PSNR of the marked image: 44 dB).
A watermark counts as read when at least 29 of its 32 bits match (chance: about 1 in 800,000). A
cropped image moves the library's block grid; `audits.provenance_marks.read_mark` then searches the crop's offset
(`watermark_search`) and needs 31 of 32 bits over its 2,048 hypotheses.

The other method, `rivaGan` (`method=` of `mark_image`; RivaGAN's ONNX encoder and decoder bundled with
invisible-watermark, run by onnxruntime): the learned mark works at `RIVA_SIDE` = 256 px. The output,
upscaled to >= 512 px as above, is scaled (bicubic) so that its short side is 256, RivaGAN marks that
copy, and the mark's residual (marked minus unmarked copy) is scaled back (bicubic) and added to the
output. A reader scales any copy, smaller or larger, to a 256 px short side the same way before
decoding, so no image is too small to read and the decoder's 256x256 minimum never refuses one.
Marking the full 512 px output instead and reading a 256 px copy read 63-88% of the bits of 6 emoji
(the mark does not survive the downscale); the residual at 256 read 78-100%, in a third to a quarter
of the time (about 1 s an image against 3-5 s, under load). The squeeze into [16, 239] is applied
before either mark (with RivaGAN it raised two flat emoji from 81% and 78% of bits to 91% and 81%).
The method is named in the PNG text (`WatermarkMethod`) and in the C2PA soft binding's alg.
"""

import hashlib
import io
from enum import StrEnum
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, PngImagePlugin

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP_KEY = "XML:com.adobe.xmp"


class WatermarkMethod(StrEnum):
    """The invisible watermarks an output can carry (see the module docstring)."""

    DWT_DCT_SVD = "dwtDctSvd"
    RIVAGAN = "rivaGan"


WATERMARK_METHOD = WatermarkMethod.DWT_DCT_SVD  # the default: better than RivaGAN on flat emoji after JPEG
RIVA_SIDE = 256  # RivaGAN marks and reads a copy with this short side
METHOD_KEY = "WatermarkMethod"  # PNG text key naming the method that marked the image
WATERMARK_BITS = 32
MIN_SIDE = 512  # upscale target; the library itself needs 256x256
DECODER_MIN_PIXELS = 256 * 256
HEADROOM = 16  # pixel levels kept free at both ends so the chroma mark is not clipped
WATERMARK_SCALES = [0, 36, 36]  # the library default strength (Y untouched, U and V marked)
MIN_BIT_ACCURACY = 29 / 32
_TEXT_KEYS = ("DigitalSourceType", "AIModel", "RunID", "Software", "Description")


def watermark_payload(run_id: str) -> bytes:
    """The 4 bytes embedded for a run id (the first 4 of its SHA-256); signed as the C2PA soft binding."""
    return hashlib.sha256(run_id.encode("utf-8")).digest()[: WATERMARK_BITS // 8]


def watermark_tag(run_id: str) -> list[int]:
    """The 32 bits embedded for a run id."""
    return [int(b) for b in np.unpackbits(np.frombuffer(watermark_payload(run_id), dtype=np.uint8))]


def _xmp_packet(run_id: str, model_name: str) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<Iptc4xmpExt:DigitalSourceType>{DIGITAL_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>"
        f"<xmp:CreatorTool>{escape(model_name)}</xmp:CreatorTool>"
        f"<dc:identifier>{escape(run_id)}</dc:identifier>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _upscale_to_min_side(img: Image.Image) -> Image.Image:
    side = min(img.size)
    if side >= MIN_SIDE:
        return img
    factor = -(-MIN_SIDE // side)  # ceil: integer factor keeps pixel blocks square
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def riva_size(size: tuple[int, int]) -> tuple[int, int]:
    """The (width, height) RivaGAN marks and reads an image of `size` at: short side `RIVA_SIDE`."""
    factor = RIVA_SIDE / min(size)
    return max(RIVA_SIDE, round(size[0] * factor)), max(RIVA_SIDE, round(size[1] * factor))


def _embed_rivagan(bgr: np.ndarray, tag: list[int]) -> np.ndarray:
    """`bgr` plus RivaGAN's residual for `tag`, made at the 256 px working size and scaled back."""
    import cv2
    from imwatermark import WatermarkEncoder

    WatermarkEncoder.loadModel()  # once per process: the ONNX sessions are class attributes
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", tag)
    height, width = bgr.shape[:2]
    small = cv2.resize(bgr, riva_size((width, height)), interpolation=cv2.INTER_CUBIC)
    residual = encoder.encode(small, WatermarkMethod.RIVAGAN).astype(np.float32) - small
    residual = cv2.resize(residual, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.round(bgr + residual), 0, 255).astype(np.uint8)


def _embed_watermark(img: Image.Image, run_id: str, method: WatermarkMethod) -> Image.Image:
    rgb = np.asarray(img, dtype=np.float64) * (1 - 2 * HEADROOM / 255) + HEADROOM
    bgr = np.ascontiguousarray(np.round(rgb).astype(np.uint8)[:, :, ::-1])
    if method == WatermarkMethod.RIVAGAN:
        marked = _embed_rivagan(bgr, watermark_tag(run_id))
    else:
        from imwatermark import WatermarkEncoder

        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", watermark_tag(run_id))
        marked = encoder.encode(bgr, WatermarkMethod.DWT_DCT_SVD, scales=WATERMARK_SCALES)
    return Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1]))


def mark_image(
    img: Image.Image,
    run_id: str,
    model_name: str,
    watermark: bool = True,
    method: str = WATERMARK_METHOD,
) -> Image.Image:
    """A copy of `img` (RGB, upscaled to >= 512 px) with the invisible watermark and provenance metadata.

    The metadata travels in `.info`; `save_marked_png` writes it into the PNG. Images keep the model's
    pixels when `watermark=False` (only metadata; still upscaled for a uniform output size).
    With the watermark (`method`: a `WatermarkMethod`), pixel values are squeezed into [16, 239] (see
    the module docstring) and the metadata names the method.
    """
    if not run_id:
        raise ValueError("mark_image: run_id is empty; pass the MLflow run id the image belongs to")
    method = _method(method)
    out = _upscale_to_min_side(img.convert("RGB"))
    if watermark:
        out = _embed_watermark(out, run_id, method)
    out.info = {
        "DigitalSourceType": DIGITAL_SOURCE_TYPE,
        "AIModel": model_name,
        "RunID": run_id,
        "Software": "t2i-pipeline",
        "Description": f"AI-generated image (trainedAlgorithmicMedia) by {model_name}, run {run_id}",
        XMP_KEY: _xmp_packet(run_id, model_name),
        **({METHOD_KEY: str(method)} if watermark else {}),
    }
    return out


def _method(method: str) -> WatermarkMethod:
    try:
        return WatermarkMethod(method)
    except ValueError:
        raise ValueError(
            f"unknown watermark method {method!r}; one of {[m.value for m in WatermarkMethod]}"
        ) from None


def _png_info(marked: Image.Image) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key in (*_TEXT_KEYS, METHOD_KEY):
        if key in marked.info:
            info.add_text(key, marked.info[key])
    info.add_itxt(XMP_KEY, marked.info[XMP_KEY])
    return info


def marked_png_bytes(
    img: Image.Image, run_id: str, model_name: str, watermark: bool = True, method: str = WATERMARK_METHOD
) -> bytes:
    """The marked image encoded as PNG bytes, metadata included (see `mark_image`)."""
    marked = mark_image(img, run_id, model_name, watermark=watermark, method=method)
    buf = io.BytesIO()
    marked.save(buf, format="PNG", pnginfo=_png_info(marked))
    return buf.getvalue()


def save_marked_png(
    img: Image.Image,
    path: Path,
    run_id: str,
    model_name: str,
    watermark: bool = True,
    method: str = WATERMARK_METHOD,
) -> Path:
    """Mark `img` (see `mark_image`) and save it as a PNG with its metadata; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(marked_png_bytes(img, run_id, model_name, watermark=watermark, method=method))
    return path
