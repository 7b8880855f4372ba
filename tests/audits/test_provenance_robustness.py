"""The robustness table and its gate, on signed and marked real emoji (Twemoji, CC-BY 4.0)."""

import io

import numpy as np
import pytest
from PIL import Image

from audits.config import WATERMARK_ATTACKS, DeepfakeConfig
from audits.provenance_robustness import (
    ATTACKS,
    OutputSigner,
    attacked_file,
    default_marker,
    mark_survival,
    signer_row,
    survival_chart,
    survival_checks,
    unmarked_copy,
)
from audits.report import Verdict
from training.output_credentials import throwaway_credentials
from training.output_marks import WATERMARK_SCALES, watermark_tag

RUN = "run-robust"
FEW = ("none", "png_reencode", "jpeg_q75", "crop_0.9", "resize_0.5")
GATED = DeepfakeConfig().watermark_gated_attacks


@pytest.fixture(scope="module")
def creds():
    return throwaway_credentials(RUN)


@pytest.fixture(scope="module")
def outputs(emoji):
    # emoji on white: the case where a mark without headroom is clipped away
    return [Image.fromarray(emoji.train_images[i]) for i in (6, 12)]


def _weak_marker(img: Image.Image) -> bytes:
    """The same library and strength, without the pixel squeeze into [16, 239]: clipped on white."""
    from imwatermark import WatermarkEncoder

    big = img.convert("RGB").resize((512, 512), Image.Resampling.NEAREST)
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", watermark_tag(RUN))
    bgr = encoder.encode(
        np.ascontiguousarray(np.asarray(big)[:, :, ::-1]), "dwtDctSvd", scales=WATERMARK_SCALES
    )
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(buf, "PNG")
    return buf.getvalue()


def _by_attack(rows):
    return {r["attack"]: r for r in rows}


def _verdicts(checks):
    return {c.name: c.verdict for c in checks}


def test_signed_outputs_keep_c2pa_only_unedited_and_the_watermark_through_edits(outputs, creds, tmp_path):
    files = [default_marker(RUN, "tiny", creds)(img) for img in outputs]
    rows = mark_survival(files, [unmarked_copy(outputs[0])], RUN, FEW)
    table = _by_attack(rows)
    assert set(table) == {*FEW, "unmarked"}
    assert table["none"]["c2pa"] == table["none"]["watermark"] == table["none"]["metadata"] == 1.0
    for name in FEW[1:]:  # every re-encode drops the manifest and the PNG text: measured, not assumed
        assert table[name]["c2pa"] == 0.0 and table[name]["metadata"] == 0.0, name
    assert table["jpeg_q75"]["watermark"] == table["crop_0.9"]["watermark"] == 1.0
    assert table["resize_0.5"]["watermark"] == 1.0  # read after scaling back to the output size
    assert table["unmarked"]["watermark"] == 0.0 and table["unmarked"]["images"] == 1
    checks = survival_checks(rows, GATED, 0.9, 0.0, [], "dwtDctSvd")
    assert set(_verdicts(checks).values()) == {Verdict.PASS}
    with Image.open(survival_chart(rows, tmp_path / "survival.png")) as chart:
        assert chart.size[0] > 100


def test_a_weak_mark_fails_the_survival_gate(outputs):
    rows = mark_survival([_weak_marker(img) for img in outputs], [], RUN, ("none", "jpeg_q75"))
    table = _by_attack(rows)
    assert table["jpeg_q75"]["watermark"] < 0.5, table
    verdicts = _verdicts(survival_checks(rows, GATED, 0.5, 0.0, [], "dwtDctSvd"))
    assert verdicts["watermark_survival_jpeg_q75"] == Verdict.FAIL
    # nothing unmarked was read: the false-positive check cannot pass on nothing
    assert verdicts["watermark_false_positive_rate"] != Verdict.PASS


def test_the_gated_edits_are_configurable_and_each_is_its_own_check(outputs):
    assert tuple(ATTACKS) == WATERMARK_ATTACKS  # the config offers exactly the edits the table applies
    assert GATED == ["jpeg_q75", "crop_0.9"]
    rows = mark_survival([_weak_marker(img) for img in outputs], [], RUN, ("none", "webp_q80", "crop_0.9"))
    verdicts = _verdicts(survival_checks(rows, ["webp_q80", "crop_0.9"], 0.5, 0.0, [], "dwtDctSvd"))
    assert (
        verdicts["watermark_survival_webp_q80"] == Verdict.FAIL
        and "watermark_survival_jpeg_q75" not in verdicts
    )
    cfg = DeepfakeConfig(
        watermark_gated_attacks=["webp_q80", "webp_q80"], allow_unmeasured=["watermark_survival_webp_q80"]
    )
    assert cfg.watermark_gated_attacks == ["webp_q80"]
    with pytest.raises(ValueError, match=r"unknown edit.*blur"):
        DeepfakeConfig(watermark_gated_attacks=["blur"])


def test_no_outputs_means_no_survival_check_passes():
    checks = survival_checks(mark_survival([], [], RUN, GATED), GATED, 0.5, 0.0, [], "dwtDctSvd")
    assert all(c.verdict != Verdict.PASS and not c.passed for c in checks)


def test_edited_files_are_encoded_as_the_edit_says_and_unknown_edits_are_refused(outputs, creds):
    data = default_marker(RUN, "tiny", creds)(outputs[0])
    assert attacked_file(data, "none") == data
    for name, (_, fmt) in ATTACKS.items():
        with Image.open(io.BytesIO(attacked_file(data, name))) as im:
            assert im.format == fmt, name
            if name.startswith("crop_0.75"):
                assert im.size == (384, 384)
    with pytest.raises(ValueError, match="unknown attack 'blur'"):
        attacked_file(data, "blur")


def test_a_rivagan_signer_marks_with_rivagan_and_the_table_reads_rivagan(outputs, creds):
    signer = OutputSigner.for_run(RUN, "tiny", creds, method="rivaGan")
    files = [signer.marker()(outputs[0])]
    table = _by_attack(
        mark_survival(files, [unmarked_copy(outputs[0])], RUN, ("none", "jpeg_q75"), "rivaGan")
    )
    assert table["none"]["watermark"] == table["jpeg_q75"]["watermark"] == 1.0
    assert table["unmarked"]["watermark"] == 0.0
    # the dwtDctSvd decoder does not read a RivaGAN mark: the method has to travel with the outputs
    assert _by_attack(mark_survival(files, [], RUN, ("jpeg_q75",)))["jpeg_q75"]["watermark"] == 0.0
    assert signer_row(creds, signer.method)["watermark_method"] == "rivaGan"
    assert signer_row(creds)["watermark_method"] == "dwtDctSvd"
