"""The user's opt-out list: domains, URL prefixes, author names and content hashes."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from governance.config import OptOutList

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _norm_author(name: str) -> str:
    return " ".join(name.casefold().split())


@dataclass(frozen=True)
class OptOutMatcher:
    domains: frozenset[str] = field(default_factory=frozenset)
    url_prefixes: tuple[str, ...] = ()
    authors: frozenset[str] = field(default_factory=frozenset)
    sha256: frozenset[str] = field(default_factory=frozenset)

    def match(self, source_url: str | None, author: str | None, content_sha256: str | None) -> list[str]:
        """Which entries of the list this record matches, as 'kind=value' strings."""
        hits = []
        if source_url:
            host = (urlsplit(source_url.strip()).hostname or "").lower().rstrip(".")
            hits += [f"domain={d}" for d in sorted(self.domains) if host == d or host.endswith("." + d)]
            hits += [f"url_prefix={p}" for p in self.url_prefixes if source_url.strip().startswith(p)]
        if author and _norm_author(author) in self.authors:
            hits.append(f"author={author}")
        if content_sha256 and content_sha256.lower() in self.sha256:
            hits.append(f"sha256={content_sha256}")
        return hits


def load_opt_out(cfg: OptOutList) -> OptOutMatcher:
    """The configured lists plus the optional file (one entry per line, '#' comments).

    A line is a sha256 if it is 64 hex digits, a URL prefix if it starts with http(s)://, a domain if
    it is one word with a dot, and an author name otherwise.
    """
    domains = {d.lower().strip().lstrip(".") for d in cfg.domains}
    prefixes = list(cfg.url_prefixes)
    authors = {_norm_author(a) for a in cfg.authors}
    hashes = {h.lower().strip() for h in cfg.sha256}
    if cfg.file is not None:
        path = Path(cfg.file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"provenance.opt_out.file {path} does not exist: create it or unset the option"
            )
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            if _SHA256.match(entry.lower()):
                hashes.add(entry.lower())
            elif entry.lower().startswith(("http://", "https://")):
                prefixes.append(entry)
            elif " " not in entry and "." in entry and "/" not in entry:
                domains.add(entry.lower().lstrip("."))
            else:
                authors.add(_norm_author(entry))
    return OptOutMatcher(frozenset(domains), tuple(prefixes), frozenset(authors), frozenset(hashes))
