"""The digest chain that ties the input manifest to the governed data, the model, the audits and the card.

Each link's digest is sha256(previous link digest + the artifact's own digest), so changing any
artifact changes every later link. `pipeline verify` recomputes the chain from stored artifacts.
"""

import contextlib
import hashlib
from pathlib import Path

from pydantic import BaseModel

_CHUNK = 1 << 20
DIGESTS_FILE = "digests.json"  # the chain, in the run folder and among the run's artifacts


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_sha256(path: Path) -> str:
    """sha256 over a file, or over a folder's files (relative path + content digest, sorted)."""
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist")
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(b"\0")
        h.update(file_sha256(f).encode())
        h.update(b"\n")
    return h.hexdigest()


class Link(BaseModel):
    name: str  # what this link covers, e.g. "manifest"
    artifacts: list[str]  # artifact paths (relative to the parent run's artifact root)
    artifact_digest: str
    chained: str  # sha256(previous chained + artifact_digest)


class Chain(BaseModel):
    links: list[Link]

    @property
    def top(self) -> str:
        return self.links[-1].chained if self.links else ""


def chained(previous: str, artifact_digest: str) -> str:
    """A link's digest: sha256(previous link's digest + the artifacts' digest)."""
    return hashlib.sha256((previous + artifact_digest).encode()).hexdigest()


def artifacts_digest(root: Path, artifacts: list[str]) -> str:
    h = hashlib.sha256()
    for rel in artifacts:
        h.update(rel.encode())
        h.update(b"\0")
        h.update(tree_sha256(root / rel).encode())
        h.update(b"\n")
    return h.hexdigest()


def build_chain(root: Path, links: list[tuple[str, list[str]]], previous: Chain | None = None) -> Chain:
    """Chain over (name, artifact paths under root); extends `previous` if given."""
    out = list(previous.links) if previous else []
    prev = out[-1].chained if out else ""
    for name, artifacts in links:
        digest = artifacts_digest(root, artifacts)
        prev = chained(prev, digest)
        out.append(Link(name=name, artifacts=artifacts, artifact_digest=digest, chained=prev))
    return Chain(links=out)


def first_broken_link(root: Path, chain: Chain) -> tuple[Link, str] | None:
    """The first link whose artifacts no longer match, with the first artifact that differs."""
    prev = ""
    for link in chain.links:
        digest = None
        with contextlib.suppress(FileNotFoundError):
            digest = artifacts_digest(root, link.artifacts)
        if digest != link.artifact_digest or chained(prev, digest or "") != link.chained:
            return link, _first_changed(root, link)
        prev = link.chained
    return None


def _first_changed(root: Path, link: Link) -> str:
    # Point at the one artifact that changed, or at the link when the stored chain itself was edited.
    for rel in link.artifacts:
        if not (root / rel).exists():
            return f"{rel} (missing)"
    return ", ".join(link.artifacts)
