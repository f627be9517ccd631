"""Release names, runner addresses and the choice of what to keep: the pure part of a deploy.

A runner host holds ``<path>/releases/<timestamp>-<sha12>/`` folders and a ``current`` link to
one of them. Every decision about that history -- the next release's name, which release a
rollback returns to, which ones a deploy may prune -- is taken here from plain values, so it
is the same on every host and testable without one. Names sort by time: the UTC timestamp
comes first and has a fixed width.

This module must never touch a disk, a network or the clock (the time is given to it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.deploy.errors import DeployError

#: ``20250115T063000Z-0123456789ab``: a UTC time to the second and the commit's first 12 digits.
RELEASE_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<sha>[0-9a-f]{12})$")
_SHA = re.compile(r"^[0-9a-f]{12,64}$")
#: The file in each release holding the deployed commit id (what ``lmsync runs`` users ask for).
REVISION_FILE = "REVISION"
DEFAULT_KEEP = 5


def normalize_sha(sha: str) -> str:
    """A commit id as given by ``--sha`` or git, lower-cased; refused if it is not one."""
    value = sha.strip().lower()
    if not _SHA.match(value):
        raise DeployError(
            f"--sha {sha!r} is not a commit id",
            hint='give the full hexadecimal commit id, e.g. --sha "$GITHUB_SHA" (at least 12 digits)',
        )
    return value


def release_name(now: datetime, sha: str) -> str:
    """The folder name of the release of commit ``sha`` made at ``now`` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("release_name needs a timezone-aware time")
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{normalize_sha(sha)[:12]}"


def is_release_name(name: str) -> bool:
    return RELEASE_NAME.match(name) is not None


def releases_among(names: Iterable[str]) -> list[str]:
    """The release folders among a listing, oldest first (anything else there is ignored)."""
    return sorted(name for name in names if is_release_name(name))


def _stamp(name: str) -> str:
    match = RELEASE_NAME.match(name)
    if match is None:
        raise ValueError(f"not a release name: {name!r}")
    return match["stamp"]


def check_is_newest(name: str, releases: Sequence[str], host: str) -> None:
    """Refuse a release that would not sort after every release already on the host.

    The current release is always the newest one (a rollback removes the release it leaves),
    so "previous" can be read from the order of the names; a deploy made in the same second
    as the last one, or from a machine whose clock is behind, would break that.
    """
    newer = [r for r in releases if _stamp(r) >= _stamp(name)]
    if newer:
        raise DeployError(
            f"{host}: release {newer[-1]} is not older than this deploy's release {name}",
            hint="deploy again in a second; if it persists, check this machine's clock (UTC)",
        )


def previous_release(releases: Sequence[str], current: str | None) -> str | None:
    """The release just before ``current``: where a rollback goes, and what a deploy keeps."""
    if current is None:
        return None
    older = [r for r in releases_among(releases) if r < current]
    return older[-1] if older else None


def releases_to_prune(releases: Sequence[str], current: str | None, keep: int) -> list[str]:
    """Releases beyond the newest ``keep``, oldest first; never ``current`` nor the one before it."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    ordered = releases_among(releases)
    kept = set(ordered[-keep:])
    kept.update(r for r in (current, previous_release(ordered, current)) if r is not None)
    return [r for r in ordered if r not in kept]


@dataclass(frozen=True)
class RunnerAddress:
    """Who to log in as on which runner host: ``user@host[:port]``."""

    user: str
    host: str
    port: int = 22

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" + ("" if self.port == 22 else f":{self.port}")

    @property
    def known_hosts_name(self) -> str:
        """How OpenSSH names this host in known_hosts (``[host]:port`` off port 22)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


_ADDRESS = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^@:\s\[\]]+))(?::(?P<port>\d+))?$"
)


def parse_address(text: str, *, default_port: int = 22, default_user: str | None = None) -> RunnerAddress:
    """``user@host``, ``user@host:2222`` or ``user@[::1]:2222``; refused with the accepted forms."""
    match = _ADDRESS.match(text.strip())
    port_text = match["port"] if match else None
    port = int(port_text) if port_text else default_port
    if match is None or not 0 < port < 65536:
        raise DeployError(
            f"--host {text!r} is not user@host[:port]",
            hint="for example --host deploy@runner.internal or --host deploy@10.0.0.5:2222",
        )
    user = match["user"] or default_user
    if not user:
        raise DeployError(f"--host {text!r} names no user", hint=f"write it as deploy@{text}")
    return RunnerAddress(user=user, host=match["v6"] or match["host"], port=port)
