"""Hostile files, the colour check and embedded signals, at the level of single functions."""

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from governance import images
from governance.color import color_array, color_distance, color_hash
from governance.embedded_signals import scan
from governance.images import ImageFailure, ImageLimits, decode
from governance.perceptual_hash import hamming, phash_int64
from governance.reasons import Reason
from governance.sources.emoji import assets_dir
from tests.governance.messy_dataset import _bomb_png, _c2pa_training_mining, _xmp

LIMITS = ImageLimits(max_file_bytes=10_000_000, max_image_pixels=1_000_000, min_image_side=16)


def test_bomb_is_rejected_from_the_header_before_any_pixel(monkeypatch):
    def never(*_a, **_k):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    failure = decode(_bomb_png(), LIMITS)
    assert isinstance(failure, ImageFailure) and failure.reason is Reason.IMAGE_TOO_LARGE


def test_limit_from_config_is_checked_before_decoding(monkeypatch):
    big = io.BytesIO()
    Image.new("RGB", (1200, 1000), "red").save(big, "PNG")
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda *_: pytest.fail("pixels were decoded"))
    failure = decode(big.getvalue(), LIMITS)
    assert isinstance(failure, ImageFailure) and failure.reason is Reason.IMAGE_TOO_LARGE
    assert "max_image_pixels" in failure.detail


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", Reason.EMPTY_FILE),
        (b"hello, I am text", Reason.NOT_AN_IMAGE),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", Reason.NOT_AN_IMAGE),
    ],
)
def test_non_images(data, reason):
    assert decode(data, LIMITS).reason is reason


def test_truncated_png_and_jpeg_are_unreadable():
    for fmt in ("PNG", "JPEG"):
        out = io.BytesIO()
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(out, fmt)
        cut = out.getvalue()[: len(out.getvalue()) // 2]
        assert decode(cut, LIMITS).reason is Reason.UNREADABLE_IMAGE


def test_transparency_is_composited_on_white():
    out = io.BytesIO()
    Image.new("RGBA", (32, 32), (10, 200, 30, 0)).save(out, "PNG")
    decoded = decode(out.getvalue(), LIMITS)
    assert decoded.small.min() == 255


def _emoji(stem: str) -> np.ndarray:
    return decode((assets_dir() / f"{stem}.png").read_bytes(), LIMITS).small


@pytest.mark.parametrize(
    ("a", "b"),
    [("1f44d-1f3fb", "1f44d-1f3fc"), ("1f1f7-1f1f4", "1f1f9-1f1e9"), ("1f1ee-1f1e9", "1f1f2-1f1e8")],
)
def test_colour_separates_what_grey_scale_confuses(a, b):
    x, y = _emoji(a), _emoji(b)
    assert hamming(phash_int64(x), phash_int64(y)) <= 6  # the grey-scale hash alone would merge them
    cx, cy = color_array([color_hash(x), color_hash(y)])
    assert color_distance(cx, cy) > 0.045


def test_signals():
    xmp = _xmp(
        "<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING</plus:DataMining>"
    )
    assert scan(xmp.encode()).opt_out() == ["plus:DataMining=DMI-PROHIBITED-GENAIMLTRAINING"]
    allowed = _xmp('<rdf:Description plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"/>')
    assert scan(allowed.encode()).data_mining == ["DMI-ALLOWED"] and scan(allowed.encode()).opt_out() == []
    assert scan(_c2pa_training_mining("constrained")).opt_out() == ["cawg.ai_generative_training=constrained"]
    assert scan(_c2pa_training_mining("allowed")).opt_out() == []
    old = _c2pa_training_mining("notAllowed").replace(b"cawg.", b"c2pa.")
    assert scan(old).opt_out() == ["c2pa.ai_generative_training=notAllowed"]
    ai = b"...http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia..."
    assert scan(ai).ai_generated() == ["compositeWithTrainedAlgorithmicMedia"]
    camera = b"http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    assert scan(camera).ai_generated() == []


def test_an_unexpected_error_in_one_record_becomes_a_decision(monkeypatch):
    import governance.evidence as evidence

    paths = [str(assets_dir() / f"{stem}.png") for stem in ("1f600", "1f44d")]
    real = evidence.phash_int64
    calls = []

    def flaky(small):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")
        return real(small)

    monkeypatch.setattr(evidence, "phash_int64", flaky)
    out = evidence.evidence_batch([evidence.ImageTask(i, p, None) for i, p in enumerate(paths)], LIMITS)
    assert out[0].failure[0] == "unreadable_image" and "boom" in out[0].failure[1]
    # A failed record goes no further: no colour hash, no small copy for NudeNet.
    assert out[0].color_hash is None and out[0].small is None
    assert out[1].failure is None and out[1].phash is not None


def test_a_file_that_grows_after_stat_is_read_whole_or_refused(tmp_path, monkeypatch):
    # read_bytes sizes its read from stat; a file written to meanwhile must still be read whole, and
    # refused once it passes the limit. Here stat reports fewer bytes than the file holds.
    path = tmp_path / "growing.bin"
    path.write_bytes(b"x" * 1000)
    real_stat = os.stat

    def stale_stat(p, *args, **kwargs):
        st = real_stat(p, *args, **kwargs)
        return os.stat_result((*st[:6], 10, *st[7:]))  # st_size = 10

    monkeypatch.setattr(images.os, "stat", stale_stat)
    assert images.read_bytes(str(path), ImageLimits(5000, 10**6, 1)) == b"x" * 1000
    refused = images.read_bytes(str(path), ImageLimits(500, 10**6, 1))
    assert isinstance(refused, ImageFailure) and refused.reason == Reason.IMAGE_TOO_LARGE
