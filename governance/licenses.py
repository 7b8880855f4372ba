"""Licence strings as real metadata holds them -> SPDX ids, their traits and their URLs.

`normalize_license` never guesses silently: an assumption (a Creative Commons string without a
version is read as 4.0; a GPL string without a version as "any version", as the GPL itself says) is
recorded in the returned evidence. Strings that name no licence we know give `None` (-> quarantine).
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

ALL_RIGHTS_RESERVED = "LicenseRef-All-Rights-Reserved"

TRAITS = ("attribution", "share-alike", "non-commercial", "no-derivatives", "copyleft")

# Plain words for the Creative Commons elements, so that "Attribution-NonCommercial-ShareAlike" and
# "by-nc-sa" normalise to the same id.
_CC_WORDS = {
    "attribution": "by",
    "noncommercial": "nc",
    "non-commercial": "nc",
    "sharealike": "sa",
    "share-alike": "sa",
    "noderivatives": "nd",
    "noderivs": "nd",
    "no-derivatives": "nd",
}
_CC_VALID = {"by", "by-sa", "by-nc", "by-nc-sa", "by-nd", "by-nc-nd"}
_CC_VERSIONS = {"1.0", "2.0", "2.5", "3.0", "4.0"}

_PERMISSIVE = {
    "mit": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "expat": "MIT",
    "isc": "ISC",
    "isc license": "ISC",
    "zlib": "Zlib",
    "unlicense": "Unlicense",
    "the unlicense": "Unlicense",
    "wtfpl": "WTFPL",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd 2-clause": "BSD-2-Clause",
    "bsd-2": "BSD-2-Clause",
    "bsd 2 clause": "BSD-2-Clause",
    "simplified bsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd 3-clause": "BSD-3-Clause",
    "bsd-3": "BSD-3-Clause",
    "bsd 3 clause": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "ofl": "OFL-1.1",
    "ofl-1.1": "OFL-1.1",
    "ofl 1.1": "OFL-1.1",
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
}

_RESERVED = re.compile(
    r"^(all rights reserved|©.*|\(c\).*|copyright.*|proprietary|commercial|no licen[cs]e|none|not licensed"
    r"|licenseref-all-rights-reserved)$"
)
_APACHE = re.compile(
    r"^(?:the )?(?:apache|asl)(?: software)?(?: license)?[ ,-]*(?:v(?:ersion)?)?[ -]?(\d(?:\.\d)?)?$"
)
_GPL = re.compile(
    r"^(?:gnu )?(a|l|affero |lesser |library )?(?:general public license|gpl)[ -]*(?:v(?:ersion)?)?[ -]?"
    r"(\d(?:\.\d)?)?[ -]*(\+|or[ -](?:any[ -])?later(?: version)?|only)?$"
)
_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses/([a-z-]+)/(\d\.\d)|publicdomain/(zero|mark)/(\d\.\d))"
)


@dataclass(frozen=True)
class LicenseInfo:
    """The outcome of normalising one raw licence string."""

    spdx: str | None
    evidence: dict[str, str] = field(default_factory=dict)


def _cc_id(elements: str, version: str | None) -> LicenseInfo | None:
    elements = elements.strip("-")
    if elements not in _CC_VALID:
        return None
    if version is None:
        return LicenseInfo(f"CC-{elements.upper()}-4.0", {"assumed": "no version given; read as 4.0"})
    if version not in _CC_VERSIONS:
        return None
    return LicenseInfo(f"CC-{elements.upper()}-{version}")


def _creative_commons(text: str) -> LicenseInfo | None:
    url = _CC_URL.search(text)
    if url:
        if url.group(1):
            return _cc_id(url.group(1), url.group(2))
        return LicenseInfo("CC0-1.0" if url.group(3) == "zero" else "PDM-1.0")
    if re.search(r"\bcc[ -]?0\b|\bcc[ -]zero\b|creative ?commons zero", text):
        return LicenseInfo("CC0-1.0")
    if not re.search(r"\bcc\b|creative ?commons|\battribution\b", text):
        return None
    words = text.replace("creative commons", " ").replace("creativecommons", " ")
    for word, code in _CC_WORDS.items():
        words = words.replace(word, f" {code} ")
    if re.search(r"\bcc[ -]?0\b|\bzero\b", words):
        return LicenseInfo("CC0-1.0")
    tokens = re.findall(r"\b(by|nc|sa|nd)\b", words)
    if not tokens:
        return None
    order = [t for t in ("by", "nc", "nd", "sa") if t in tokens]
    # SPDX orders NC before SA/ND ("by-nc-sa"), matching the CC URL slugs.
    elements = "-".join(order)
    version = re.search(r"(?<![\d.])([1-4])(?:\.(\d))?(?![\d])", words)
    ver = None if version is None else f"{version.group(1)}.{version.group(2) or '0'}"
    return _cc_id(elements, ver)


def _gpl(text: str) -> LicenseInfo | None:
    m = _GPL.match(text)
    if not m:
        return None
    prefix = (m.group(1) or "").strip()
    family = {"": "GPL", "a": "AGPL", "affero": "AGPL", "l": "LGPL", "lesser": "LGPL", "library": "LGPL"}[
        prefix
    ]
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


# An operator between licences; "GPL v2 or later" / "or any later version" is one licence, not a choice.
_EXPRESSION = re.compile(r"\s(?:or|and|with)\s(?!(?:any\s)?later)", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+(?!(?:any\s)?later)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _spdx_symbols() -> dict[str, str]:
    """Lower-case SPDX id -> canonical id, from the license-expression package's bundled index."""
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    return {str(sym.key).lower(): str(sym.key) for sym in licensing.known_symbols.values()}


@lru_cache(maxsize=4096)
def normalize_license(raw: str | None) -> LicenseInfo:
    """Map a raw licence string (short form, long name or URL) to an SPDX id, or None when unknown."""
    if raw is None or not str(raw).strip():
        return LicenseInfo(None, {"problem": "empty"})
    text = re.sub(r"\s+", " ", str(raw).strip().lower())
    text = text.removeprefix("license:").removeprefix("licence:").strip()
    text = re.sub(r"^https?://(www\.)?", "", text).rstrip("/")
    if _RESERVED.match(text):
        return LicenseInfo(ALL_RIGHTS_RESERVED)
    if text in _PERMISSIVE:
        return LicenseInfo(_PERMISSIVE[text])
    if _EXPRESSION.search(text):
        # Before the family parsers: they would read "cc-by-nc-4.0 or cc-by-4.0" as its first licence.
        return LicenseInfo(None, {"problem": "licence expression: a choice or combination of licences"})
    for parse in (_creative_commons, _gpl):
        info = parse(text)
        if info is not None:
            return info
    apache = _APACHE.match(text)
    if apache:
        version = apache.group(1) or "2.0"
        if "." not in version:
            version += ".0"
        if version in {"1.0", "1.1", "2.0"}:
            evidence = {} if apache.group(1) else {"assumed": "no version given; read as 2.0"}
            return LicenseInfo(f"Apache-{version}", evidence)
    if text in {"bsd", "bsd license", "gpl-compatible", "free", "open source", "other", "unknown"}:
        return LicenseInfo(None, {"problem": "ambiguous: names no single licence"})
    canonical = _spdx_symbols().get(text.replace(" ", "-"))
    if canonical is not None:
        return LicenseInfo(canonical)
    return LicenseInfo(None, {"problem": "not a licence we recognise"})


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
    if spdx in {"CC0-1.0", "PDM-1.0", "Unlicense", "WTFPL", "0BSD"}:
        return frozenset()
    if re.match(r"^(A|L)?GPL-", spdx) or spdx.startswith(("MPL-", "EPL-", "EUPL-", "CDDL-")):
        return frozenset({"attribution", "copyleft", "share-alike"})
    if spdx.startswith("OFL-"):
        return frozenset({"attribution", "copyleft"})
    if spdx == ALL_RIGHTS_RESERVED:
        return frozenset({"no-derivatives", "non-commercial"})
    return frozenset({"attribution"})


def license_url(spdx: str) -> str:
    """Where the licence text lives (the Creative Commons deed for CC licences, SPDX otherwise)."""
    if spdx.startswith("CC-BY"):
        parts = spdx.split("-")
        return f"https://creativecommons.org/licenses/{'-'.join(parts[1:-1]).lower()}/{parts[-1]}/"
    if spdx == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if spdx == "PDM-1.0":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    if spdx.startswith("LicenseRef-"):
        return ""
    return f"https://spdx.org/licenses/{spdx}.html"
