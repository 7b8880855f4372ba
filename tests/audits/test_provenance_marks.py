import io

import numpy as np
import pytest
from PIL import Image

from audits.provenance_marks import read_mark
from training.output_marks import (
    DIGITAL_SOURCE_TYPE,
    MIN_SIDE,
    WATERMARK_SCALES,
    XMP_KEY,
    mark_image,
    save_marked_png,
    watermark_tag,
)


def _emoji(emoji, i=0) -> Image.Image:
    return Image.fromarray(emoji.train_images[i])


def test_metadata_and_watermark_round_trip_through_a_png_file(emoji, tmp_path):
    path = save_marked_png(_emoji(emoji), tmp_path / "out.png", "run-42", "tiny-unet")
    mark = read_mark(path, run_id="run-42")
    assert mark.metadata_found and mark.digital_source_type == DIGITAL_SOURCE_TYPE
    assert (mark.model_name, mark.run_id) == ("tiny-unet", "run-42")
    assert mark.watermark_found and mark.watermark_bit_accuracy == 1.0
    with Image.open(path) as im:
        assert "trainedAlgorithmicMedia" in im.info[XMP_KEY] and "run-42" in im.info[XMP_KEY]
        assert min(im.size) >= MIN_SIDE  # small images are upscaled before marking


def test_another_run_id_does_not_match_and_unmarked_images_carry_nothing(emoji):
    marked = mark_image(_emoji(emoji), "run-42", "tiny-unet")
    assert not read_mark(marked, run_id="run-43").watermark_found
    plain = read_mark(_emoji(emoji).resize((512, 512)), run_id="run-42")
    assert not plain.metadata_found and not plain.watermark_found


def test_watermark_survives_jpeg_q75(emoji):
    found = 0
    for i in range(3):
        marked = mark_image(_emoji(emoji, i * 7), f"run-{i}", "tiny-unet")
        buf = io.BytesIO()
        marked.save(buf, format="JPEG", quality=75)
        buf.seek(0)
        found += read_mark(Image.open(buf), run_id=f"run-{i}").watermark_found
    assert found >= 2


def test_a_cropped_image_is_found_by_searching_where_the_crop_was_taken(emoji):
    from audits.provenance_robustness import attack

    for i in range(2):  # each search scores 64 alignments: seconds under load
        marked = mark_image(_emoji(emoji, i * 5), f"run-{i}", "tiny-unet")
        for box in ((25, 25, 487, 487), (3, 40, 500, 301)):  # the audit's centre crop, and an odd one
            cropped = marked.crop(box)
            assert not read_mark(cropped, run_id=f"run-{i}", search_crop=False).watermark_found
            mark = read_mark(cropped, run_id=f"run-{i}")
            assert mark.watermark_found and mark.watermark_searched, (i, box)
        assert read_mark(attack(marked, "crop_0.9"), run_id=f"run-{i}").watermark_found
        # the search does not find a tag that is not there: another run's, or none at all
        assert not read_mark(marked.crop((25, 25, 487, 487)), run_id="run-other").watermark_found
        unmarked = _emoji(emoji, i * 5).resize((512, 512), Image.Resampling.NEAREST).crop((25, 25, 487, 487))
        assert not read_mark(unmarked, run_id=f"run-{i}").watermark_found


def test_the_shared_dwt_gives_the_grids_of_each_alignment(emoji):
    from audits.watermark_search import _alignment_grids, block_scores

    marked = mark_image(_emoji(emoji, 2), "run-2", "tiny-unet").crop((3, 5, 301, 290))  # odd sizes
    bgr = np.ascontiguousarray(np.asarray(marked)[:, :, ::-1])
    grids = list(_alignment_grids(bgr, WATERMARK_SCALES[1]))
    assert len(grids) == 64
    for dy, dx, grid in grids:
        assert np.array_equal(grid, block_scores(bgr[dy:, dx:], WATERMARK_SCALES[1])), (dy, dx)


def test_the_early_stop_returns_what_the_exhaustive_search_returns(emoji):
    from audits.watermark_search import MIN_MATCHES_SEARCHED, search_bits

    tag = watermark_tag("run-3")
    marked = mark_image(_emoji(emoji, 3), "run-3", "tiny-unet")
    unmarked = _emoji(emoji, 3).resize((512, 512), Image.Resampling.NEAREST)
    for img, box in (
        (marked, (25, 25, 487, 487)),
        (marked, (3, 40, 400, 301)),
        (unmarked, (3, 40, 400, 301)),
    ):
        bgr = np.ascontiguousarray(np.asarray(img.crop(box))[:, :, ::-1])
        early = search_bits(bgr, WATERMARK_SCALES[1], tag)
        full = search_bits(bgr, WATERMARK_SCALES[1], tag, stop_at_full_match=False)
        assert np.array_equal(early[0], full[0]) and early[1] == full[1], box
        if img is marked:
            assert early[1] == 32 and list(early[0]) == tag
        else:
            assert early[1] < MIN_MATCHES_SEARCHED  # no full match, so no early stop and nothing found


def _library_bits(img: Image.Image) -> list[int]:
    """What invisible-watermark's own decoder reads (one Python call per block: slow, the reference)."""
    from imwatermark import WatermarkDecoder

    bgr = np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])
    return [int(b) for b in WatermarkDecoder("bits", 32).decode(bgr, "dwtDctSvd", scales=WATERMARK_SCALES)]


def test_the_vectorised_decoder_reads_the_bits_the_library_reads(emoji):
    from audits.provenance_marks import _decode_bits

    for i in range(3):
        marked = mark_image(_emoji(emoji, i * 3), f"run-{i}", "tiny-unet")
        assert _decode_bits(marked) == _library_bits(marked) == watermark_tag(f"run-{i}")
        buf = io.BytesIO()
        marked.save(buf, format="JPEG", quality=50)  # damaged: some bits flip, the same ones
        damaged = Image.open(io.BytesIO(buf.getvalue()))
        assert _decode_bits(damaged) == _library_bits(damaged)
        noisy = _emoji(emoji, i).resize((512, 384))  # unmarked, and not square
        assert _decode_bits(noisy) == _library_bits(noisy)
    assert _decode_bits(Image.new("RGB", (255, 256))) is None  # under the library's minimum


def test_a_downscaled_copy_is_read_at_the_output_size(emoji):
    marked = mark_image(_emoji(emoji, 4), "run-4", "tiny-unet")
    half = marked.resize((256, 256), Image.Resampling.BICUBIC)
    mark = read_mark(half, run_id="run-4", search_crop=False)
    assert mark.watermark_found and mark.watermark_rescaled
    assert not read_mark(half, run_id="run-5", search_crop=False).watermark_found


def test_rivagan_marks_and_reads_small_images_through_its_256_px_working_size(tmp_path):
    from skimage import data

    from training.output_marks import WatermarkMethod

    photo = Image.fromarray(data.astronaut()).resize((64, 64), Image.Resampling.LANCZOS)
    path = save_marked_png(photo, tmp_path / "riva.png", "run-7", "tiny-unet", method=WatermarkMethod.RIVAGAN)
    mark = read_mark(path, run_id="run-7")  # the method comes from the file's metadata
    assert mark.watermark_method == "rivaGan" and mark.watermark_found, mark.watermark_bit_accuracy
    assert not read_mark(path, run_id="run-8").watermark_found
    with Image.open(path) as im:
        assert min(im.size) >= MIN_SIDE
        small = im.convert("RGB").resize((128, 128), Image.Resampling.BICUBIC)  # under the decoder's 256
    assert read_mark(small, run_id="run-7", method="rivaGan").watermark_found
    # the dwtDctSvd reader does not see a RivaGAN mark, and RivaGAN does not see an unmarked photo
    assert not read_mark(small, run_id="run-7", method="dwtDctSvd").watermark_found
    unmarked = mark_image(photo, "run-7", "m", watermark=False)
    assert not read_mark(unmarked, run_id="run-7", method="rivaGan").watermark_found
    with pytest.raises(ValueError, match="unknown watermark method"):
        mark_image(photo, "run-7", "m", method="trustmark")


def test_a_rivagan_crop_is_read_again_at_the_scale_the_output_was_marked_at():
    from audits.governed_data import load_image
    from tests.audits.emoji_governed import ASSETS

    emoji = Image.fromarray(load_image(sorted(ASSETS.glob("*.png"))[::235][3], 32))
    crop = mark_image(emoji, "run-3", "m", method="rivaGan").crop((64, 64, 448, 448))  # 25% off
    # scaled to 256 px the crop is read at 1.33x the scale it was marked at: too few bits
    assert not read_mark(crop, run_id="run-3", method="rivaGan", search_crop=False).watermark_found
    found = read_mark(crop, run_id="run-3", method="rivaGan")
    assert found.watermark_found and found.watermark_searched
    assert not read_mark(crop, run_id="run-4", method="rivaGan").watermark_found


def test_marking_keeps_the_picture_visible(emoji):
    img = _emoji(emoji).resize((MIN_SIDE, MIN_SIDE), Image.Resampling.NEAREST)
    marked = np.asarray(mark_image(img, "run-1", "m"), dtype=float)
    psnr = 10 * np.log10(255**2 / np.mean((marked - np.asarray(img, dtype=float)) ** 2))
    assert psnr > 25  # the squeeze into [16, 239] plus the mark: a faint change only


def test_empty_run_id_is_refused(emoji):
    with pytest.raises(ValueError, match="run_id"):
        mark_image(_emoji(emoji), "", "m")
