"""What the runner hands a job, and what a job hands back.

The runner does not know how a sync works: it calls a job function
``job(config, environment, context) -> RunOutcome``. The context carries the run id to
journal under, the store, the clock, and — when the run completes an interrupted one — the
unfinished run, whose journal tells the job what is already done. A job must poll
``context.stop_requested()`` between actions and return an ``interrupted`` outcome when it
is set: the runner is shutting down or lost the customer's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.runner.clock import Clock
from engine.state import RunRecord, StateStore

OutcomeStatus = Literal["succeeded", "failed", "skipped", "interrupted"]


@dataclass(frozen=True)
class RunOutcome:
    """How a job's run ended.

    ``report`` holds the per-user rows (line, unique_id, outcome, reason...) stored as the
    run's downloadable log; the recap e-mail masks them. ``problems`` are short lines for the
    recap, already free of personal data.
    """

    status: OutcomeStatus
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    report: Sequence[Mapping[str, object]] = ()
    problems: Sequence[str] = ()
    file_name: str | None = None
    file_sha256: str | None = None


@dataclass
class RunContext:
    """One run's handle on the world, given to the job by the runner."""

    run_id: str
    customer: str
    environment: str
    kind: str
    store: StateStore
    clock: Clock
    reporter: Reporter
    #: The interrupted run this run completes (same id as ``run_id``), or None for a new run.
    resumed: RunRecord | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    #: The customer file the configuration came from: relative paths and ``file:`` secrets in
    #: it start at its folder. None when the configuration was not read from a file.
    config_path: Path | None = None

    @property
    def resuming(self) -> bool:
        return self.resumed is not None

    def now(self) -> datetime:
        return self.clock.now()

    def stop_requested(self) -> bool:
        """True once the job should journal and return ``interrupted`` as soon as it can."""
        return self.stop_event.is_set()

    def request_stop(self) -> None:
        self.stop_event.set()


#: A job: runs one customer's sync in one environment under the runner's lock.
Job = Callable[[CustomerConfig, str, RunContext], RunOutcome]
