"""What opening a source gives: its batches of records, name, files and (where known) record count."""

from collections.abc import Callable, Iterator
from pathlib import Path

from governance.records import SourceRecord

Batches = Callable[[], Iterator[list[SourceRecord]]]
Opened = tuple[Batches, str, list[Path], int | None]
