"""Distribution of a sensitive attribute over generated images, against targets."""

import re
from collections import Counter

import numpy as np
from sklearn.metrics import confusion_matrix


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


def strip_value(caption: str, value: str) -> str:
    """The caption with the attribute's value removed and its name kept.

    'thumbs up: medium skin tone' -> 'thumbs up: skin tone': a prompt that asks for the attribute to
    be shown without naming a group.
    """
    words = [re.escape(w) for w in re.split(r"[-_ ]+", value) if w]
    stripped = re.sub(r"\b" + r"[-_ ]+".join(words) + r"\b", "", caption, flags=re.IGNORECASE)
    return re.sub(r"\(\s+", "(", re.sub(r"\s+", " ", stripped)).strip(" ,:;-")


def neutral_prompt(caption: str, value: str, plain_captions: set[str]) -> str:
    """The neutral prompt of one record carrying the attribute (its caption, no group named).

    The caption stripped of the attribute phrase, unless that base is the caption of a record without
    the attribute (`plain_captions`, lower-cased): then it asks for that record (an emoji's yellow
    default for 'thumbs up'), which shows no skin tone at all, and the value alone is stripped
    ('thumbs up: skin tone'), so the prompt asks for the attribute and still names no group.
    """
    base = strip_attribute(caption, value)
    if base.lower() in plain_captions:
        kept = strip_value(caption, value)
        if kept and kept.lower() != base.lower():
            return kept
    return base


def neutral_prompts_showing_attribute(texts: list[str], values: list[str | None]) -> list[str]:
    """`neutral_prompt` of every record carrying the attribute, deduplicated and sorted."""
    plain = {t.strip().lower() for t, v in zip(texts, values, strict=True) if not v}
    prompts = {neutral_prompt(t, v, plain) for t, v in zip(texts, values, strict=True) if v}
    return sorted(p for p in prompts if p)


def confusion(truth: list[str], measured: list[str], groups: list[str]) -> np.ndarray:
    """Row-stochastic confusion P(measured h | true g) over images whose measurement names a group.

    Uses sklearn.metrics.confusion_matrix. A group with no such image keeps an identity row (nothing
    is known about its confusion, so none is assumed).
    """
    pairs = [(t, m) for t, m in zip(truth, measured, strict=True) if t in groups and m in groups]
    if not pairs or len(groups) < 2:  # one group cannot be confused with another
        return np.eye(len(groups))
    counts = confusion_matrix([t for t, _ in pairs], [m for _, m in pairs], labels=groups).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    return np.where(rows > 0, counts / np.maximum(rows, 1), np.eye(len(groups)))


def unmix(counts: np.ndarray, conf: np.ndarray, iterations: int = 1000, tol: float = 1e-10) -> np.ndarray:
    """Group mix p on the simplex most likely to give the measured `counts` through `conf` (EM).

    Each measured image is a draw from the mixture sum_g p_g conf[g]; EM for the mixture weights with
    known components is the maximum-likelihood inversion of the confusion, and unlike a plain inverse
    it cannot leave the simplex. Zero counts give the uniform mix.
    """
    counts = np.asarray(counts, dtype=float)
    k = len(counts)
    p = np.full(k, 1.0 / k)
    if counts.sum() == 0:
        return p
    for _ in range(iterations):
        seen = np.maximum(p @ conf, 1e-300)
        new = p * (conf @ (counts / seen)) / counts.sum()
        new /= new.sum()
        if np.abs(new - p).max() < tol:
            return new
        p = new
    return p


def _tv_sd_per_image(conf: np.ndarray, p: np.ndarray, signs: np.ndarray | None) -> float:
    """Delta-method standard deviation, for one image, of the corrected total variation at mix p."""
    q = p @ conf
    inverse = np.linalg.pinv(conf)
    cov = inverse.T @ (np.diag(q) - np.outer(q, q)) @ inverse
    if signs is None:  # at uniform the signs are undetermined: bound by the sum of the shares' sds
        return float(0.5 * np.sqrt(np.clip(np.diag(cov), 0, None)).sum())
    s = 0.5 * signs
    return float(np.sqrt(max(0.0, s @ cov @ s)))


def images_needed(conf: np.ndarray, threshold: float, margin: float, z: float = 1.96) -> int:
    """Images with skin for a 95% interval of the corrected disparity no wider than `margin` each side.

    Evaluated where it matters for the gate: at a uniform mix (a fair model must get an upper end
    under threshold + margin to pass) and at every mix that leans towards one group with a disparity
    of threshold + margin (such a model must get a lower end above the threshold to fail). The
    measurement's confusion widens both through its inverse; the largest of these counts is returned.
    """
    k = len(conf)
    if k < 2:  # one group: the disparity is 0 by definition, nothing to sample for
        return 0
    u = uniform(k)
    sds = [_tv_sd_per_image(conf, u, None)]
    lean = min(1.0, (threshold + margin) / ((k - 1) / k))
    for g in range(k):
        p = u + lean * (np.eye(k)[g] - u)
        sds.append(_tv_sd_per_image(conf, p, np.sign(p - u)))
    return int(np.ceil((z * max(sds) / margin) ** 2))
