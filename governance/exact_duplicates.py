"""Exact duplicates: identical file bytes (content sha256)."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def exact_copies(hashes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Positions whose content hash an earlier position shares, and that earlier (first) position.

    Group by group in the order the groups first appear, members in input order; a missing or empty
    hash is in no group. Arrow's dictionary encoding numbers the hashes by first appearance, so no
    Python object is made per record.
    """
    encoded = pc.dictionary_encode(hashes.cast(pa.string()))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    empty = pc.index(encoded.dictionary, "").as_py()
    if empty >= 0:
        codes[codes == empty] = -1
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]
    grouped = codes[order]
    first = np.r_[True, grouped[1:] != grouped[:-1]] if len(order) else np.zeros(0, dtype=bool)
    # Each member's group starts at the last `first` at or before it: its representative.
    starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    return order[~first], order[starts][~first]
