"""The daily completions job of one customer: read the day's stats, plan, push, record.

One call per run: the runner calls it at ``cornerstone.completions.time`` local time, the
CLI calls it on demand (``--day`` to replay a given day, ``--dry-run`` to only plan). It
wires the protocols together and holds no state of its own; the ledger is what makes a
second run of the same day push nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from engine.config.models import Completions
from engine.console import Reporter
from engine.cornerstone.completions import (
    CompletionPlan,
    LedgerKey,
    day_window,
    plan_completions,
    previous_day,
)
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CornerstoneTarget, CourseSource, ExternalIdLookup
from engine.cornerstone.push import PushReport, push_completions


@dataclass(frozen=True)
class CompletionsRun:
    plan: CompletionPlan
    report: PushReport | None  # None for a dry run


def run_completions(
    *,
    customer: str,
    settings: Completions,
    source: CourseSource,
    ids: ExternalIdLookup,
    target: CornerstoneTarget | None,
    ledger: CompletionLedger,
    reporter: Reporter,
    now: datetime,
    day: date | None = None,
    dry_run: bool = False,
) -> CompletionsRun:
    """Push the completions of ``day`` (default: yesterday in ``settings.timezone``)."""
    window = day_window(day or previous_day(now, settings.timezone), settings.timezone)
    stats = list(source.iter_course_stats(window.start, window.end))
    external_ids = ids.external_ids(settings.platform, sorted({s.user_id for s in stats}))
    pushed = ledger.pushed(customer, since=LedgerKey.stamp(window.start))
    plan = plan_completions(
        customer=customer,
        window=window,
        stats=stats,
        external_ids=external_ids,
        pushed=pushed,
        in_progress=settings.in_progress,
    )
    reporter.info(
        f"{customer}: {window.day.isoformat()} ({window.timezone}): "
        f"{len(plan.completions)} completion(s) to push, "
        f"{plan.already_pushed} already pushed, {len(plan.progress)} in-progress update(s), "
        f"{len(plan.unmatched)} learner(s) without external id"
    )
    if dry_run or target is None:
        return CompletionsRun(plan, None)
    report = push_completions(plan, target, ledger, reporter)
    reporter.info(f"{customer}: {report.summary()}")
    return CompletionsRun(plan, report)
