"""Near duplicates: the index finds exactly the pairs brute force finds without comparing all pairs,
and the pair verification merges real transformed copies while keeping real similar pictures apart."""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from governance import stages
from governance.color import color_array, color_distance, color_hash, color_match_distance
from governance.config import DataConfig, DedupConfig, GovernanceConfig, NsfwConfig
from governance.images import ImageLimits, decode
from governance.manifest import Col
from governance.near_duplicates import (
    brute_force_pairs,
    candidate_pairs,
    choose_chunks,
    chunk_masks,
    near_pairs,
    verify_pairs,
)
from governance.perceptual_hash import grid_dhash_int64, phash_int64
from governance.pixel_match import same_framing, verify_on_pixels


def _planted(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    u = hashes.view(np.uint64)
    for i in rng.choice(n, n // 5, replace=False):
        j = rng.integers(n)
        flips = rng.choice(64, rng.integers(0, 10), replace=False)
        u[j] = u[i] ^ np.uint64(sum(1 << int(b) for b in flips))
    u[:3] = u[3]  # a group of identical hashes
    return hashes


@pytest.mark.parametrize("radius", [0, 1, 3, 6, 8])
def test_index_equals_brute_force(radius):
    hashes = _planted(4000, seed=radius)
    found = near_pairs(hashes, radius)
    assert len(found) > 3
    np.testing.assert_array_equal(found, brute_force_pairs(hashes, radius))


def test_chunks_cover_all_bits_once():
    for m in (1, 4, 7, 9, 64):
        masks = chunk_masks(m)
        total = np.uint64(0)
        for mask in masks:
            assert (total & mask) == 0
            total |= mask
        assert total == np.uint64(2**64 - 1)


def test_chunk_count_exceeds_radius_and_grows_with_n():
    assert choose_chunks(1000, 6) > 6
    assert choose_chunks(1_000_000, 6) >= choose_chunks(1000, 6)


def test_tiny_inputs():
    assert near_pairs(np.array([], dtype=np.int64), 6).shape == (0, 2)
    assert near_pairs(np.array([5], dtype=np.int64), 6).shape == (0, 2)


# Real images (tests/data/near_duplicates/README.md): copies made by real transforms and real
# similar-but-distinct pairs, through the decoder, hashes and pair verification the dedup pass uses.
DATA = Path(__file__).parents[1] / "data" / "near_duplicates"
COPIES = sorted(p for p in DATA.iterdir() if p.suffix in (".png", ".webp") and p.name.count(".") == 2)
DISTINCT = [
    ("twemoji-1f44d.png", "twemoji-1f44d-1f3fb.png"),  # skin tone
    ("twemoji-1f44d-1f3fb.png", "twemoji-1f44d-1f3fd.png"),  # two skin tones
    ("twemoji-1f1ee-1f1e9.png", "twemoji-1f1f2-1f1e8.png"),  # Indonesia, Monaco: red over white
    ("twemoji-1f1f7-1f1f4.png", "twemoji-1f1f9-1f1e9.png"),  # Romania, Chad: blue, yellow, red
    ("tango-32-folder.png", "tango-32-folder-remote.png"),  # the same folder with an emblem
]


def _evidence(path: Path):
    small = decode(path.read_bytes(), ImageLimits(10_000_000, 10_000_000, 16)).small
    return phash_int64(small), color_array([color_hash(small)])[0]


def _verify(a: Path, b: Path):
    (pa, ca), (pb, cb) = _evidence(a), _evidence(b)
    phash, colors = np.array([pa, pb], dtype=np.int64), np.stack([ca, cb])
    cfg = DedupConfig()
    pairs = np.array([[0, 1]])
    return verify_pairs(
        phash, grid_dhash_int64(colors), colors, pairs, cfg.near_max_distance, cfg.color_max_distance
    )


def test_the_real_material_is_there():
    assert len(COPIES) >= 8 and all((DATA / a).is_file() and (DATA / b).is_file() for a, b in DISTINCT)


LIMITS = ImageLimits(10_000_000, 10_000_000, 16)


def _decide(a: Path, b: Path) -> tuple[bool, str, dict]:
    """The dedup pass's decision on one pair: the colour grid, else the pixels within the wider radius."""
    cfg, checked = DedupConfig(), _verify(a, b)
    if checked.matched[0]:
        return True, "colour_grid", {}
    nearest = min(checked.phash_distance[0], checked.dhash_distance[0])
    if nearest > cfg.pixel_candidate_distance:
        return False, "not a candidate", {}
    same, evidence = verify_on_pixels(
        str(a), str(b), LIMITS, cfg.pixel_max_difference, cfg.pixel_max_share_ratio
    )
    return same, "pixels", evidence


# Copies the 16x16 colour grid cannot tell from recolouring (sub-cell shifts at sharp edges, chroma
# of a lossy re-encode, a shadow trimmed differently): the pixel check decides them.
GRID_MISSES = {
    "tango-32-accessories-calculator.contrast_minus_10pct.png",
    "twemoji-1f3a8.crop_1px.png",
    "twemoji-1f3a8.webp_q75.webp",
}


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: p.name)
def test_real_transformed_copies_are_near_duplicates(copy):
    original = DATA / (copy.name.split(".")[0] + ".png")
    same, by, evidence = _decide(original, copy)
    assert same, f"{copy.name}: {by} {evidence}"
    assert by == ("pixels" if copy.name in GRID_MISSES else "colour_grid")


# A few mouth pixels on a small face: merged at 0.0325 when compared at 32 px, apart (0.066) when two
# images of one size are compared whole at up to 48 px.
FROWNING_POUTING = ("twemoji-1f64d-1f3fe-200d-2642-fe0f.png", "twemoji-1f64e-1f3fe-200d-2642-fe0f.png")


@pytest.mark.parametrize(("a", "b"), [*DISTINCT, FROWNING_POUTING])
def test_real_similar_pictures_stay_distinct(a, b):
    same, by, evidence = _decide(DATA / a, DATA / b)
    assert not same, f"{a} / {b}: {by} {evidence}"


SQUARES = ["twemoji-25aa.png", "twemoji-25fe.png", "twemoji-25fc.png", "twemoji-2b1b.png"]


def test_one_shape_on_different_margins_stays_distinct_on_pixels():
    # Trimmed, two of the black squares are one picture: only the margins they had tell them apart.
    cfg = DedupConfig()
    smalls = {name: decode((DATA / name).read_bytes(), LIMITS).small for name in SQUARES}
    for a, b in itertools.combinations(SQUARES, 2):
        match = same_framing(smalls[a], smalls[b])
        assert match.share_ratio > cfg.pixel_max_share_ratio
        same, _ = verify_on_pixels(
            str(DATA / a), str(DATA / b), LIMITS, cfg.pixel_max_difference, cfg.pixel_max_share_ratio
        )
        assert not same, (a, b)


def test_a_crop_is_aligned_at_the_same_scale():
    same, evidence = verify_on_pixels(
        str(DATA / "twemoji-1f3a8.png"), str(DATA / "twemoji-1f3a8.crop_1px.png"), LIMITS, 0.05, 1.15
    )
    assert same and evidence["pixel_alignment"] == "scale" and evidence["pixel_ssim"] > 0.95


def test_an_unreadable_file_is_never_a_pixel_match(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    same, evidence = verify_on_pixels(str(DATA / "twemoji-1f3a8.png"), str(broken), LIMITS, 1.0, 100.0)
    assert not same and evidence == {"pixel_check": "unreadable"}


def test_a_brightness_change_is_forgiven_and_recorded():
    darker = DATA / "twemoji-1f3a8.darker_6pct_flattened.png"
    (_, ca), (_, cb) = _evidence(DATA / "twemoji-1f3a8.png"), _evidence(darker)
    assert float(color_distance(ca, cb)) > 0.045  # the plain worst-cell colour check rejects it
    checked = _verify(DATA / "twemoji-1f3a8.png", darker)
    assert checked.matched[0] and 0.9 < checked.gain[0] < 0.97


def test_no_shared_gain_turns_one_skin_tone_into_another():
    (_, ca), (_, cb) = _evidence(DATA / "twemoji-1f44d.png"), _evidence(DATA / "twemoji-1f44d-1f3fd.png")
    distance, _, _ = color_match_distance(ca[None], cb[None])
    assert distance[0] > 2 * DedupConfig().color_max_distance


def test_candidates_come_from_either_hash():
    phash = np.array([0, 1, 0xFF << 8, 0xFFFF << 40], dtype=np.int64)  # (0, 1) within 2 bits
    dhash = np.array([0, 0xF0, 0b11, 0xFFFF0], dtype=np.int64)  # (0, 2) within 2 bits
    np.testing.assert_array_equal(candidate_pairs(phash, dhash, 2), [[0, 1], [0, 2]])


def test_dedup_records_the_evidence_and_follows_exact_copies_to_the_kept_record(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    darker = (DATA / "twemoji-1f3a8.darker_6pct_flattened.png").read_bytes()
    files = {"a.png": (DATA / "twemoji-1f3a8.png").read_bytes(), "b.png": darker, "c.png": darker}
    files["d.webp"] = (DATA / "twemoji-1f3a8.webp_q75.webp").read_bytes()  # the grid misses it
    rows = []
    for name, content in files.items():
        (data / name).write_bytes(content)
        rows.append(
            {"file_name": name, "text": "artist palette", "license": "CC-BY-4.0", "author": "Twemoji"}
            | {"source_url": "https://github.com/jdecked/twemoji"}
        )
    (data / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = GovernanceConfig(
        data=DataConfig(source="imagefolder", path=data), nsfw=NsfwConfig(enabled=False), num_proc=1
    )
    work = tmp_path / "work"
    for stage in (stages.ingest, stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *_: None)
    manifest = pd.read_parquet(stages.finalize(cfg, work, seed=0).manifest_path).set_index(Col.FILE_NAME)
    kept = manifest.at["a.png", Col.RECORD_ID]
    assert manifest.at["a.png", Col.DECISION] == "keep"
    # b and c are byte-identical; b is the darker copy of a, so c must point at a, not at dropped b.
    near, exact = (
        ("b.png", "c.png") if "duplicate_near" in manifest.at["b.png", Col.REASONS] else ("c.png", "b.png")
    )
    assert list(manifest.at[near, Col.REASONS]) == ["duplicate_near"]
    assert list(manifest.at[exact, Col.REASONS]) == ["duplicate_exact"]
    assert manifest.at[near, Col.DUPLICATE_OF] == kept and manifest.at[exact, Col.DUPLICATE_OF] == kept
    evidence = json.loads(manifest.at[near, Col.EVIDENCE])["near_duplicate"]
    assert evidence["found_by"] in {"phash", "dhash", "phash+dhash"}
    assert evidence["color_distance"] <= cfg.dedup.color_max_distance < evidence["color_distance"] + 0.06
    assert 0.9 < evidence["brightness_gain"] < 0.97  # the 6% darkening, forgiven and recorded
    assert evidence["verified_on"] == "colour_grid"
    on_pixels = json.loads(manifest.at["d.webp", Col.EVIDENCE])["near_duplicate"]
    assert manifest.at["d.webp", Col.DUPLICATE_OF] == kept and on_pixels["verified_on"] == "pixels"
    assert on_pixels["pixel_difference"] <= cfg.dedup.pixel_max_difference < on_pixels["color_distance"]
    assert {"hamming", "dhash_hamming", "pixel_ssim", "pixel_alignment"} <= on_pixels.keys()
    exact_evidence = json.loads(manifest.at[exact, Col.EVIDENCE])["exact_duplicate"]
    assert exact_evidence["identical_to"] == manifest.at[near, Col.RECORD_ID]
