"""How inert dataset text is in the published Markdown, and what escaping costs on real captions.

1. Inertness: each hostile string from the tests, raw and escaped (`md_text`, and `md_code` for the
   code-span form), rendered by cmark-gfm, markdown-it and markdown-it+linkify with raw HTML allowed;
   a rendering is inert when it is one paragraph showing exactly the string's characters.
2. Real text: the 3,764 captions of the built-in emoji data and the file-name captions of the real
   third-party corpus (Debian openclipart, tango, adwaita; cached by benchmarks/real_corpus.py): how
   many change under escaping (what a reader of the raw file sees), and the time per caption.
3. The attribution list of all emoji records, written with the escaping, timed.

Writes benchmarks/results/hostile_text.json.  Run: .venv/bin/python -m benchmarks.hostile_text
"""

import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from governance.attribution import write_attribution
from governance.markdown_text import md_code, md_text
from governance.sources.emoji import load_emoji
from tests.model_cards.rendering import HOSTILE, Page, normalized, renderings

RESULTS = Path(__file__).parent / "results" / "hostile_text.json"


def _inert(markdown: str, text: str, allowed_tags: set[str]) -> dict[str, bool]:
    out = {}
    for renderer, html in renderings(markdown).items():
        page = Page(html)
        out[renderer] = set(page.tags) <= allowed_tags and normalized(page.text) == normalized(text)
    return out


def inertness() -> dict:
    forms = {
        "raw": (lambda t: t, {"p"}),
        "md_text": (md_text, {"p"}),
        "md_code": (md_code, {"p", "code"}),
    }
    result = {}
    for name, (escape, tags) in forms.items():
        checks = [_inert(escape(t), t, tags) for t in HOSTILE]
        result[name] = {
            "renderings": sum(len(c) for c in checks),
            "inert": sum(sum(c.values()) for c in checks),
            "not_inert_strings": [t for t, c in zip(HOSTILE, checks, strict=True) if not all(c.values())],
        }
    return result


def _real_captions() -> dict[str, list[str]]:
    records, _ = load_emoji(None)
    sets = {"emoji": [r.text for r in records]}
    try:
        from benchmarks.real_corpus import real_images

        images = real_images()
        sets["real_corpus_file_names"] = [" ".join(re.split(r"[\s_-]+", p.path.stem)).strip() for p in images]
    except Exception as exc:  # the corpus cache is optional: say why it is missing
        sets["real_corpus_file_names"] = []
        print(f"real corpus not available: {type(exc).__name__}: {exc}")
    return sets


def real_text() -> dict:
    out = {}
    for name, captions in _real_captions().items():
        if not captions:
            continue
        started = time.perf_counter()
        escaped = [md_text(c) for c in captions]
        seconds = time.perf_counter() - started
        changed = [(c, e) for c, e in zip(captions, escaped, strict=True) if c != e]
        out[name] = {
            "captions": len(captions),
            "changed_by_escaping": len(changed),
            "examples": [{"caption": c, "escaped": e} for c, e in changed[:5]],
            "microseconds_per_caption": round(1e6 * seconds / len(captions), 2),
        }
    return out


def _pipes_only(kept: pd.DataFrame, out: Path) -> None:
    """The attribution table as it was written before escaping (pipes and line breaks only): a baseline."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        f"| {r.record_id} | {cell(r.text)} | {cell(r.author)} | {cell(r.source_url)} | {r.license_spdx} |"
        for r in kept.itertuples(index=False)
    ]
    (out / "baseline.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def attribution_timing() -> dict:
    records, _ = load_emoji(None)
    kept = pd.DataFrame(
        {
            "record_id": [r.record_id for r in records],
            "author": [r.author for r in records],
            "text": [r.text for r in records],
            "source_url": [r.source_url for r in records],
            "license_spdx": ["CC-BY-4.0"] * len(records),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        escaped = _best_of(lambda: write_attribution(kept, out))
        baseline = _best_of(lambda: _pipes_only(kept, out))
        size = (out / "attribution.md").stat().st_size
    return {
        "records": len(kept),
        "seconds_best_of_5": round(escaped, 4),
        "pipes_only_baseline_seconds_best_of_5": round(baseline, 4),
        "note": "write_attribution also writes attribution.json; the baseline writes the table only",
        "attribution_md_bytes": size,
    }


def main() -> None:
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average_1min_at_start": round(os.getloadavg()[0], 2),  # timings are noisy when loaded
        },
        "hostile_strings": len(HOSTILE),
        "inertness": inertness(),
        "real_text": real_text(),
        "attribution_list": attribution_timing(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False)[:3000])


if __name__ == "__main__":
    main()
