"""ScanCode's licence database (the `licensedcode-data` package): licence URLs, names and notices.

ScanCode's licensedb is a maintained catalogue of 2,300+ licences, each with its SPDX id, the URLs where
its text lives and its names, plus ~35,000 detection rules: the ways licences are written in the wild
("Released under the GNU GPL v2", "license: BSD-3-Clause"). We read three things from it:

- `urls`: a licence URL (any scheme, host prefix, trailing slash, `.html`/`.txt`) -> SPDX id;
- `names`: a licence name, short name or id, as words -> SPDX id;
- `rules`: the words of a short rule text -> SPDX id, or None for a rule ScanCode marks as a false
  positive (a string that looks like a licence and names none), and the longer notices, which
  `find_notices` looks for inside free text.

A URL or name that two licences share (a family homepage) is left out: it names no single licence.
Reading the 37,000 files of the database takes seconds, so the tables are built once per installed
version and kept as JSON in the user's cache (`$T2I_CACHE_DIR`, else ~/.cache/t2i-pipeline); a process
reads them only when the fast parsers in `governance.licenses` do not recognise a string.
"""

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "licensedcode-data"
# A rule this short, matched inside a longer text, is too generic to name a licence ("GPL", "MIT").
_MIN_NOTICE_WORDS = 6
_MAX_RULE_CHARS = 2000
_OPENING_WORDS = 80
# Where a URL is listed says how surely it names the licence: its text first, a family homepage last.
_URL_FIELDS = ("text_urls", "other_urls", "osi_url", "homepage_url")
_SCHEMA = 5

# ScanCode's id for a plain "public domain" statement; this project records those as PDM-1.0.
_SCANCODE_PUBLIC_DOMAIN = "LicenseRef-scancode-public-domain"


def words(text: str) -> str:
    """Lower-case words and version numbers of `text`, single-spaced: the form every index uses."""
    text = text.lower().replace("{{", " ").replace("}}", " ")
    return " ".join(re.findall(r"[a-z0-9]+(?:[.+][a-z0-9]+)*\+?", text))


_NAME_NOISE = {"the", "license", "licence", "version", "v", "ver"}


def name_key(text: str) -> str:
    """A licence name without the words its spellings differ in: "The X License, Version 2" -> "x 2.0"."""
    tokens = [t for t in words(text).split() if t not in _NAME_NOISE]
    return " ".join(f"{t}.0" if t.isdigit() else t for t in tokens)


def url_key(url: str) -> str:
    """A licence URL without scheme, `www.`, fragment, language suffix, file extension or end slash."""
    key = url.strip().lower().strip("<>()\"'")
    key = re.sub(r"^[a-z]+://", "", key)
    key = re.sub(r"^www\.", "", key).split("#")[0].split("?")[0].rstrip("/.")
    key = re.sub(r"(?:\.[a-z]{2}(?:[-_][a-z]{2})?)?\.(?:html?|php|txt|md|json|rdf)$", "", key)
    return key.rstrip("/")


@dataclass(frozen=True)
class LicenseDB:
    """Look-up tables built from ScanCode's licensedb."""

    urls: dict[str, str]
    names: dict[str, str]
    rules: dict[str, str | None]
    notices: dict[str, list[tuple[str, str]]]  # first three words -> [(rule words, SPDX id)]
    categories: dict[str, str]  # SPDX id -> ScanCode category ("Permissive", "Copyleft", ...)
    texts: list[tuple[str, str]]  # (words of a rule or of a licence text's opening, SPDX id)


def data_dir() -> Path:
    """The `licensedcode/data` folder of the installed licensedcode-data distribution."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise RuntimeError(
            f"the licence database is missing: install it with `pip install {DISTRIBUTION}==32.1.0`"
        ) from err
    return Path(str(dist.locate_file("licensedcode/data")))


def _front_matter(text: str) -> tuple[dict[str, list[str]], str]:
    """The `key: value` and `key:\\n  - item` fields of a ScanCode file's front matter, and its body."""
    _, head, body = text.split("---", 2) if text.startswith("---") else ("", "", text)
    fields: dict[str, list[str]] = defaultdict(list)
    key = ""
    for line in head.splitlines():
        item = re.match(r"^\s+-\s+(.+)$", line)
        if item and key:
            fields[key].append(item.group(1).strip())
            continue
        pair = re.match(r"^([a-z_]+):\s*(.*)$", line)
        if pair:
            key = pair.group(1)
            if pair.group(2) and pair.group(2) not in {"|", ">"}:
                fields[key].append(pair.group(2).strip())
    return fields, body


def _unique(pairs: list[tuple[str, str, int]]) -> dict[str, str]:
    """Keys that name exactly one SPDX id at their surest rank; a key two licences share is dropped."""
    seen: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for key, spdx, rank in pairs:
        if key:
            seen[key][rank].add(spdx)
    out = {}
    for key, ranks in seen.items():
        ids = ranks[min(ranks)]
        # ScanCode keeps variants with ids of its own beside the SPDX licence they vary: the SPDX one.
        spdx = {i for i in ids if not i.startswith("LicenseRef-scancode-")}
        if len(ids) == 1 or len(spdx) == 1:
            out[key] = next(iter(spdx or ids))
    return out


def _spdx_of(fields: dict[str, list[str]]) -> str | None:
    spdx = (fields.get("spdx_license_key") or [None])[0]
    return "PDM-1.0" if spdx == _SCANCODE_PUBLIC_DOMAIN else spdx


def _read_licenses(root: Path) -> tuple[dict[str, str], list, list, dict[str, str], list, set[str]]:
    keys: dict[str, str] = {}
    exceptions: set[str] = set()
    bodies: list[tuple[str, str]] = []
    urls: list[tuple[str, str, int]] = []
    names: list[tuple[str, str, int]] = []
    categories: dict[str, str] = {}
    for path in sorted((root / "licenses").glob("*.LICENSE")):
        fields, body = _front_matter(path.read_text(encoding="utf-8"))
        spdx = _spdx_of(fields)
        if spdx is None or fields.get("is_deprecated"):
            continue
        keys[path.stem] = spdx
        if fields.get("is_exception"):
            exceptions.add(path.stem)
            continue  # an exception is never the whole licence of a record
        categories.setdefault(spdx, (fields.get("category") or ["Unstated License"])[0])
        urls += [(url_key(u), spdx, rank) for rank, k in enumerate(_URL_FIELDS) for u in fields.get(k, [])]
        aliases = [path.stem, spdx, *fields.get("other_spdx_license_keys", [])]
        aliases += fields.get("name", []) + fields.get("short_name", [])
        # One-word aliases ("HP", "BSLA") are too short to name a licence in free metadata.
        names += [
            (form(a), spdx, 0) for a in aliases for form in (words, name_key) if len(words(a).split()) > 1
        ]
        if not spdx.startswith("LicenseRef-") and spdx != "PDM-1.0":
            bodies.append((words(body), spdx))
    # A field that quotes a licence's title or first paragraph names it; a clause from its middle
    # ("Dedicator recognizes that ...") is a fragment and names nothing by itself.
    return keys, urls, names, categories, bodies, exceptions


def _read_rules(
    root: Path, keys: dict[str, str], exceptions: set[str]
) -> tuple[list, dict[str, list[tuple[str, str]]]]:
    rules: list[tuple[str, str, int]] = []
    notices: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path in sorted((root / "rules").glob("*.RULE")):
        raw = path.read_text(encoding="utf-8")
        if len(raw) > _MAX_RULE_CHARS:
            continue
        fields, body = _front_matter(raw)
        text = words(body)
        if fields.get("is_false_positive"):
            rules.append((text, "-", 0))
            continue
        expression = (fields.get("license_expression") or [""])[0]
        spdx = keys.get(expression)  # a compound expression ("mit or apache-2.0") is no key
        if (
            spdx is None
            or expression in exceptions
            or fields.get("is_license_intro")
            or fields.get("is_license_clue")
        ):
            continue
        if int((fields.get("relevance") or ["100"])[0]) < 100 or expression == "public-domain":
            # Below 100 ScanCode says it guessed (a tag without a version read as the latest); a
            # "public domain" phrase is often about part of a work: both are left to the caller.
            continue
        rules.append((text, spdx, 0))
        tokens = text.split()
        if len(tokens) >= _MIN_NOTICE_WORDS and (
            fields.get("is_license_notice") or fields.get("is_license_text")
        ):
            notices[" ".join(tokens[:3])].append((text, spdx))
    return rules, notices


def build(root: Path) -> LicenseDB:
    """The look-up tables, read from the files of a licensedcode-data folder."""
    keys, urls, names, categories, bodies, exceptions = _read_licenses(root)
    rules, notices = _read_rules(root, keys, exceptions)
    for text, spdx in bodies:
        if len(text) <= _MAX_RULE_CHARS:  # a short licence text is a notice too (SunPro, ISC)
            notices[" ".join(text.split()[:3])].append((text, spdx))
    rule_index = {text: None if spdx == "-" else spdx for text, spdx in _unique(rules).items()}
    openings = {(" ".join(text.split()[:_OPENING_WORDS]), spdx) for text, spdx in bodies}
    texts = sorted(
        {(t, s) for t, s, _ in rules if s != "-" and len(t.split()) >= _MIN_NOTICE_WORDS} | openings
    )
    return LicenseDB(
        _unique(urls), _unique(names), rule_index, dict(notices), categories, [list(t) for t in texts]
    )


def _cache_file() -> Path:
    base = Path(os.environ.get("T2I_CACHE_DIR", Path.home() / ".cache" / "t2i-pipeline"))
    return base / f"licensedb-{metadata.version(DISTRIBUTION)}-tables-v{_SCHEMA}.json"


@lru_cache(maxsize=1)
def load() -> LicenseDB:
    """The look-up tables: from the JSON cache of this installed version, else built and cached."""
    root = data_dir()
    cache = _cache_file()
    try:
        return LicenseDB(**json.loads(cache.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    db = build(root)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(db.__dict__), encoding="utf-8")
        partial.replace(cache)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass  # a read-only home: the tables are simply rebuilt by the next process
    return db


def found_in(text_words: str, db: LicenseDB) -> set[str]:
    """The SPDX ids of the rules and licence openings that contain `text_words` word for word.

    A sentence that occurs in the texts of one licence only names that licence; Creative Commons
    boilerplate, which every CC licence shares, names several and so none.
    """
    needle = f" {text_words} "
    return {spdx for text, spdx in db.texts if needle in f" {text} "}


def find_notices(text_words: str, db: LicenseDB) -> set[str]:
    """The SPDX ids of the licence notices (rule texts of six words or more) found inside `text_words`."""
    tokens = text_words.split()
    found: set[str] = set()
    covered_until = 0
    for start in range(len(tokens) - 2):
        candidates = db.notices.get(" ".join(tokens[start : start + 3]))
        if not candidates or start < covered_until:
            continue
        rest = " ".join(tokens[start:])
        # The longest notice that starts here: a GPL notice holds shorter ones ("the gnu general ...").
        best = max(
            (c for c in candidates if (rest + " ").startswith(c[0] + " ")),
            key=lambda c: len(c[0]),
            default=None,
        )
        if best is not None:
            found.add(best[1])
            covered_until = start + len(best[0].split())
    return found
