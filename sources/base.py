"""The source protocol: every format is a small class with `identify` and `parse`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from sources.records import ParseResult

HEAD_BYTES = 8192


@runtime_checkable
class Source(Protocol):
    #: Stable name, used by `payrecon parse --source NAME` and stored on raw files.
    name: str

    def identify(self, path: Path, head: bytes) -> bool:
        """True if this source can read the file. `head` is the file's first HEAD_BYTES bytes."""

    def parse(self, path: Path) -> ParseResult:
        """Read the whole file into normalized records; raise MalformedFile if it cannot be read."""
