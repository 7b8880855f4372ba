"""Whether a record's `source_url` names a place its image came from.

A source URL is provenance and is published in the attribution list. One whose scheme can carry
script (`javascript:`, `vbscript:`, `data:`) names no source and would be a live payload in any page
that links it; an unknown scheme or a URL without a host names nothing a reader can check. Those are
invalid provenance: the record is quarantined (`source_url_invalid`) with the problem as evidence.
"""

import re
from urllib.parse import urlsplit

# http(s) and object stores name a host or a bucket; a package URL (purl) names a package.
HOST_SCHEMES = ("http", "https", "s3", "gs")
PACKAGE_SCHEME = "pkg"
SOURCE_URL_SCHEMES = (*HOST_SCHEMES, PACKAGE_SCHEME)
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data", "livescript", "mocha"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# purl: pkg:TYPE/[NAMESPACE/]NAME[@VERSION][?QUALIFIERS][#SUBPATH]; the type starts with a letter.
_PURL = re.compile(r"^pkg:/*[A-Za-z][A-Za-z0-9.+-]*/+[^/?#@]")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]")


def source_url_problem(value: object) -> str | None:
    """Why `value` is not a valid source URL, or None when it is (or is empty: that is `provenance_missing`).

    Valid: `http(s)://HOST/...`, `s3://BUCKET/...`, `gs://BUCKET/...` and package URLs such as
    `pkg:npm/left-pad@1.3.0` or `pkg:deb/debian/tango-icon-theme`.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    url = value.strip()
    if _CONTROL_CHARS.search(url):
        # Browsers drop tabs and newlines inside URLs, so "java\tscript:" would still run.
        return "contains control characters (a tab or a line break, say)"
    match = _SCHEME.match(url)
    if match is None:
        return f"names no scheme: give an absolute URL ({', '.join(SOURCE_URL_SCHEMES)})"
    scheme = match.group(1).lower()
    if scheme in SCRIPT_SCHEMES:
        return f"scheme {scheme}: can carry script or inline content and names no source"
    if scheme == PACKAGE_SCHEME:
        return None if _PURL.match(url) else "not a package URL (pkg:TYPE/NAME, e.g. pkg:npm/left-pad)"
    if scheme not in HOST_SCHEMES:
        return f"scheme {scheme}: not a source scheme (allowed: {', '.join(SOURCE_URL_SCHEMES)})"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # a malformed port or IPv6 literal
        return f"malformed URL ({exc})"
    if not host:
        return f"{scheme} URL without a {'host' if scheme.startswith('http') else 'bucket'}"
    return None
