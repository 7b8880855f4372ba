"""A source record: one metadata row as a source yields it, before any file is read."""

from dataclasses import dataclass, field
from typing import Any

from governance.decisions import Finding


@dataclass(frozen=True)
class MemberRef:
    """An image inside an archive: `size` bytes at `offset` of `file` (a tar member's data)."""

    file: str
    offset: int
    size: int

    def read(self) -> bytes:
        """The member's bytes (a seek and one read: the archive is never unpacked)."""
        with open(self.file, "rb") as handle:
            handle.seek(self.offset)
            return handle.read(self.size)


@dataclass
class SourceRecord:
    """One input record. `path` is set only when the file was found inside the dataset folder."""

    record_id: str
    index: int
    source: str
    file_name: str | None = None  # as given in the metadata (untrusted), made printable
    path: str | None = None  # resolved absolute path inside the dataset folder
    data: bytes | None = None  # embedded image bytes (Parquet rows, datasets saved with save_to_disk)
    member: MemberRef | None = None  # where the image lies inside a tar; read only when processed
    text: str | None = None
    license_raw: str | None = None
    license_source: str | None = None  # where license_raw came from, e.g. "metadata field 'license'"
    source_url: str | None = None
    author: str | None = None
    declared_sha256: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # every other metadata field, kept as given
    findings: list[Finding] = field(default_factory=list)  # problems found in the metadata itself


def printable(value: str | None) -> str | None:
    """A string that Parquet can store: lone surrogates (from non-UTF-8 bytes) become U+FFFD."""
    if value is None:
        return None
    return value.encode("utf-8", errors="replace").decode("utf-8")
