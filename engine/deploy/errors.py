"""The deploy phase's branch of the error tree.

A deploy fails for reasons an SA fixes in different places: the customer files (fix them in
the repository), the runner host's identity or our credentials (fix the known_hosts file or
the deploy key), the network (run again), or the release history (nothing to roll back to).
Each is a type, so the CLI and the tests branch on the type, never on the text. Messages name
the host and the path, and never hold a key, a passphrase or a file's content.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.config.diagnostics import Diagnostic
from engine.errors import LmsyncError, TransientError


class DeployError(LmsyncError):
    """Deploying the configuration to a runner host, or rolling it back, failed."""


class InvalidReleaseError(DeployError):
    """The customer files to deploy do not all validate; nothing was sent anywhere.

    ``diagnostics`` holds every finding of every file, so the CLI can print them all.
    """

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.diagnostics: list[Diagnostic] = list(diagnostics)


class RunnerHostKeyError(DeployError):
    """The runner host is unknown, or offered a key other than the one in known_hosts."""


class RunnerAuthError(DeployError):
    """The runner host refused the deploy user's key."""


class RunnerUnavailableError(DeployError, TransientError):
    """The runner host could not be reached, or the connection dropped: running again may work."""


class NoPreviousReleaseError(DeployError):
    """A rollback was asked for, but the host holds no release older than the current one."""
