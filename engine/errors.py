"""The one error tree of lmsync.

Every failure a user can meet is an ``LmsyncError``: one subtree per phase (config, source,
plan, apply) so the CLI can map a failure to a message and an exit code without reading its
text, and a ``transient`` marker that retry logic looks at -- never the message. Library
exceptions (requests, paramiko, gnupg, SQLAlchemy) are translated into this tree once, at
the connector boundary, with ``raise ... from exc``; they never reach the engine.

Messages are written for the Solution Architect reading them at 7 a.m.: what is wrong,
where, and how to fix it. They never contain a secret or an employee's personal data.
"""

from __future__ import annotations


class LmsyncError(Exception):
    """Root of every error lmsync raises on purpose.

    ``transient`` says whether the same call may succeed if repeated later (a 429, a 503,
    a dropped connection); retry logic keys on it and on nothing else.
    """

    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class TransientError(LmsyncError):
    """Mixin-style base: anything under it is worth retrying with backoff."""

    transient = True


class UsageError(LmsyncError):
    """The command was called wrongly (an unknown revision, a flag without its context).

    The CLI exits 2 for it, as for argparse's own usage errors, so a script can tell a wrong
    call from a failed one (exit 1).
    """


# --- configuration -------------------------------------------------------------------------


class ConfigError(LmsyncError):
    """The customer file (or a reference it holds) is unusable."""


class SecretError(ConfigError):
    """A secret reference (``env:NAME``, ``file:PATH``) cannot be resolved.

    The message names the reference, never the value.
    """


# --- source: fetching, decrypting and reading files ----------------------------------------


class SourceError(LmsyncError):
    """Listing, reading or deleting files on a source failed."""


class SourceUnavailableError(SourceError, TransientError):
    """The source could not be reached now (timeout, reset); the next run may succeed."""


class HostKeyError(SourceError):
    """The SFTP server offered a host key that is not the pinned one."""


class AuthenticationError(SourceError):
    """The source refused our credentials."""


class FileLevelError(SourceError):
    """The file as a whole is unusable: the run stops before anything is written.

    ``file`` and ``line``/``byte`` locate the problem when known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        byte: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.byte = byte

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
        elif self.byte is not None:
            where += f" (byte {self.byte})"
        text = super().__str__()
        return f"{where}: {text}" if where else text


class DecryptionError(FileLevelError):
    """The file is not decryptable with the configured key and passphrase."""


# --- planning ------------------------------------------------------------------------------


class PlanError(LmsyncError):
    """The desired state or the plan cannot be built."""


class DeletionGuardError(PlanError):
    """The plan deletes more managed users than the configuration allows.

    Nothing has been written when this is raised.
    """

    def __init__(self, message: str, *, deletions: int, allowed: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.deletions = deletions
        self.allowed = allowed


# --- applying: talking to a target ---------------------------------------------------------


class ApplyError(LmsyncError):
    """A call to a target (the LMS, Cornerstone) failed."""


class TargetError(ApplyError):
    """The target answered with an error.

    ``status`` is the HTTP status (None for network failures), ``code`` the API's error code
    (``mailAlreadyUsed``, ``tooManyRequests``...), so callers branch on data, not text.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.retry_after = retry_after


class TargetUnavailableError(TargetError, TransientError):
    """429, 5xx, timeouts and connection resets: retry with backoff."""


class RateLimitedError(TargetUnavailableError):
    """429: slow down; ``retry_after`` holds the server's hint when it gave one."""


class TargetAuthError(TargetError):
    """401/403 that a token refresh did not cure: wrong client id or secret, or no right."""


class TargetNotFoundError(TargetError):
    """404: the resource does not exist (or no longer does)."""


class TargetConflictError(TargetError):
    """400/409 with a domain code (``mailAlreadyUsed``, ``valueAlreadyUsed``...)."""


# --- running -------------------------------------------------------------------------------


class StateError(LmsyncError):
    """The state store (runs, journal, ledger, locks) is unusable."""


class LockHeldError(StateError):
    """Another run of the same customer holds the lock."""
