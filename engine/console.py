"""How the library talks to a person: a small reporter interface, never ``print``.

The engine reports progress and notices through a ``Reporter``; the CLI chooses the real
terminal one, tests and the runner choose a silent or recording one. Messages given to a
reporter must already be free of secrets and of personal data.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


class Reporter(Protocol):
    """What the engine may say while it works."""

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def progress(self, total: int, label: str) -> AbstractContextManager[Progress]: ...


class _NullProgress:
    def advance(self, n: int = 1) -> None:
        return None


class SilentReporter:
    """Says nothing: for library use, tests and the runner (which logs instead)."""

    def info(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        return None

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Progress]:
        yield _NullProgress()


class _BarProgress:
    """A one-line bar redrawn at most ten times a second, so it never slows a big apply."""

    def __init__(self, stream: TextIO, total: int, label: str, width: int = 30) -> None:
        self.stream, self.total, self.label, self.width = stream, max(total, 0), label, width
        self.done = 0
        self._last = 0.0
        self._tty = stream.isatty()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._tty and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        share = self.done / self.total if self.total else 1.0
        filled = int(self.width * min(share, 1.0))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()

    def finish(self) -> None:
        if self._tty:
            self._draw()
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total}\n")
        self.stream.flush()


class TerminalReporter:
    """Notices to stderr (stdout stays clean for JSON output), with a progress bar on a TTY."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(message + "\n")

    def warn(self, message: str) -> None:
        self.stream.write(f"warning: {message}\n")

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Progress]:
        if self.quiet:
            yield _NullProgress()
            return
        bar = _BarProgress(self.stream, total, label)
        try:
            yield bar
        finally:
            bar.finish()
