"""Licence normalisation on 1,300+ licence strings harvested from real package metadata.

The corpus (tests/data/licences/corpus.jsonl) was harvested by benchmarks/harvest_licence_strings.py
from Debian copyright files and SVG RDF, npm package.json/LICENSE/README files and PyPI METADATA; the
expected id of each string was decided by reading it (tests/data/licences/README.md says how).
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from governance.config import GovernanceConfig
from governance.licenses import ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY, license_choices, normalize_license
from governance.provenance import choose_license
from governance.reasons import Decision, Reason

CORPUS = Path(__file__).resolve().parents[1] / "data" / "licences" / "corpus.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
# Ids this project uses that are not on the SPDX list.
PROJECT_IDS = {"PDM-1.0", ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY}


def outcome(raw: str) -> str:
    """The module's reading in the corpus's label format: an id, "A OR B" for a choice, or "unknown"."""
    spdx = normalize_license(raw).spdx
    if spdx is not None:
        return spdx
    options = license_choices(raw)
    return " OR ".join(options) if options else "unknown"


def test_the_corpus_is_large_real_and_fully_labelled():
    strings = [row["string"] for row in ROWS]
    assert len(strings) >= 500 and len(set(strings)) == len(strings)
    for row in ROWS:
        assert row["expected"], f"unlabelled corpus string: {row['string'][:80]!r}"
        assert row["found_in"] and all(re.match(r"^(debian|npm|pypi):", w) for w in row["found_in"]), row
    kinds = Counter(row["kind"].split("-")[0] for row in ROWS)
    assert {"debian", "npm", "pypi", "svg"} <= set(kinds)
    # Not a corpus of "unknown": a third or more of the strings name a licence.
    assert sum(row["expected"] != "unknown" for row in ROWS) >= len(ROWS) / 3


def test_every_label_is_a_real_spdx_id_or_a_project_id():
    from license_expression import get_spdx_licensing

    known = {str(s.key) for s in get_spdx_licensing().known_symbols.values()} | PROJECT_IDS
    for row in ROWS:
        if row["expected"] != "unknown":
            assert set(row["expected"].split(" OR ")) <= known, row["expected"]


def test_every_corpus_string_is_read_as_labelled():
    wrong = []
    for row in ROWS:
        got = outcome(row["string"])
        if got == row["expected"]:
            continue
        # A recorded miss may still be quarantined ("unknown"), never read as another licence.
        if row.get("known_miss") and got == "unknown":
            continue
        wrong.append(f"{row['expected']!r} expected, got {got!r}: {row['string'][:100]!r}")
    assert not wrong, f"{len(wrong)} of {len(ROWS)} corpus strings misread:\n" + "\n".join(wrong)


def test_known_misses_are_few_and_explained():
    misses = [row for row in ROWS if row.get("known_miss")]
    assert len(misses) <= 0.01 * len(ROWS)
    assert all(row["expected"] != "unknown" for row in misses)


@pytest.mark.parametrize(
    ("raw", "spdx", "decision", "reason"),
    [
        # The licence fields of the real clip art, icons and emoji as their packages ship them.
        ("creative commons Public Domain Dedication", "CC-PDDC", Decision.KEEP, None),
        ("http://web.resource.org/cc/PublicDomain", "PDM-1.0", Decision.KEEP, None),
        ("http://creativecommons.org/licenses/publicdomain/", "CC-PDDC", Decision.KEEP, None),
        ("public-domain", "PDM-1.0", Decision.KEEP, None),
        ("CC-BY-SA-3.0 or LGPL-3", "CC-BY-SA-3.0", Decision.KEEP, None),
        ("CC-BY-4.0", "CC-BY-4.0", Decision.KEEP, None),
        ("http://www.apache.org/licenses/LICENSE-2.0", "Apache-2.0", Decision.KEEP, None),
        # Proprietary and personal-use statements are dropped, not left for a human.
        (
            "Copyright (C) 2005 Marko Kreen All rights reserved.",
            ALL_RIGHTS_RESERVED,
            Decision.DROP,
            Reason.LICENSE_NOT_ALLOWED,
        ),
        (
            "Apple images, Copyright © Apple Inc., are not licensed for commercial usage.",
            NON_COMMERCIAL_ONLY,
            Decision.DROP,
            Reason.LICENSE_NOT_ALLOWED,
        ),
        (
            "License :: Free for non-commercial use",
            NON_COMMERCIAL_ONLY,
            Decision.DROP,
            Reason.LICENSE_NOT_ALLOWED,
        ),
        # A string that names no licence (a rights holder's name from dc:rights) stays with a human.
        ("Nicu Buculei", None, Decision.QUARANTINE, Reason.LICENSE_UNKNOWN),
        ("SEE LICENSE IN LICENSE.md", None, Decision.QUARANTINE, Reason.LICENSE_UNKNOWN),
    ],
)
def test_provenance_decisions_on_real_licence_fields(raw, spdx, decision, reason):
    got_spdx, got_decision, got_reason, evidence = choose_license(raw, GovernanceConfig())
    assert (got_spdx, got_decision, got_reason) == (spdx, decision, reason)
    assert evidence["policy"]


def test_the_corpus_decisions_by_policy_match_the_labels():
    """Under the default policy, every string's decision is the one its label implies."""
    cfg = GovernanceConfig()
    for row in ROWS:
        if row.get("known_miss"):
            continue
        _, decision, _, _ = choose_license(row["string"], cfg)
        if row["expected"] == "unknown":
            assert decision == Decision.QUARANTINE, row["string"][:80]
        elif row["expected"] in {ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY}:
            assert decision == Decision.DROP, row["string"][:80]


IMAGES = Path(__file__).resolve().parents[1] / "data" / "licences" / "images"
# (image, licence field exactly as real metadata has it, decision, reason)
REAL_FIELDS = [
    ("openclipart_southen_cross_01.png", "creative commons Public Domain Dedication", "keep", None),
    ("openclipart_southen_cross_01.png", "http://web.resource.org/cc/PublicDomain", "keep", None),
    ("tango_gnome-fs-desktop.png", "public-domain", "keep", None),
    ("adwaita_user-trash.png", "CC-BY-SA-3.0 or LGPL-3", "keep", None),
    ("twemoji_1f0cf.png", "CC-BY-4.0", "keep", None),
    ("twemoji_1f0cf.png", "https://www.apache.org/licenses/LICENSE-2.0", "keep", None),
    ("tango_gnome-fs-desktop.png", "Copyright (c) 2014, Eugene Ware All rights reserved.", "drop", "license_not_allowed"),
    ("twemoji_1f0cf.png", "Apple images, Copyright © Apple Inc., are not licensed for commercial usage.", "drop", "license_not_allowed"),
    ("adwaita_user-trash.png", "Nicu Buculei", "quarantine", "license_unknown"),
]  # fmt: skip


def test_the_provenance_pass_decides_real_licence_fields_on_real_images(tmp_path):
    """Ingest + provenance on an imagefolder of real clip art, icons and emoji (tests/data/licences/images)."""
    from governance import stages
    from governance.config import DataConfig
    from governance.decisions import load_findings
    from governance.tables import read_ingest

    data = tmp_path / "data"
    data.mkdir()
    with (data / "metadata.jsonl").open("w", encoding="utf-8") as meta:
        for i, (image, licence, _, _) in enumerate(REAL_FIELDS):
            name = f"{i}_{image}"
            (data / name).write_bytes((IMAGES / image).read_bytes())
            row = {
                "file_name": name,
                "text": image,
                "license": licence,
                "author": "a",
                "source_url": "https://x.org/",
            }
            meta.write(json.dumps(row, ensure_ascii=False) + "\n")
    cfg = GovernanceConfig(data=DataConfig(source="imagefolder", path=data), num_proc=1)
    work = tmp_path / "work"
    stages.ingest(cfg, work, lambda *_: None)
    stages.provenance(cfg, work, lambda *_: None)
    names = dict(read_ingest(work, ["record_id", "file_name"]).itertuples(index=False))
    findings = load_findings(work, ["provenance"])
    licence = findings[findings["check"] == "license"]
    got = {
        int(names[r].split("_")[0]): (str(d), r2 if isinstance(r2, str) else None)
        for r, d, r2 in zip(licence["record_id"], licence["decision"], licence["reason"], strict=True)
    }
    assert len(got) == len(REAL_FIELDS)
    for i, (_, raw, decision, reason) in enumerate(REAL_FIELDS):
        assert got[i] == (decision, reason), raw


def test_the_held_out_strings_are_labelled_and_sourced():
    """heldout.jsonl (packages not looked at while the normaliser was written) is measured, not asserted."""
    rows = [
        json.loads(line)
        for line in CORPUS.with_name("heldout.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len([r for r in rows if not r.get("in_corpus")]) >= 80
    assert all(r["expected"] and r["found_in"][0].startswith("debian:") for r in rows)
