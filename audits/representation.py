"""Distribution of a sensitive attribute over generated images, against targets."""

import re
from collections import Counter

import numpy as np


def distribution(labels: list[str], groups: list[str]) -> np.ndarray:
    """Share of each group among `labels` (labels outside `groups` are ignored); zeros when none."""
    counts = Counter(label for label in labels if label in groups)
    total = sum(counts.values())
    if total == 0:
        return np.zeros(len(groups))
    return np.array([counts[g] / total for g in groups])


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance: half the L1 distance between two distributions (0 equal, 1 disjoint)."""
    return float(0.5 * np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum())


def uniform(n: int) -> np.ndarray:
    """The uniform distribution over n groups."""
    return np.full(n, 1.0 / n)


def strip_attribute(caption: str, value: str) -> str:
    """The caption with an attribute phrase removed, e.g. 'thumbs up: medium skin tone' -> 'thumbs up'.

    Hyphens and spaces in the value match each other; a following 'skin tone' and the separator
    before the phrase go with it.
    """
    words = [re.escape(w) for w in re.split(r"[-_ ]+", value) if w]
    phrase = r"[-_ ]+".join(words) + r"(?:[-_ ]+skin[-_ ]+tones?)?"
    stripped = re.sub(r"[\s,:;(-]*\b" + phrase + r"\b\)?", "", caption, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", stripped).strip(" ,:;-")


def neutral_prompts_from_data(texts: list[str], values: list[str | None]) -> list[str]:
    """Base captions of records carrying the attribute, with the attribute phrase stripped, sorted."""
    bases = {strip_attribute(t, v) for t, v in zip(texts, values, strict=True) if v}
    return sorted(b for b in bases if b)
