"""Shared pieces of the runner tests: a clock tests move by hand and customer files."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

from engine.runner.policy import RetryPolicy

CUSTOMER_YAML = """\
version: 1
customer: {slug}
environments:
  test:
    lms: {{url: "http://127.0.0.1:8360", client_id: "env:T_ID", client_secret: "env:T_SECRET"}}
  production:
    lms: {{url: "http://127.0.0.1:8361", client_id: "env:P_ID", client_secret: "env:P_SECRET"}}
hris:
  source: {{type: folder, path: inbox}}
  group: "g{slug}"
  admin: sa@example.com
  schedule: {{times: [{times}], timezone: Europe/Paris}}
  notify: [{notify}]
"""


class SettingsFields(TypedDict, total=False):
    """``RunnerSettings`` fields a test may set; the others keep the runner's defaults."""

    environment: str
    max_workers: int
    lock_ttl: timedelta
    heartbeat_interval: float | None
    policy: RetryPolicy


def write_customer(folder: Path, slug: str, *, times: str = '"06:30", "23:30"', notify: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    path.write_text(CUSTOMER_YAML.format(slug=slug, times=times, notify=notify), encoding="utf-8")
    return path


class ManualClock:
    """A clock that only moves when the test says so (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
