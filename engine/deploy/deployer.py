"""Deploying a release to runner hosts, and rolling back: the order of the steps and their undo.

On each host: read its releases, upload the new one (all or nothing), switch ``current`` to
it atomically, then prune what ``--keep`` no longer covers. The switch is the commit point:
before it the runner still reads the previous release untouched, and any failure removes the
new release again; after it the deploy has happened, and a failed prune is only a warning.
A rollback switches back to the release before the current one and removes the release it
left, so the current release is always the newest and "previous" always means the one
before it. Hosts are independent: one failing is reported and the others still proceed.

This module must never talk to a host except through ``RunnerHost``, nor print: it reports
through a ``Reporter`` and returns one ``HostOutcome`` per host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engine.console import Reporter
from engine.deploy.bundle import Bundle
from engine.deploy.errors import DeployError, NoPreviousReleaseError
from engine.deploy.host import RunnerHost
from engine.deploy.release import (
    DEFAULT_KEEP,
    check_is_newest,
    previous_release,
    release_name,
    releases_to_prune,
)
from engine.errors import LmsyncError


@dataclass(frozen=True)
class HostOutcome:
    """What happened on one host. ``release`` is what ``current`` now names when it succeeded."""

    host: str
    release: str | None = None
    replaced: str | None = None
    removed: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def deploy(
    bundle: Bundle,
    hosts: Sequence[RunnerHost],
    *,
    now: datetime,
    reporter: Reporter,
    keep: int = DEFAULT_KEEP,
) -> tuple[str, list[HostOutcome]]:
    """Deploy ``bundle`` as one release, named the same on every host; return it and each outcome."""
    if keep < 1:
        raise DeployError(f"--keep {keep}: keep at least 1 release", hint="the default is --keep 5")
    name = release_name(now, bundle.sha)
    outcomes: list[HostOutcome] = []
    for host in hosts:
        try:
            outcomes.append(_deploy_one(host, name, bundle, keep, reporter))
        except LmsyncError as exc:
            outcomes.append(_failed(host, "deploy", exc, reporter))
    return name, outcomes


def _failed(host: RunnerHost, what: str, exc: LmsyncError, reporter: Reporter) -> HostOutcome:
    where = host.describe()
    # Errors name their host so they read alone; the outcome is already about that host.
    reason = str(exc).removeprefix(f"{where}: ")
    reporter.warn(f"{where}: {what} failed: {reason}")
    return HostOutcome(where, error=reason)


def _deploy_one(host: RunnerHost, name: str, bundle: Bundle, keep: int, reporter: Reporter) -> HostOutcome:
    where = host.describe()
    with host:
        state = host.state()
        check_is_newest(name, state.releases, where)
        reporter.info(f"{where}: uploading release {name} ({len(bundle.files)} customer file(s))")
        host.upload_release(name, bundle.release_files())
        _switch_or_withdraw(host, name, reporter)
        was = state.current_target if state.current is None else state.current
        reporter.info(f"{where}: current -> {name}" + (f" (was {was})" if was else " (first release)"))
        releases = (*state.releases, name)
        removed = _remove(host, releases_to_prune(releases, name, keep), reporter)
        return HostOutcome(where, release=name, replaced=state.current, removed=removed)


def _switch_or_withdraw(host: RunnerHost, name: str, reporter: Reporter) -> None:
    """Switch ``current`` to the new release; if that fails, take the release away again.

    A switch that failed on a dropped connection may still have happened: the host is read
    again first, so a release that ``current`` does name is never removed.
    """
    where = host.describe()
    try:
        host.switch_current(name)
        return
    except LmsyncError as exc:
        failure = exc
    try:
        after = host.state()
    except LmsyncError as exc:
        raise DeployError(
            f"{where}: switching current to {name} failed ({failure}), and the host could not be read "
            "again to see whether it happened",
            hint="look at where the current link points on the host (ls -l), then run the deploy again",
        ) from exc
    if after.current == name:
        reporter.warn(f"{where}: the switch reported a failure ({failure}) but current does name {name}")
        return
    _remove(host, [name], reporter)
    raise failure


def _remove(host: RunnerHost, names: Sequence[str], reporter: Reporter) -> tuple[str, ...]:
    removed: list[str] = []
    for release in names:
        try:
            host.remove_release(release)
            removed.append(release)
        except LmsyncError as exc:
            reporter.warn(f"{host.describe()}: could not remove release {release}: {exc}")
    if removed:
        reporter.info(f"{host.describe()}: removed {', '.join(removed)}")
    return tuple(removed)


def rollback(hosts: Sequence[RunnerHost], *, reporter: Reporter) -> list[HostOutcome]:
    """On each host, point ``current`` back at the release before it; return each outcome."""
    outcomes: list[HostOutcome] = []
    for host in hosts:
        try:
            outcomes.append(_rollback_one(host, reporter))
        except LmsyncError as exc:
            outcomes.append(_failed(host, "rollback", exc, reporter))
    return outcomes


def _rollback_one(host: RunnerHost, reporter: Reporter) -> HostOutcome:
    where = host.describe()
    with host:
        state = host.state()
        if state.current is None:
            if state.current_target is not None:
                raise DeployError(
                    f"{where}: current points at {state.current_target!r}, not at a release a deploy "
                    "made; there is no release history to roll back in",
                    hint="deploy the wanted commit instead",
                )
            raise NoPreviousReleaseError(
                f"{where}: nothing is deployed there (no current link)",
                hint="check --path; deploy first",
            )
        target = previous_release(state.releases, state.current)
        if target is None:
            raise NoPreviousReleaseError(
                f"{where}: {state.current} is the only release there; there is nothing to roll back to",
                hint="to go further back, deploy the wanted commit: lmsync deploy --sha SHA",
            )
        host.switch_current(target)
        reporter.info(f"{where}: current -> {target} (rolled back from {state.current})")
        # Everything after the release returned to is withdrawn, so the current release is
        # again the newest one and the next deploy or rollback reads "previous" right.
        abandoned = [r for r in state.releases if r > target]
        removed = _remove(host, abandoned, reporter)
        return HostOutcome(where, release=target, replaced=state.current, removed=removed)
