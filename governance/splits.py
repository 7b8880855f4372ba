"""Train / eval split of the kept records, chosen after dedup, whole similarity clusters at a time.

Records whose grey-scale hashes are near each other (the five skin tones of one emoji, a recoloured
icon) form one cluster; a cluster goes entirely to train or entirely to eval, so no near-duplicate
straddles the split. Clusters are ordered by a seeded hash, so the split is deterministic per seed
and independent of input order.
"""

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

from governance.manifest import Split


def eval_target(kept: int, eval_fraction: float) -> int:
    """How many records the eval split aims for (at least one when a fraction is asked and possible)."""
    target = round(eval_fraction * kept)
    if eval_fraction > 0 and kept >= 2:
        target = max(target, 1)
    return min(target, max(kept - 1, 0))


def held_out_clusters(members: Mapping[str, int], eval_fraction: float, seed: int) -> set[str]:
    """The clusters that go to eval; `members[c]` is how many kept records cluster `c` holds."""
    target = eval_target(sum(members.values()), eval_fraction)
    order = sorted(members, key=lambda c: hashlib.sha256(f"{seed}\0{c}".encode()).hexdigest())
    held_out: set[str] = set()
    count = 0
    for cluster in order:
        if count >= target:
            break
        if count + members[cluster] <= target:
            held_out.add(cluster)
            count += members[cluster]
    return held_out


def assign_splits(
    record_ids: Sequence[str], clusters: Sequence[str], eval_fraction: float, seed: int
) -> list[str]:
    """The split of each record; `clusters[i]` names the similarity cluster of `record_ids[i]`."""
    if len(record_ids) != len(clusters):
        raise ValueError(f"{len(record_ids)} record ids but {len(clusters)} clusters")
    held_out = held_out_clusters(Counter(clusters), eval_fraction, seed)
    return [str(Split.EVAL) if c in held_out else str(Split.TRAIN) for c in clusters]
