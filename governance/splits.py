"""Train / eval split of the kept records, chosen after dedup, whole similarity clusters at a time.

Records whose grey-scale hashes are near each other (the five skin tones of one emoji, a recoloured
icon) form one cluster; a cluster goes entirely to train or entirely to eval, so no near-duplicate
straddles the split. Clusters are ordered by a seeded hash, so the split is deterministic per seed
and independent of input order.
"""

import hashlib
from collections.abc import Sequence

from governance.manifest import Split


def eval_target(kept: int, eval_fraction: float) -> int:
    """How many records the eval split aims for (at least one when a fraction is asked and possible)."""
    target = round(eval_fraction * kept)
    if eval_fraction > 0 and kept >= 2:
        target = max(target, 1)
    return min(target, max(kept - 1, 0))


def assign_splits(
    record_ids: Sequence[str], clusters: Sequence[str], eval_fraction: float, seed: int
) -> list[str]:
    """The split of each record; `clusters[i]` names the similarity cluster of `record_ids[i]`."""
    members: dict[str, int] = {}
    for cluster in clusters:
        members[cluster] = members.get(cluster, 0) + 1
    target = eval_target(len(record_ids), eval_fraction)
    order = sorted(members, key=lambda c: hashlib.sha256(f"{seed}\0{c}".encode()).hexdigest())
    held_out: set[str] = set()
    count = 0
    for cluster in order:
        if count >= target:
            break
        if count + members[cluster] <= target:
            held_out.add(cluster)
            count += members[cluster]
    return [str(Split.EVAL) if c in held_out else str(Split.TRAIN) for c in clusters]
