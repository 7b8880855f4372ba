"""A documented pattern and lexicon scan of captions for personal data (PII).

Patterns (case-insensitive): e-mail addresses, URLs, @handles, phone numbers, IPv4 addresses, US social
security numbers, payment-card-like digit runs. Names (case-sensitive, so that lower-case words like
"rose", "mark" or "jack" in emoji names are not flagged): an honorific followed by a capitalised word
("Dr. Smith"), or a common given name from the lexicon below followed by a capitalised word ("Anna
Schmidt"). A scan, not a guarantee: it finds the obvious cases and reports each match as evidence.
"""

import re

# Common given names (US SSA and European lists, top entries); extend for other data.
_GIVEN_NAMES_TEXT = """Aaron Adam Ahmed Alan Albert Alex Alexander Alice Amanda Amy Andrea Andrew Angela Ann Anna Anne Anthony
    Barbara Ben Benjamin Betty Brian Carl Carlos Carol Catherine Charles Charlotte Chris Christian Christina
    Christopher Claire Daniel David Deborah Dennis Diana Donald Donna Dorothy Edward Elena Elizabeth Emily Emma
    Eric Frank Gary George Hannah Harry Helen Henry Isabella Jack Jacob James Jane Jason Jean Jennifer Jessica
    John Jonathan Jose Joseph Joshua Juan Julia Karen Kevin Laura Linda Lisa Luis Maria Mark Martin Mary
    Matthew Michael Michelle Mohammed Nancy Nicholas Olivia Patricia Paul Peter Rachel Richard Robert Ruth
    Ryan Samuel Sandra Sarah Scott Sophia Stephen Steven Susan Thomas Timothy William"""
GIVEN_NAMES = frozenset(_GIVEN_NAMES_TEXT.split())
PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b", re.IGNORECASE),
    "url": re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE),
    "handle": re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,30}\b"),
    "phone": re.compile(
        r"(?<!\d)(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?(?!\d)"
    ),
    "ipv4": re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "card_number": re.compile(r"\b(?:\d[ -]?){13,16}\b"),
    "honorific_name": re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.?\s+[A-Z][a-z]+"),
    "given_name": re.compile(r"\b(" + "|".join(sorted(GIVEN_NAMES)) + r")\s+[A-Z][a-z]+"),
}


def scan_caption(text: str) -> dict[str, list[str]]:
    """The PII matches in one caption, by pattern name (empty dict when none)."""
    found: dict[str, list[str]] = {}
    for name, pattern in PATTERNS.items():
        hits = [m.group(0) for m in pattern.finditer(text)]
        if hits:
            found[name] = hits
    return found


def scan_captions(texts: list[str]) -> list[tuple[int, dict[str, list[str]]]]:
    """(index, matches) for every caption with at least one match, in order."""
    return [(i, hits) for i, t in enumerate(texts) if (hits := scan_caption(t))]
