"""The near-duplicate index finds exactly the pairs brute force finds, without comparing all pairs."""

import numpy as np
import pytest

from governance.near_duplicates import brute_force_pairs, choose_chunks, chunk_masks, near_pairs


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
