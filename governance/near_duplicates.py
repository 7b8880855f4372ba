"""Near-duplicate search on 64-bit hashes that never compares all pairs.

Multi-index hashing with the pigeonhole principle: cut the 64 bits into m chunks. Two hashes within
Hamming distance r differ in at most r chunks, so at least m - r chunks are identical. For every
choice of m - r chunks, hashes that agree on all of them are found by sorting on those bits (a mask),
and only those candidates are compared. m is chosen from a cost model (sorts vs expected candidates),
e.g. r = 6 on a million hashes: 9 chunks of 7-8 bits, 84 sorts, a few hundred thousand candidates.
Identical hashes are collapsed first so that the work depends on the distinct values.

Candidates come from two hashes searched this way (pHash and a dHash of the colour grid: each keeps
pairs the other loses), and every candidate pair is then verified on its colour grids
(governance.color.color_match_distance), in chunks, so memory grows with the pairs, not n * n.
"""

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from governance.color import color_match_distance
from governance.perceptual_hash import hamming

_SORT_NS_PER_ITEM_BIT = 3.0  # measured order of magnitude: argsort of n uint64 ~ 3 ns * n * log2(n)
_PAIR_NS = 25.0  # one candidate: compare, popcount, filter


def chunk_masks(m: int) -> list[np.uint64]:
    """Bit masks of m contiguous chunks covering 64 bits (sizes differ by at most one)."""
    masks, start = [], 0
    for i in range(m):
        size = 64 // m + (1 if i < 64 % m else 0)
        masks.append(np.uint64(((1 << size) - 1) << start))
        start += size
    return masks


def choose_chunks(n: int, radius: int) -> int:
    """The chunk count m (> radius) with the lowest modelled cost for n distinct hashes."""
    if radius == 0:
        return 1
    best, best_cost = radius + 1, math.inf
    for m in range(radius + 1, min(64, radius + 12) + 1):
        tables = math.comb(m, radius)
        if tables > 5000:
            break
        bits = 64 * (m - radius) / m
        cost = tables * (
            _SORT_NS_PER_ITEM_BIT * n * max(math.log2(max(n, 2)), 1) + _PAIR_NS * n * n / 2 ** (bits + 1)
        )
        if cost < best_cost:
            best, best_cost = m, cost
    return best


def _pairs_of_distinct(values: np.ndarray, radius: int) -> np.ndarray:
    """(P, 2) index pairs i < j into `values` (distinct uint64) with Hamming distance <= radius."""
    n = len(values)
    if n < 2 or radius == 0:
        return np.zeros((0, 2), dtype=np.int64)
    m = choose_chunks(n, radius)
    masks = chunk_masks(m)
    found: list[np.ndarray] = []
    held = 0
    for combo in combinations(range(m), m - radius):
        mask = np.uint64(0)
        for c in combo:
            mask |= masks[c]
        keys = values & mask
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        # Equal keys sit next to each other: compare each item with the one d places further on,
        # for d = 1, 2, ... until no run is that long.
        for d in range(1, n):
            same = sorted_keys[d:] == sorted_keys[:-d]
            if not same.any():
                break
            a, b = order[:-d][same], order[d:][same]
            close = hamming(values[a].view(np.int64), values[b].view(np.int64)) <= radius
            if close.any():
                lo, hi = np.minimum(a[close], b[close]), np.maximum(a[close], b[close])
                found.append(lo.astype(np.int64) * n + hi)
                held += len(found[-1])
        # A close pair agrees on many chunk choices and is found by each: merge the finds as they
        # come, so memory holds the distinct pairs (about twice), not one copy per choice.
        if len(found) > 1 and held > 2 * len(found[0]) + (1 << 16):
            found = [np.unique(np.concatenate(found))]
            held = len(found[0])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


def near_pairs(hashes: np.ndarray, radius: int) -> np.ndarray:
    """All index pairs (i < j, sorted) of int64 hashes within Hamming `radius`, without an all-pairs scan."""
    hashes = np.asarray(hashes, dtype=np.int64)
    if len(hashes) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    values, inverse = np.unique(hashes.view(np.uint64), return_inverse=True)
    inverse = inverse.reshape(-1)
    distinct = _pairs_of_distinct(values, radius)
    # Members of each distinct value (order[starts[v]:starts[v + 1]]), to expand pairs of values
    # into pairs of items; a value held by one item (most of them) is expanded without a loop.
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(values))
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for v in np.flatnonzero(counts > 1):
        group = order[starts[v] : starts[v + 1]]
        i, j = np.triu_indices(len(group), k=1)
        out.append(np.stack([group[i], group[j]], axis=1))
    single = (counts[distinct[:, 0]] == 1) & (counts[distinct[:, 1]] == 1)
    if single.any():
        ends = order[starts[distinct[single]]]  # the one member of each value
        out.append(np.sort(ends, axis=1))
    for u, v in distinct[~single]:
        a, b = order[starts[u] : starts[u + 1]], order[starts[v] : starts[v + 1]]
        grid = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
        out.append(np.sort(grid, axis=1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(out).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def candidate_pairs(phash: np.ndarray, dhash: np.ndarray, radius: int) -> np.ndarray:
    """Index pairs (i < j, sorted, unique) within `radius` on the pHash or on the colour-grid dHash."""
    found = np.concatenate([near_pairs(phash, radius), near_pairs(dhash, radius)])
    return np.unique(found, axis=0) if len(found) else np.zeros((0, 2), dtype=np.int64)


@dataclass(frozen=True)
class PairEvidence:
    """The verification of candidate pairs, one entry per pair: what the manifest records."""

    phash_distance: np.ndarray
    dhash_distance: np.ndarray
    color_distance: np.ndarray
    gain: np.ndarray  # the brightness/contrast change the colour check forgave
    offset: np.ndarray
    matched: np.ndarray  # bool: the same picture

    def found_by(self, k: int, radius: int) -> str:
        """Which hash found pair k: "phash", "dhash" or "phash+dhash"."""
        names = [
            n for n, d in (("phash", self.phash_distance), ("dhash", self.dhash_distance)) if d[k] <= radius
        ]
        return "+".join(names)


def verify_pairs(
    phash: np.ndarray,
    dhash: np.ndarray,
    colors: np.ndarray,
    pairs: np.ndarray,
    radius: int,
    color_max: float,
    chunk: int = 4096,
) -> PairEvidence:
    """Verify candidate pairs: found by a hash within `radius` and the same colours (<= color_max)."""
    a, b = pairs[:, 0], pairs[:, 1]
    colour, gain, offset = (np.zeros(len(a), dtype=np.float32) for _ in range(3))
    for s in range(0, len(a), chunk):
        part = color_match_distance(colors[a[s : s + chunk]], colors[b[s : s + chunk]])
        colour[s : s + chunk], gain[s : s + chunk], offset[s : s + chunk] = part
    pd_, dd = hamming(phash[a], phash[b]), hamming(dhash[a], dhash[b])
    matched = ((pd_ <= radius) | (dd <= radius)) & (colour <= color_max)
    return PairEvidence(pd_, dd, colour, gain, offset, matched)


def brute_force_pairs(hashes: np.ndarray, radius: int, block: int = 2048) -> np.ndarray:
    """The reference answer (all pairs compared, in blocks): for tests and benchmarks only."""
    hashes = np.asarray(hashes, dtype=np.int64)
    out = []
    for start in range(0, len(hashes), block):
        rows = hashes[start : start + block]
        dist = hamming(rows[:, None], hashes[None, :])
        i, j = np.nonzero(dist <= radius)
        i = i + start
        keep = i < j
        out.append(np.stack([i[keep], j[keep]], axis=1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(out).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
