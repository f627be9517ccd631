"""The ``RunnerHost`` protocol: a runner machine's release folder, as the deploy sees it.

The deploy decides *what* happens (which release, which link, what to prune); a host says
*how* on its platform -- over SSH with fabric in ``connectors/deploy``. Each operation is a
whole step with a guarantee the deploy relies on: an upload is all or nothing, a switch is
atomic. Implementations raise only ``engine.deploy.errors.DeployError`` and its subclasses.

This module must never do I/O itself, import a network library, or hold a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self


@dataclass(frozen=True)
class HostState:
    """What a host holds under its path: release names (oldest first) and the current one.

    ``current`` is the release ``current`` links to, or None when there is no link or it
    points at something that is not a release; ``current_target`` is the raw link text.
    """

    releases: tuple[str, ...]
    current: str | None
    current_target: str | None = None


class RunnerHost(Protocol):
    """One runner host's deploy folder; used as ``with host:`` (connects on entry)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def describe(self) -> str:
        """``user@host:path``, for messages (never a credential)."""
        ...

    def state(self) -> HostState:
        """The releases and the current one; an empty state when nothing was ever deployed."""
        ...

    def upload_release(self, name: str, files: Mapping[str, bytes]) -> None:
        """Create ``releases/<name>/`` holding ``files`` (relative paths), all or nothing.

        The files are staged under a name that is not a release and published by one rename,
        so a failure at any point leaves no release behind (and the staging is removed).
        """
        ...

    def switch_current(self, name: str) -> None:
        """Point ``current`` at ``releases/<name>`` atomically: a reader never sees it missing."""
        ...

    def remove_release(self, name: str) -> None:
        """Delete ``releases/<name>``; the caller never passes the current release."""
        ...
