"""The ``Source`` protocol: where HRIS files come from, seen by the engine.

The engine lists, reads and deletes files through this small interface and never learns
whether they sit in a local folder or on a customer's SFTP server; the implementations live
in ``connectors/sources``. A ``FileInfo`` is a plain value (name, size, modification time in
UTC) so the selection rules in ``selection.py`` stay pure and testable without a server.

This module must never do I/O itself, import a network library, or hold a secret.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable


@dataclass(frozen=True, order=True)
class FileInfo:
    """One file as a source lists it. ``mtime`` is timezone-aware, in UTC."""

    name: str
    size: int
    mtime: datetime

    def __post_init__(self) -> None:
        # A naive datetime would compare wrongly against "now" in the selection rules; refuse
        # it where it is made rather than where it silently misorders files.
        if self.mtime.tzinfo is None:
            raise ValueError("FileInfo.mtime must be timezone-aware (UTC)")
        if self.mtime.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "mtime", self.mtime.astimezone(UTC))

    @classmethod
    def from_timestamp(cls, name: str, size: int, timestamp: float) -> FileInfo:
        """Build from a POSIX timestamp, the form both ``os.stat`` and SFTP attributes give."""
        return cls(name=name, size=size, mtime=datetime.fromtimestamp(timestamp, tz=UTC))


@runtime_checkable
class Source(Protocol):
    """A folder of HRIS files: list, read, delete; opened and closed with ``with source:``.

    Names are plain file names inside the source's folder (never paths). Implementations
    raise only ``engine.errors.SourceError`` and its subclasses; ``SourceUnavailableError`` is
    transient and has already been retried when it reaches the caller.
    """

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def list(self) -> list[FileInfo]:
        """Regular files directly in the folder, in no particular order."""
        ...

    def read(self, name: str) -> bytes:
        """The whole content of ``name``."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name`` from the folder; a file already gone is not an error (retries)."""
        ...

    def describe(self) -> str:
        """Where this source points, for logs and messages; never contains a secret."""
        ...


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` cannot be a plain file name inside the folder, or None when it can.

    Shared by the selection rules (which report such files) and every source (which refuses
    to read or delete them), so a crafted name can never reach outside the folder.
    """
    if not name:
        return "the name is empty"
    if "/" in name or "\\" in name:
        return "the name contains a path separator"
    if ".." in name:
        return "the name contains '..'"
    if name == ".":
        return "the name is the folder itself"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        return "the name contains a control character"
    return None
