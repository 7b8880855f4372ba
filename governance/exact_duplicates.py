"""Exact duplicates: identical file bytes (content sha256)."""

from collections.abc import Sequence


def exact_groups(hashes: Sequence[str | None]) -> list[list[int]]:
    """Positions sharing a content hash, one list per hash with two or more members (input order)."""
    groups: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        if h:
            groups.setdefault(h, []).append(i)
    return [members for members in groups.values() if len(members) > 1]
