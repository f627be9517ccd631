"""A local folder as a ``Source``: the embedded default, for demos, tests and mounted shares.

It behaves like the SFTP source (same names, same errors) so a customer file can switch from
one to the other without the engine noticing. It must never follow a name outside its folder
nor list anything but regular files directly inside it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import Self

from engine.errors import SourceError
from engine.files.source import FileInfo, unsafe_name_reason


class FolderSource:
    """HRIS files in a local directory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"folder {self.path}"

    def __enter__(self) -> Self:
        if not self.path.is_dir():
            raise SourceError(
                f"{self.describe()}: no such folder",
                hint="check hris.source.path in the customer file (relative paths start at that file)",
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def list(self) -> list[FileInfo]:
        files: list[FileInfo] = []
        try:
            with os.scandir(self.path) as entries:
                for entry in entries:
                    # lstat: a symlink is not a regular file of this folder and is not listed,
                    # so the source can never be made to read elsewhere.
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode):
                        files.append(FileInfo.from_timestamp(entry.name, info.st_size, info.st_mtime))
        except OSError as exc:
            raise self._translate(exc, None) from exc
        return files

    def read(self, name: str) -> bytes:
        path = self._path_of(name)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise self._translate(exc, name) from exc

    def delete(self, name: str) -> None:
        path = self._path_of(name)
        try:
            # Already gone is fine: deleting is idempotent, like on the SFTP source.
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise self._translate(exc, name) from exc

    def _path_of(self, name: str) -> Path:
        reason = unsafe_name_reason(name)
        if reason is not None:
            raise SourceError(f"{self.describe()}: refusing file name {name!r}: {reason}")
        return self.path / name

    def _translate(self, exc: OSError, name: str | None) -> SourceError:
        where = f"{self.describe()}/{name}" if name else self.describe()
        if exc.errno == errno.ENOENT:
            return SourceError(f"{where}: not found", hint="it may have been moved or deleted meanwhile")
        if exc.errno in (errno.EACCES, errno.EPERM):
            return SourceError(f"{where}: permission denied", hint="let the runner's user read and delete it")
        return SourceError(f"{where}: {exc.strerror or exc}")
