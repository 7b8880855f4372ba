"""Licence strings as real metadata holds them -> SPDX ids, their traits and their URLs.

`normalize_license` never guesses silently: an assumption (a Creative Commons string without a
version is read as 4.0; a GPL string without a version as "any version", as the GPL itself says) is
recorded in the returned evidence. Strings that name no licence we know give `None` (-> quarantine).

What reads what:
- the short forms that need no database (SPDX ids, DEP-5 short names, Creative Commons names and URLs
  of every generation, GNU and Apache names) are parsed here, because they are most of the traffic;
- names, URLs and notices beyond those come from ScanCode's licence database (`governance.license_db`);
- SPDX ids are checked against the index bundled with `license-expression`;
- statements that are not licences ("All rights reserved", "free for personal use") map to the two
  `LicenseRef-` ids below, which the default policy drops.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

from governance import license_db

ALL_RIGHTS_RESERVED = "LicenseRef-All-Rights-Reserved"
# A grant for personal, home, educational or evaluation use only ("free for personal use",
# "not licensed for commercial usage"): no right to commercial use, nor to adapt.
NON_COMMERCIAL_ONLY = "LicenseRef-Non-Commercial-Use-Only"

TRAITS = ("attribution", "share-alike", "non-commercial", "no-derivatives", "copyleft")

# Plain words for the Creative Commons elements, so that "Attribution-NonCommercial-ShareAlike" and
# "by-nc-sa" normalise to the same id.
_CC_WORDS = {
    "attribution": "by",
    "noncommercial": "nc",
    "non-commercial": "nc",
    "non commercial": "nc",
    "sharealike": "sa",
    "share-alike": "sa",
    "share alike": "sa",
    "noderivatives": "nd",
    "noderivs": "nd",
    "no-derivatives": "nd",
    "no derivatives": "nd",
}
_CC_VALID = {"by", "by-sa", "by-nc", "by-nc-sa", "by-nd", "by-nc-nd"}
_CC_VERSIONS = {"1.0", "2.0", "2.5", "3.0", "4.0"}
# Words after a CC version that do not make it a jurisdiction port ("3.0 Unported", "4.0 International").
_CC_NOT_A_PORT = {
    "international", "unported", "generic", "license", "licence", "public", "deed", "legal", "code",
    "legalcode", "cc", "by", "sa", "nc", "nd", "creative", "commons",
}  # fmt: skip
_CC_PORTS = {
    "united states": "us",
    "usa": "us",
    "u.s.": "us",
    "germany": "de",
    "austria": "at",
    "netherlands": "nl",
}

_PERMISSIVE = {
    "mit": "MIT",
    "mit license": "MIT",
    "mit licence": "MIT",
    "the mit license": "MIT",
    "the mit license (mit)": "MIT",
    "(the mit license)": "MIT",
    "expat": "MIT",
    "isc": "ISC",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "zlib": "Zlib",
    "unlicense": "Unlicense",
    "the unlicense": "Unlicense",
    "wtfpl": "WTFPL",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "bsd-2": "BSD-2-Clause",
    "bsd2": "BSD-2-Clause",
    "bsd 2 clause": "BSD-2-Clause",
    "2-clause bsd license": "BSD-2-Clause",
    "bsd 2-clause license": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "bsd3": "BSD-3-Clause",
    "bsd 3 clause": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "bsd-4": "BSD-4-Clause",
    "ofl": "OFL-1.1",
    "ofl-1.1": "OFL-1.1",
    "ofl 1.1": "OFL-1.1",
    "sil-1.1": "OFL-1.1",
    "sil ofl": "OFL-1.1",
    "sil ofl 1.1": "OFL-1.1",
    "sil open font license": "OFL-1.1",
    "sil open font license 1.1": "OFL-1.1",
    "open font license": "OFL-1.1",
    "cc0": "CC0-1.0",
    "cc0 1.0": "CC0-1.0",
    "cc0-1.0": "CC0-1.0",
    "cc-0": "CC0-1.0",
    "cc zero": "CC0-1.0",
    "public domain": "PDM-1.0",
    "public domain mark": "PDM-1.0",
    "public domain mark 1.0": "PDM-1.0",
    "pdm": "PDM-1.0",
    "pdm-1.0": "PDM-1.0",
    "pd": "PDM-1.0",
    "edl-1": "BSD-3-Clause",
    "edl-1.0": "BSD-3-Clause",
    "bsd-0-clause": "0BSD",
    "boost": "BSL-1.0",
    "x consortium license": "X11",
    "mit/x consortium license": "X11",
    # SPDX's PSF-2.0 is "Python Software Foundation License"; ScanCode files the name under Python-2.0.
    "python software foundation license": "PSF-2.0",
}
# DEP-5 short names (Debian copyright format 1.0) that no SPDX id spells the same way; exact only:
# PyPI's "Artistic License" names the family, Debian's "Artistic" the Perl one.
_DEP5_NAMES = {"artistic": "Artistic-1.0-Perl"}
# Names that several licences answer to: a human picks.
_AMBIGUOUS = {
    "bsd", "bsd license", "bsd licence", "gpl-compatible", "free", "open source", "other", "unknown",
    "dual license", "mit/x11", "mit/x", "mit-like", "bsd-like", "custom", "permissive", "see license",
    "other/proprietary license", "osi approved", "dfsg approved", "freely distributable", "freeware",
    "fsf-unlimited", "fsf unlimited",  # FSFUL or FSFULLR: the name fits both
}  # fmt: skip

_RESERVED = re.compile(
    r"^(all rights reserved\.?|proprietary|commercial|no licen[cs]e|none|not licensed"
    r"|licenseref-all-rights-reserved)$"
)
_NON_COMMERCIAL = re.compile(
    r"free for (?:personal|home|educational|non-?commercial) use(?! and commercial)"
    r"|personal use only|for non-?commercial use only|not (?:licensed|permitted|allowed) for commercial"
    r"|(?:licen[cs]e|licensed) for non-?commercial (?:use|purposes)|free,? non-?commercial licen[cs]e"
    r"|non-?commercial[ -]licen[cs]e|licenseref-non-commercial-use-only"
    r"|commercial (?:use|usage|activities)[^.]{0,60}(?:\brequires\b|\bneed to\b|\bmust\b)[^.]{0,30}"
    r"(?:purchase|paid|buy)"
)
# Words that say a text grants or disclaims something: a copyright notice with them is a licence text,
# not a bare "all rights reserved".
_GRANT = re.compile(
    r"licen[cs]|permission|granted|\bgrants?\b|redistribut|free software|public domain|warrant|liab|damage"
    r"|this notice|\bmay (?:use|copy|modify)"
)
_APACHE = re.compile(
    r"^(?:the )?(?:apache|asl)(?: software)?(?: license| licence)?[ ,-]*(?:v(?:ersion)?)?[ -]?(\d(?:\.\d)?)?$"
)
_GPL = re.compile(
    r"^(?:gnu )?(a|l|affero |lesser |library |library or lesser )?(?:general public licen[cs]e|gpl)[ -]*"
    r"(?:v(?:ersion)?\.?)?[ -]?(\d(?:\.\d)?)?[ -]*(\+|or[ -](?:any[ -])?later(?: version)?|only)?$"
)
_GPL_NOTICE = re.compile(
    r"gnu (lesser |library |affero )?general public licen[cs]e[^.]{0,120}?(?:either )?version (\d(?:\.\d)?)"
    r"(?: of the licen[cs]e)?,? or \(?at your option\)? any later version"
)
_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses/([a-z+-]+)/(\d\.\d)(?:/(?!deed|legalcode)([a-z]{2,}))?"
    r"|publicdomain/(zero|mark)/(\d\.\d)|licenses/(publicdomain))"
)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]]+|\b[\w.-]+\.(?:org|com|net)/[^\s<>\"'()\[\]]*")
_UNDER = re.compile(
    r"(?:(?:licen[cs]ed|released|distributed|available|provided|covered|modify it)(?: for use| free of charge)?"
    r" under|subject to the terms(?: and conditions)? of|bound by the terms and conditions of|the complete text of)"
    r"(?: the terms of)?(?: either)? (?:the |a |an |this )?(.{3,120})"
)
_UNDER_END = re.compile(
    r"\.(?!\d)|[;:!?\n]|\s[(\[<]|,\s(?!v(?:ersion)?\.?\s?\d)|\s\d+\)|\s(?:as published|see|for more|which|that|can be found|is)\b"
)
_LICENCE_HOSTS = {"wtfpl.net": "WTFPL", "unlicense.org": "Unlicense"}


@dataclass(frozen=True)
class LicenseInfo:
    """The outcome of normalising one raw licence string."""

    spdx: str | None
    evidence: dict[str, str] = field(default_factory=dict)


def _unknown(problem: str) -> LicenseInfo:
    return LicenseInfo(None, {"problem": problem})


def _cc_id(elements: str, version: str | None, port: str | None = None) -> LicenseInfo | None:
    elements = elements.strip("-")
    if elements not in _CC_VALID:
        return None
    if version is None:
        return LicenseInfo(f"CC-{elements.upper()}-4.0", {"assumed": "no version given; read as 4.0"})
    if version not in _CC_VERSIONS:
        return None
    if port:
        ported = _spdx_symbols().get(f"cc-{elements}-{version}-{port}")
        if ported is None:
            return _unknown(f"a Creative Commons licence ported to '{port}', which has no SPDX id")
        return LicenseInfo(ported)
    return LicenseInfo(f"CC-{elements.upper()}-{version}")


def _cc_url(text: str) -> LicenseInfo | None:
    url = _CC_URL.search(text)
    if url is None:
        if "web.resource.org/cc/publicdomain" in text:
            # The 2004 Creative Commons RDF vocabulary's term for a work in the public domain.
            return LicenseInfo(
                "PDM-1.0", {"read_as": "cc:PublicDomain (web.resource.org): a public-domain mark"}
            )
        return None
    if url.group(6):
        return LicenseInfo("CC-PDDC")
    if url.group(1):
        return _cc_id(url.group(1), url.group(2), url.group(3))
    return LicenseInfo("CC0-1.0" if url.group(4) == "zero" else "PDM-1.0")


def _creative_commons(text: str) -> LicenseInfo | None:
    info = _cc_url(text)
    if info is not None:
        return info
    if re.search(r"\bcc[ -]?0\b|\bcc[ -]zero\b(?![ -]waive)|creative ?commons zero", text):
        return LicenseInfo("CC0-1.0")
    named = re.search(r"\bcc\b|creative ?commons", text)
    if not named and not (text.startswith("attribution") and len(text.split()) <= 8):
        return None
    if named and re.search(r"public domain (?:dedication|certification)|\bcc-?pd(?:dc)?\b", text):
        return LicenseInfo("CC-PDDC")
    words = text.replace("creative commons", " ").replace("creativecommons", " ")
    for word, code in _CC_WORDS.items():
        words = words.replace(word, f" {code} ")
    tokens = re.findall(r"\b(by|nc|sa|nd)\b", words)
    if not tokens:
        return None
    residue = set(re.findall(r"[a-z]+", re.sub(r"\b(?:by|nc|sa|nd)\b", " ", words))) - _CC_NOT_A_PORT
    if not named and residue:
        return None  # "Attribution Assurance License" is no Creative Commons licence
    order = [t for t in ("by", "nc", "nd", "sa") if t in tokens]
    # SPDX orders NC before SA/ND ("by-nc-sa"), matching the CC URL slugs.
    elements = "-".join(order)
    version = re.search(r"(?<![\d.])([1-4])(?:\.(\d))?(?![\d])", words)
    ver = None if version is None else f"{version.group(1)}.{version.group(2) or '0'}"
    return _cc_id(elements, ver, _cc_port(words[version.end() :] if version else ""))


def _cc_port(after_version: str) -> str | None:
    """The jurisdiction a CC licence name was ported to ("3.0 United States" -> "us"), if any."""
    for name, code in _CC_PORTS.items():
        if name in after_version:
            return code
    rest = [w for w in re.findall(r"[a-z]+", after_version) if w not in _CC_NOT_A_PORT]
    return rest[0] if rest else None


def _gpl(text: str) -> LicenseInfo | None:
    m = _GPL.match(text)
    if not m:
        return None
    prefix = (m.group(1) or "").strip()
    family = {"": "GPL", "a": "AGPL", "affero": "AGPL", "l": "LGPL", "lesser": "LGPL", "library": "LGPL"}.get(
        prefix, "LGPL"
    )
    version, suffix = m.group(2), m.group(3)
    if version is None:
        # The GPL family says: no version number given -> any version ever published may be chosen.
        first = {"GPL": "1.0", "LGPL": "2.0", "AGPL": "3.0"}[family]
        return LicenseInfo(f"{family}-{first}-or-later", {"assumed": "no version given; any version applies"})
    if "." not in version:
        version += ".0"
    valid = {"GPL": {"1.0", "2.0", "3.0"}, "LGPL": {"2.0", "2.1", "3.0"}, "AGPL": {"1.0", "3.0"}}[family]
    if version not in valid:
        return None
    later = suffix is not None and suffix != "only"
    return LicenseInfo(f"{family}-{version}-{'or-later' if later else 'only'}")


def _apache(text: str) -> LicenseInfo | None:
    apache = _APACHE.match(text)
    if not apache:
        return None
    version = apache.group(1) or "2.0"
    if "." not in version:
        version += ".0"
    if version not in {"1.0", "1.1", "2.0"}:
        return None
    evidence = {} if apache.group(1) else {"assumed": "no version given; read as 2.0"}
    return LicenseInfo(f"Apache-{version}", evidence)


def _dep5(text: str) -> LicenseInfo | None:
    """DEP-5 short names: `GPL-2+`, `LGPL-2.1`, `GFDL-NIV-1.3+`, `Apache-2`, `BSL-1`."""
    m = re.match(r"^([a-z][a-z0-9-]*?)-?(\d+(?:\.\d+)*)(\+)?(-no-invariants?)?$", text)
    if m is None:
        return None
    family, version, plus, no_invariants = m.groups()
    if family in {"gfdl-niv", "gfdl"}:
        niv = "-no-invariants" if family == "gfdl-niv" or no_invariants else ""
        version = version if "." in version else f"{version}.0"
        return _symbol(f"gfdl-{version}{niv}-{'or-later' if plus else 'only'}")
    if no_invariants:
        return None
    versions = [version] if "." in version else [version, f"{version}.0"]
    for v in versions:
        suffixes = ["-or-later", "+"] if plus else ["-only", ""]
        for suffix in suffixes:
            found = _symbol(f"{family}-{v}{suffix}")
            if found is not None:
                return found
    return None


@lru_cache(maxsize=1)
def _compact_symbols() -> dict[str, str]:
    """SPDX ids without their separators ("bitstreamvera" -> Bitstream-Vera), where that is unique."""
    seen: dict[str, set[str]] = {}
    for spdx in set(_spdx_symbols().values()):
        seen.setdefault(re.sub(r"[-_. ]", "", spdx.lower()), set()).add(spdx)
    return {key: next(iter(ids)) for key, ids in seen.items() if len(ids) == 1 and re.search(r"[a-z]", key)}


def _compact_symbol(text: str) -> LicenseInfo | None:
    if " " in text or len(text) < 6:
        return None
    spdx = _compact_symbols().get(re.sub(r"[-_.]", "", text))
    return (
        None if spdx is None else LicenseInfo(spdx, {"read_as": f"the SPDX id {spdx} without its separators"})
    )


def _symbol(key: str) -> LicenseInfo | None:
    canonical = _spdx_symbols().get(key.lower())
    return None if canonical is None else LicenseInfo(canonical)


def _licence_url(text: str) -> LicenseInfo | None:
    """A licence URL: Creative Commons, an SPDX or OSI page, or any URL in ScanCode's licensedb."""
    info = _cc_url(text)
    if info is not None:
        return info
    key = license_db.url_key(text)
    if re.search(r"(?:^|\.)mit-license\.org", key):
        return LicenseInfo("MIT")
    if key in _LICENCE_HOSTS:
        return LicenseInfo(_LICENCE_HOSTS[key])
    page = re.match(
        r"^(?:spdx\.org/licenses|opensource\.org/licenses?|choosealicense\.com/licenses)/([\w.+-]+)$", key
    )
    if page:
        found = _symbol(page.group(1)) or _symbol(page.group(1).removesuffix("-license"))
        if found is not None:
            return found
    if re.match(r"^gnu\.org/(?:copyleft|licenses)/(l?gpl)$", key):
        # The GNU page without a version: the licence's own rule, any version may be chosen.
        return _gpl(re.sub(r"^.*/", "", key))
    spdx = license_db.load().urls.get(key)
    return None if spdx is None else _from_db(spdx, "a licence URL in ScanCode's licensedb")


def _from_db(spdx: str, how: str, matched: str | None = None) -> LicenseInfo:
    """An id from ScanCode's database, unless it is one of ScanCode's own or a version it guessed.

    `matched` is the name or text that matched: one without a version number names a family
    ("Artistic License") and so no single licence of a family with several.
    """
    if spdx.startswith("LicenseRef-scancode-"):
        return LicenseInfo(None, {"problem": "a licence with no SPDX id: a human decides", "scancode": spdx})
    family = _family(spdx)
    # "Any version" is how the GPL and LGPL read a reference without a version: that one is no guess.
    versionless = matched is not None and not re.search(r"\d", matched) and spdx not in _ANY_VERSION
    if family != spdx and versionless and _family_sizes().get(family, 0) > 1:
        return _unknown(f"names the {family} family without a version: a human decides which")
    return LicenseInfo(spdx, {"found": how})


_ANY_VERSION = {"GPL-1.0-or-later", "LGPL-2.0-or-later"}


@lru_cache(maxsize=1)
def _family_sizes() -> dict[str, int]:
    """How many SPDX ids each licence family has ("GFDL" -> 18): a versionless name fits one of them."""
    sizes: dict[str, int] = {}
    for spdx in set(_spdx_symbols().values()):
        sizes[_family(spdx)] = sizes.get(_family(spdx), 0) + 1
    return sizes


def _classifier(text: str) -> LicenseInfo | None:
    """A PyPI trove classifier, `License :: OSI Approved :: MIT License`: its last part names the licence."""
    parts = [p.strip() for p in text.split("::")[1:] if p.strip() and p.strip() != "osi approved"]
    if not parts:
        return _unknown("a classifier that names no licence")
    rule = _database_name(text)  # ScanCode has a rule for most classifiers
    if rule is not None and rule.spdx is not None:
        return rule
    return _statement(parts[-1]) or _whole(parts[-1]) or _unknown("not a licence we recognise")


def _parenthesised(text: str) -> list[str]:
    """`Name (ID)`: the name without the parenthesis, then the short form inside it."""
    m = re.match(r"^(.+?)\s*\(([^()]+)\)$", text)
    return [] if m is None else [m.group(1), m.group(2)]


@lru_cache(maxsize=65536)
def _whole(text: str) -> LicenseInfo | None:
    """The string as a whole is one licence name, id or URL (lower-cased, single-spaced)."""
    text = text.strip().strip("\"'`*").strip()
    if text.startswith("(") and text.endswith(")") and "(" not in text[1:]:
        text = text[1:-1].strip()
    if text.startswith("license ::"):
        return _classifier(text)
    text = text.removeprefix("the ") if text != "the unlicense" else text
    dashed = text.replace("_", "-")
    spaced = re.sub(r"[-_]", " ", text)
    bare = re.sub(r" licen[cs]e$", "", spaced)
    if {text, spaced, bare} & _AMBIGUOUS:
        return _unknown("ambiguous: names no single licence")
    if " " not in text and re.search(r"[-_]and[-_]|[-_]or[-_](?!later)", text):
        return _unknown("licence expression: a combination of licences in one DEP-5 name")
    ofl = re.match(r"^(?:sil )?open font licen[cs]e,?(?: v(?:ersion)?\.?)? ?(1\.[01])$", text)
    if ofl:
        return LicenseInfo(f"OFL-{ofl.group(1)}")
    if _EXPRESSION.search(text) and _is_expression(text):
        # Before the family parsers: they would read "cc-by-nc-4.0 or cc-by-4.0" as its first licence.
        return _unknown("licence expression: a choice or combination of licences")
    if _RESERVED.match(text):
        return LicenseInfo(ALL_RIGHTS_RESERVED)
    if text in _DEP5_NAMES:
        return LicenseInfo(_DEP5_NAMES[text])
    for key in (text, spaced, bare):
        if key in _PERMISSIVE:
            return LicenseInfo(_PERMISSIVE[key])
    if " " not in text and ("/" in text or text.startswith("www.")):
        return _licence_url(text)
    # The Creative Commons word parser reads names, not sentences that mention Creative Commons.
    parsers = (_creative_commons, _gpl, _apache) if len(text.split()) <= 12 else ()
    for parse in parsers:
        info = parse(text)
        if info is not None:
            return info
    info = _symbol(dashed.replace(" ", "-")) or _dep5(dashed) or _compact_symbol(text)
    if info is not None:
        return info
    for part in _parenthesised(text):
        info = _whole(part)
        if _names_licence(info):  # "Free for personal use (proprietary)" is a statement, read below
            return info
    return _database_name(text)


def _database_name(text: str) -> LicenseInfo | None:
    db = license_db.load()
    key = license_db.words(text)
    for form in (key, license_db.name_key(text)):
        if form in db.names:
            return _from_db(db.names[form], "a licence name in ScanCode's licensedb", text)
    if key in db.rules:
        spdx = db.rules[key]
        if spdx is None:
            return _unknown("ScanCode's rules know this text as a false positive: it names no licence")
        return _from_db(spdx, "a ScanCode licence rule", text)
    return None


# An operator between licences; "GPL v2 or later" / "or any later version" is one licence, not a choice.
_EXPRESSION = re.compile(r"\s(?:or|and|with|and/or|&)\s(?!(?:any\s)?later)|,\s(?:and|or)\s", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+(?!(?:any\s)?later)", re.IGNORECASE)


def _is_expression(text: str) -> bool:
    """Several short licence names joined by OR / AND / WITH ("GPL-2+ with Autoconf exception")."""
    parts = [p.strip(" ,") for p in _EXPRESSION.split(text.replace("library or lesser", "lesser"))]
    if len(parts) < 2 or any(len(p.split()) > 6 for p in parts):
        return False
    return any((info := _whole(p)) is not None and info.spdx is not None for p in parts)


def _named_inside(text: str) -> list[tuple[LicenseInfo, str]]:
    """Licences a sentence or a pasted licence text names, each with how it was found."""
    found: list[tuple[LicenseInfo, str]] = []
    if re.match(r"^\S+ with \S+(?: \S+)? exception\b", text) or re.search(r"\bdual[- ]licen[cs]ed\b", text):
        # A DEP-5 "GPL-2 with Font exception" paragraph, or a choice written in prose.
        return [(_unknown("a combination of licences: a human reads it"), "a combination")]
    spdx_id = re.search(r"spdx-license-identifier:\s*([\w.+-]+)", text)
    if spdx_id:
        found.append((_whole(spdx_id.group(1)) or _unknown("unknown SPDX id"), "SPDX-License-Identifier"))
    first = text.split(None, 1)
    opens = len(first) == 2 and re.search(r"\d", first[0]) and not re.match(r"^(?:or|and|with)\b", first[1])
    # ...unless another DEP-5 stanza follows it (its files have a licence of their own).
    if opens and not re.search(r"\b(?:files|copyright):", first[1]):
        # A DEP-5 `License:` line followed by its text: "CC-BY-SA-4.0 http://creativecommons.org/...".
        info = _whole(first[0])
        if _names_licence(info):
            found.append((info, "the licence id that opens the text"))
    for url in _URL.findall(text):
        info = _licence_url(url.rstrip(".,;:"))
        if info is not None:
            found.append((info, f"the licence URL {url}"))
    for match in _UNDER.finditer(text):
        raw = match.group(1)
        version = re.match(r"v(?:ersion)? ?(\d(?:\.\d)*) of (?:the )?", raw)
        if version:  # "under version 3 of the GNU Affero General Public License": "... License version 3"
            name = (
                f"{_UNDER_END.split(raw[version.end() :], maxsplit=1)[0].strip()} version {version.group(1)}"
            )
        else:
            name = _UNDER_END.split(raw, maxsplit=1)[0].strip()
        if _is_expression(name):
            found.append((_unknown("a combination of licences"), "a combination"))
            continue
        info = _whole(name)
        if info is not None and info.spdx not in {ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY}:
            # A licence it names, or one it names ambiguously (a family, a port): then a human reads it.
            found.append((info, f"'{match.group(0)[:60]}'"))
    for path in re.findall(r"/usr/share/common-licenses/([\w.+-]+)", text):
        # Debian's copy of the licence text, named by its DEP-5 short name: the version it has.
        info = _whole(path.lower())
        if _names_licence(info):
            found.append((info, f"/usr/share/common-licenses/{path}"))
    notice = _GPL_NOTICE.search(text)
    if notice:
        found.append(
            (_gpl(f"{notice.group(1) or ''}gpl {notice.group(2)}+") or _unknown("?"), "a GNU notice")
        )
    heading = re.split(r"\s(?:={3,}|-{3,}|#+)\s|[:\n]|\s\s|\s(?:copyright|\(c\)|©)\s", text, maxsplit=1)[0]
    if heading != text and 1 <= len(heading.split()) <= 8:
        info = _whole(heading.strip(" #=-*"))
        if _names_licence(info):
            found.append((info, "the heading of the text"))
    bsd = _bsd_clauses(text)
    if bsd is not None:
        found.append((LicenseInfo(bsd), "the clauses of a BSD licence text"))
    if not found and len(text.split()) >= 6:
        found += _database_texts(text)
    return found


def _one_text(holders: set[str]) -> set[str]:
    """`X-only` and `X-or-later` share one text: the text alone grants the version it is."""
    if len(holders) == 2:
        only = [h for h in holders if h.endswith("-only")]
        if only and only[0].removesuffix("-only") + "-or-later" in holders:
            return {only[0]}
    return holders


def _names_licence(info: LicenseInfo | None) -> bool:
    return (
        info is not None
        and info.spdx is not None
        and info.spdx not in {ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY}
    )


def _bsd_clauses(text: str) -> str | None:
    """A whole BSD licence text: its clauses say which (3: "Neither the name", 4: advertising)."""
    if not (
        "redistributions of source code must retain" in text and "redistributions in binary form" in text
    ):
        return None
    if "advertising materials" in text:
        return "BSD-4-Clause"
    return "BSD-3-Clause" if re.search(r"neither the names? of", text) else "BSD-2-Clause"


def _database_texts(text: str) -> list[tuple[LicenseInfo, str]]:
    """Licences whose ScanCode notices occur inside `text`, or the one licence whose texts hold it."""
    db = license_db.load()
    text_words = license_db.words(text)
    found = [
        (_from_db(spdx, "a ScanCode licence notice inside the text", text), "a licence notice")
        for spdx in sorted(license_db.find_notices(text_words, db))
    ]
    bare_notice = _statement(text) is not None and _statement(text).spdx == ALL_RIGHTS_RESERVED
    if not found and len(text_words.split()) >= 8 and not bare_notice:
        # Copyright lines open many licence texts: a bare notice is not read as the licence it opens.
        holders = _one_text(license_db.found_in(text_words, db))
        if len(holders) == 1:
            spdx = next(iter(holders))
            found.append((_from_db(spdx, "the only licence whose text holds this passage", text), "its text"))
    return found


@lru_cache(maxsize=65536)
def _inside(text: str) -> LicenseInfo | None:
    found = _named_inside(text)
    if not found:
        return None
    known = {info.spdx for info, _ in found if info.spdx is not None}
    undecided = [info for info, _ in found if info.spdx is None]
    if undecided and not known:
        return undecided[0]  # what it names is ambiguous (a family, a port, a combination)
    if undecided or len(known) != 1:
        # An assumed version ("creative commons attribution") does not contradict a stated one.
        stated = {info.spdx for info, _ in found if info.spdx is not None and "assumed" not in info.evidence}
        if len(stated) == 1 and not any(info.spdx is None for info, _ in found):
            only = next(iter(stated))
            assumed = [i.spdx for i, _ in found if "assumed" in i.evidence]
            if all(_family(a) == _family(only) for a in assumed):
                return LicenseInfo(only, {"found": "; ".join(how for i, how in found if i.spdx == only)})
        return _unknown(f"names several licences or a combination: {sorted(known)}")
    spdx = next(iter(known))
    if spdx.startswith("GFDL-") and "no invariant sections" in text and "-no-invariants" not in spdx:
        spdx = spdx.replace("-only", "-no-invariants-only").replace("-or-later", "-no-invariants-or-later")
    evidence = {"found": "; ".join(how for _, how in found)}
    for info, _ in found:
        evidence.update({k: v for k, v in info.evidence.items() if k in {"assumed", "read_as"}})
    return LicenseInfo(spdx, evidence)


def _family(spdx: str | None) -> str:
    return re.sub(r"-\d.*$", "", spdx or "")


def _statement(text: str) -> LicenseInfo | None:
    """Statements that are not licences: personal or non-commercial use only, all rights reserved."""
    if _NON_COMMERCIAL.search(text):
        return LicenseInfo(NON_COMMERCIAL_ONLY, {"read_as": "use restricted to non-commercial purposes"})
    notice = re.search(r"\ball rights reserved\b", text) or re.match(r"^(?:©|\(c\)|copyright\b)", text)
    if notice and not _GRANT.search(text):
        return LicenseInfo(ALL_RIGHTS_RESERVED, {"read_as": "a copyright notice that grants no licence"})
    if re.match(
        r"^(?:this (?:work|file|image|picture|photo|font|icon|library|package|software|program)\b[^.]{0,60}"
        r"\bis (?:in the )?public domain|developed and released under public domain)\b",
        text,
    ):
        return LicenseInfo("PDM-1.0", {"read_as": "a statement that the work is in the public domain"})
    return None


@lru_cache(maxsize=1)
def _spdx_symbols() -> dict[str, str]:
    """Lower-case SPDX id -> canonical id, from the license-expression package's bundled index."""
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    return {str(sym.key).lower(): str(sym.key) for sym in licensing.known_symbols.values()}


@lru_cache(maxsize=65536)
def normalize_license(raw: str | None) -> LicenseInfo:
    """Map a raw licence string (short form, long name, URL, sentence or text) to an SPDX id, or None."""
    if raw is None or not str(raw).strip():
        return _unknown("empty")
    text = re.sub(r"\s+", " ", str(raw).strip().lower())
    text = re.sub(r"^licen[cs]e\s*:\s*(?!:)", "", text).strip()
    info = _whole(text) or _whole(re.sub(r"\s+\d+\.$", "", text))  # "... LICENSE VERSION 2 1." (a section)
    if info is not None:
        return info
    return _inside(text) or _statement(text) or _unknown("not a licence we recognise")


def license_choices(raw: str | None) -> list[str] | None:
    """The SPDX ids a disjunctive licence offers ("MIT OR Apache-2.0", "CC-BY-4.0 or CC0"), in order.

    None when `raw` is not a plain choice, or when one of its options is not a licence we recognise:
    conjunctions ("AND"), exceptions ("WITH") and nested expressions stay with a human.
    """
    if raw is None:
        return None
    text = str(raw).strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    parts = _OR.split(text)
    if len(parts) < 2 or any(_EXPRESSION.search(p) or re.search(r"[()]", p) for p in parts):
        return None
    options = [normalize_license(p).spdx for p in parts]
    return None if any(o is None for o in options) else options  # type: ignore[return-value]


_CATEGORY_TRAITS = {
    "Public Domain": frozenset(),
    "Permissive": frozenset({"attribution"}),
    "Copyleft": frozenset({"attribution", "copyleft", "share-alike"}),
    "Copyleft Limited": frozenset({"attribution", "copyleft", "share-alike"}),
}


@lru_cache(maxsize=4096)
def license_traits(spdx: str) -> frozenset[str]:
    """The policy traits of an SPDX id: attribution, share-alike, non-commercial, no-derivatives, copyleft."""
    if spdx.startswith("CC-BY"):
        traits = {"attribution"}
        parts = spdx.split("-")
        if "SA" in parts:
            traits.add("share-alike")
        if "NC" in parts:
            traits.add("non-commercial")
        if "ND" in parts:
            traits.add("no-derivatives")
        return frozenset(traits)
    if spdx in {"CC0-1.0", "PDM-1.0", "CC-PDDC", "Unlicense", "WTFPL", "0BSD", "MIT-0"}:
        return frozenset()
    if re.match(r"^(A|L)?GPL-", spdx) or spdx.startswith(("MPL-", "EPL-", "EUPL-", "CDDL-", "GFDL-")):
        return frozenset({"attribution", "copyleft", "share-alike"})
    if spdx.startswith("OFL-"):
        return frozenset({"attribution", "copyleft"})
    if spdx in {ALL_RIGHTS_RESERVED, NON_COMMERCIAL_ONLY}:
        return frozenset({"no-derivatives", "non-commercial"})
    if spdx in {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib"}:
        return frozenset({"attribution"})
    category = license_db.load().categories.get(spdx)
    return _CATEGORY_TRAITS.get(category or "", frozenset({"attribution"}))


def license_url(spdx: str) -> str:
    """Where the licence text lives (the Creative Commons deed for CC licences, SPDX otherwise)."""
    cc = re.match(r"^CC-(BY(?:-NC)?(?:-ND|-SA)?)-(\d\.\d)(?:-([A-Z]+))?$", spdx)
    if cc:
        port = f"{cc.group(3).lower()}/" if cc.group(3) else ""
        return f"https://creativecommons.org/licenses/{cc.group(1).lower()}/{cc.group(2)}/{port}"
    if spdx == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if spdx == "PDM-1.0":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    if spdx == "CC-PDDC":
        return "https://creativecommons.org/licenses/publicdomain/"
    if spdx.startswith("LicenseRef-"):
        return ""
    return f"https://spdx.org/licenses/{spdx}.html"
