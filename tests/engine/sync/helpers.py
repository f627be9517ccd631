"""A customer whose HRIS files land in a local folder (or on sshd), synced into a sandbox.

``SyncWorld`` holds a fresh sandbox LMS (real HTTP) with the synchronized group ``Acme``, a
SQLite state store in ``tmp_path``, the customer file ``customers/acme.yaml`` (written as
JSON, which is YAML) and its ``inbox`` folder. ``drop`` puts a file in the inbox with a
chosen age; ``sync`` runs ``sync_files`` as one recorded run; ``managed`` reads the LMS
back as ``uniqueId → user``. ``StopAfter`` is a reporter that stops a run at a chosen step.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.config.loader import load_config
from engine.config.models import CustomerConfig
from engine.console import Progress, Reporter, SilentReporter
from engine.state import StateStore
from engine.sync import SyncOutcome, sync_files
from tests.fixtures.sandbox import SandboxHandle

ROOT = "acme-root"
PLATFORM = "lmsync-hris"
ID_ENV, SECRET_ENV = "ACME_SYNC_LMS_ID", "ACME_SYNC_LMS_SECRET"
HEADER = "uniqueId,status,email,firstName,lastName,title"


def people(*rows: tuple[str, str] | tuple[str, str, str]) -> bytes:
    """A CSV of ``(uniqueId, title[, status])`` rows; e-mail and names derive from the id."""
    lines = [HEADER]
    for uid, title, *status in rows:
        lines.append(
            f"{uid},{status[0] if status else 'Active'},u{uid}@acme.example,First{uid},Last{uid},{title}"
        )
    return ("\n".join(lines) + "\n").encode()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncWorld:
    sandbox: SandboxHandle
    root: Path
    store: StateStore
    state_url: str
    hris: dict[str, Any] = field(default_factory=dict)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def config_path(self) -> Path:
        return self.root / "customers" / "acme.yaml"

    def config_data(self) -> dict[str, Any]:
        return {
            "version": 1,
            "customer": "acme",
            "environments": {
                "test": {
                    "lms": {
                        "url": self.sandbox.url,
                        "client_id": f"env:{ID_ENV}",
                        "client_secret": f"env:{SECRET_ENV}",
                    }
                }
            },
            "hris": {
                "source": {"type": "folder", "path": "../inbox"},
                "file": {"prefix": "hris", "extension": "csv", "settle_seconds": 0},
                "group": ROOT,
                "admin": "sa@acme.example",
                "silent": True,
                "platform": PLATFORM,
                "fields": {"firstName": "first_name", "lastName": "last_name", "title": "title"},
                **self.hris,
            },
        }

    def write_config(self, **hris: Any) -> Path:
        """(Re)write the customer file, with ``hris`` keys replacing the defaults."""
        self.hris.update(hris)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config_data(), indent=2), encoding="utf-8")
        return self.config_path

    def config(self) -> CustomerConfig:
        return load_config(self.config_path)

    def drop(self, name: str, data: bytes, *, minutes_ago: float, folder: Path | None = None) -> Path:
        """Upload ``name`` as if it arrived ``minutes_ago`` minutes ago (its mtime)."""
        path = (folder or self.inbox) / name
        path.write_bytes(data)
        stamp = (utcnow() - timedelta(minutes=minutes_ago)).timestamp()
        os.utime(path, (stamp, stamp))
        return path

    def sync(
        self,
        *,
        run_id: str | None = None,
        now: datetime | None = None,
        stop_event: threading.Event | None = None,
        reporter: Reporter | None = None,
        allow_deletions: int | None = None,
    ) -> tuple[str, SyncOutcome]:
        """One run over the inbox (a new run unless ``run_id`` is given); ``now`` fixes the clock."""
        run_id = run_id or self.store.start_run("acme", "test", "hris", now=utcnow())
        outcome = sync_files(
            self.config(),
            "test",
            store=self.store,
            run_id=run_id,
            base_dir=self.config_path.parent,
            reporter=reporter or SilentReporter(),
            now=(lambda: now) if now is not None else utcnow,
            allow_deletions=allow_deletions,
            stop_event=stop_event,
        )
        return run_id, outcome

    def managed(self) -> dict[str, dict[str, Any]]:
        """uniqueId → LMS user, through the connector's external ids."""
        state = self.sandbox.admin.state()
        users = {u["_id"]: u for u in state["users"]}
        return {e["value"]: users[e["targetId"]] for e in state["externalIds"] if e["platform"] == PLATFORM}

    def writes(self) -> list[dict[str, Any]]:
        return self.sandbox.admin.write_requests()


def make_world(sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SyncWorld:
    monkeypatch.setenv(ID_ENV, sandbox.client_id)
    monkeypatch.setenv(SECRET_ENV, sandbox.client_secret)
    sandbox.admin.seed(groups=[{"_id": ROOT, "name": "Acme", "parentId": sandbox.platform_group_id}])
    state_url = f"sqlite:///{tmp_path / 'state' / 'state.sqlite'}"
    world = SyncWorld(sandbox, tmp_path, StateStore.open(state_url), state_url)
    world.inbox.mkdir()
    world.write_config()
    return world


@dataclass
class _Bar:
    owner: StopAfter
    target: bool
    done: int = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.target and self.done >= self.owner.steps:
            self.owner.stop.set()


@dataclass
class StopAfter:
    """A reporter that asks the run to stop once the ``bar``-th progress bar (one per applied
    file) has advanced ``steps`` times: a SIGTERM at a chosen point of the apply."""

    stop: threading.Event
    bar: int
    steps: int
    bars: int = 0
    messages: list[str] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append(message)

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Progress]:
        self.bars += 1
        yield _Bar(self, self.bars == self.bar)
