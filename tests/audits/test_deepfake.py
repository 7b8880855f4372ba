import numpy as np
import pytest
from PIL import Image
from skimage import data

from audits.config import DeepfakeConfig
from audits.deepfake import ATTACKS, attack, audit_deepfake
from audits.governed_data import load_image
from audits.memorization import hamming, nearest_training, phashes
from audits.provenance_check import check_output
from tests.audits.conftest import lookup_generator, noop_progress

# Marks off where a test is not about them: measuring their survival costs seconds an image.
CFG = DeepfakeConfig(memorization_prompts=24, seeds_per_prompt=2, watermark=False)
MARKED = CFG.model_copy(update={"watermark": True, "watermark_images": 1})


def _rate(report):
    return next(c for c in report.checks if c.name == "replication_rate").measured


def _audit(cfg, generate, emoji, out, seed=0, calibrate_on_held_out=True):
    """The audit of `generate` against the emoji fixture's training split, run id `run-1`."""
    held_out = emoji.held_out_images if calibrate_on_held_out else None
    return audit_deepfake(
        cfg,
        generate,
        emoji.train,
        emoji.train_images,
        out,
        seed,
        noop_progress,
        "run-1",
        held_out_images=held_out,
    )


def test_a_generator_returning_training_images_is_flagged_at_100_percent(emoji, tmp_path):
    memoriser = lookup_generator(emoji.train.texts, emoji.train_images, emoji.train_images[0])
    report = _audit(CFG, memoriser, emoji, tmp_path)
    assert _rate(report) == pytest.approx(1.0)
    assert not report.passed
    assert report.examples and all(p.exists() for p in report.examples)
    assert {r["check"] for r in report.tables["risk_summary"]} >= {"replication_rate", "face_share"}


def test_a_generator_returning_unseen_images_is_flagged_at_about_0_percent(emoji, tmp_path):
    held = emoji.held_out_images

    def unseen(prompts, seeds):
        return np.stack([held[(len(p) * 7 + s) % len(held)] for p, s in zip(prompts, seeds, strict=True)])

    report = _audit(CFG, unseen, emoji, tmp_path)
    assert _rate(report) <= 0.05
    assert next(c for c in report.checks if c.name == "replication_rate").passed


def test_nearest_training_finds_an_exact_copy_among_many(emoji):
    idx = np.array([3, 50, len(emoji.train_images) - 1])
    found = nearest_training(emoji.train_images[idx], emoji.train_images, candidates=8)
    np.testing.assert_array_equal(found.distance, 0.0)
    assert (emoji.train_images[found.index] == emoji.train_images[idx]).all()


def test_hamming_is_a_popcount_of_xor():
    a = np.array([0b1011], dtype=np.uint64)
    b = np.array([0, 0b1011, 2**64 - 1], dtype=np.uint64)
    np.testing.assert_array_equal(hamming(a, b), [[3, 0, 61]])
    assert phashes(np.zeros((2, 32, 32, 3), dtype=np.uint8)).dtype == np.uint64


def test_watermark_survival_is_measured_per_attack(emoji, tmp_path):
    memoriser = lookup_generator(emoji.train.texts, emoji.train_images, emoji.train_images[0])
    report = _audit(MARKED, memoriser, emoji, tmp_path)
    survival = {row["attack"]: row for row in report.tables["mark_survival"]}
    assert set(survival) == {*ATTACKS, "unmarked"}
    assert survival["none"]["watermark"] == survival["none"]["metadata"] == survival["none"]["c2pa"] == 1.0
    assert survival["jpeg_q75"]["metadata"] == 0.0  # re-encoding drops PNG text: reported, not hidden
    assert survival["jpeg_q75"]["c2pa"] == 0.0  # and the manifest
    assert survival["crop_0.9"]["watermark"] == 1.0  # found by searching the crop's offset
    gated = {c.name: c for c in report.checks if c.name.startswith("watermark_")}
    assert set(gated) == {
        "watermark_survival_jpeg_q75",
        "watermark_survival_crop_0.9",
        "watermark_false_positive_rate",
    }
    signed = [p for p in report.examples if p.parent.name == "signed_samples"]
    assert len(signed) == MARKED.watermark_images
    assert check_output(signed[0], ["run-1"]).status == "signed output"
    assert any(p.name == "mark_survival.png" for p in report.charts)


def test_deepfake_metrics_are_deterministic_for_a_seed(emoji, tmp_path):
    memoriser = lookup_generator(emoji.train.texts, emoji.train_images, emoji.train_images[0])
    cfg = CFG.model_copy(update={"watermark": False, "memorization_prompts": 6, "replication_distance": 0.01})
    a = _audit(cfg, memoriser, emoji, tmp_path / "a", seed=5, calibrate_on_held_out=False)
    b = _audit(cfg, memoriser, emoji, tmp_path / "b", seed=5, calibrate_on_held_out=False)
    assert [m.model_dump() for m in a.metrics] == [m.model_dump() for m in b.metrics]


def test_unknown_attack_is_an_error():

    with pytest.raises(ValueError, match="unknown attack"):
        attack(Image.new("RGB", (4, 4)), "blur")


def test_without_held_out_images_training_images_calibrate_the_replication_distance(emoji, tmp_path):
    memoriser = lookup_generator(emoji.train.texts, emoji.train_images, emoji.train_images[0])
    report = _audit(CFG, memoriser, emoji, tmp_path, calibrate_on_held_out=False)
    assert _rate(report) == pytest.approx(1.0) and not report.passed
    assert any("train-to-other-train" in n for n in report.notes)


def test_nearest_training_can_exclude_the_query_itself(emoji):
    images = emoji.train_images[:12]
    assert (nearest_training(images, images, candidates=4).distance == 0).all()  # each finds itself
    found = nearest_training(images, images, candidates=4, exclude=np.arange(12))
    assert (found.index != np.arange(12)).all()


def test_one_training_image_and_no_held_out_cannot_calibrate_and_withholds_approval(emoji, tmp_path):
    one = emoji.train.subset([0])
    memoriser = lookup_generator(one.texts, emoji.train_images[:1], emoji.train_images[0])
    report = audit_deepfake(
        CFG, memoriser, one, emoji.train_images[:1], tmp_path, 0, noop_progress, held_out_images=None
    )
    check = next(c for c in report.checks if c.name == "replication_rate")
    assert check.measured is None and not check.passed
    assert "replication_distance" in check.message and "allow_unmeasured" in check.message
    waived = DeepfakeConfig(**{**CFG.model_dump(), "allow_unmeasured": ["replication_rate"]})
    again = audit_deepfake(waived, memoriser, one, emoji.train_images[:1], tmp_path, 0, noop_progress)
    assert next(c for c in again.checks if c.name == "replication_rate").passed


def test_a_model_that_draws_faces_fails_the_default_face_share_gate(emoji, tmp_path):
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()[:300, 100:400]).save(photo)
    face = load_image(photo, 32)
    cfg = DeepfakeConfig(memorization_prompts=6, seeds_per_prompt=1, watermark=False)
    faces = _audit(cfg, lambda prompts, seeds: np.stack([face] * len(prompts)), emoji, tmp_path / "faces")
    check = next(c for c in faces.checks if c.name == "face_share")
    assert check.measured == 1.0 and not check.passed and check.threshold == DeepfakeConfig().max_face_share
