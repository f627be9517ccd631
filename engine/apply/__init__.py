"""Apply an HRIS file to the LMS: read, snapshot, plan, then execute the plan, journaled.

Work in progress: the signature below is the contract the sync pipeline calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.hris.plan import Plan
from engine.state.store import StateStore

if TYPE_CHECKING:
    from connectors.lms.target import LmsTarget


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FileOutcome:
    status: Literal["succeeded", "failed", "interrupted"]
    plan: Plan
    counts: dict[str, int]
    report: list[dict[str, object]]
    problems: list[str]


def apply_hris_file(
    config: CustomerConfig,
    environment: str,
    data: bytes,
    *,
    file_name: str,
    store: StateStore,
    run_id: str,
    reporter: Reporter,
    allow_deletions: int | None = None,
    journal_prefix: str = "",
    stop_requested: Callable[[], bool] = lambda: False,
    now: Callable[[], datetime] = _utc_now,
    target: LmsTarget | None = None,
) -> FileOutcome:
    raise NotImplementedError("apply_hris_file is being written (brief A)")


def write_run_log(directory: Path, run_id: str, outcome: FileOutcome) -> tuple[Path, Path]:
    raise NotImplementedError("write_run_log is being written (brief A)")
