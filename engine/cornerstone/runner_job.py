"""The daily completions push as the runner runs it: a ``Job`` per customer, once a day.

The runner schedules it at ``cornerstone.completions.time`` in ``completions.timezone``
(``completions_schedule``) and calls ``CompletionsJob(config, environment, context)``. A run
pushes every local day since the last run that succeeded, up to yesterday (at most
``MAX_CATCH_UP_DAYS``): a runner that was down, or a run that failed, never leaves a day
behind, and the ledger keeps a day pushed twice from sending anything twice. A learner whose
push failed fails the run, so the retry covers that day again; learners who cannot be
matched (no external id, no Cornerstone employee) are reported, never fatal.

This is where the runner's world meets the connectors: it resolves the LMS and portal
secrets, opens the clients and the ledger, and closes them. The report rows carry LMS ids
only, never names or e-mails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.lms_adapter import LmsCourseSource, lms_client
from engine.config.models import Completions, CustomerConfig, Schedule
from engine.cornerstone.completions import previous_day
from engine.cornerstone.job import CompletionsRun, run_completions
from engine.cornerstone.ledger import DEFAULT_LEDGER, CompletionLedger
from engine.runner.context import RunContext, RunOutcome
from engine.runner.runner import DailyJob

#: The ``kind`` of its runs in the state store (``lmsync runs`` shows it).
KIND = "cornerstone-completions"
#: Environment variable naming the ledger file for ``run`` (default ``DEFAULT_LEDGER``).
LEDGER_ENV = "LMSYNC_CORNERSTONE_LEDGER"
#: Days a run goes back at most to catch up on missed ones.
MAX_CATCH_UP_DAYS = 14


def completions_schedule(config: CustomerConfig) -> Schedule | None:
    """When the runner pushes this customer's completions, or None when it does not."""
    section = config.cornerstone.completions if config.cornerstone else None
    if section is None or not section.enabled:
        return None
    return Schedule(times=[section.time], timezone=section.timezone)


def days_to_push(
    last_success: datetime | None, now: datetime, timezone: str, *, max_days: int = MAX_CATCH_UP_DAYS
) -> list[date]:
    """The local days a run at ``now`` covers: after the last successful run's, to yesterday."""
    yesterday = previous_day(now, timezone)
    first = yesterday if last_success is None else previous_day(last_success, timezone) + timedelta(days=1)
    first = max(first, yesterday - timedelta(days=max_days - 1))
    return [first + timedelta(days=n) for n in range((yesterday - first).days + 1)]


@dataclass
class _Tally:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("days", "pushed", "already_pushed", "in_progress", "unmatched", "failed"), 0
        )
    )
    rows: list[dict[str, object]] = field(default_factory=list)

    def add(self, day: date, run: CompletionsRun) -> None:
        report = run.report
        assert report is not None  # the runner never dry-runs
        stamp = day.isoformat()
        self.counts["days"] += 1
        self.counts["pushed"] += len(report.pushed)
        self.counts["already_pushed"] += report.already_pushed
        self.counts["in_progress"] += report.progressed
        self.counts["unmatched"] += len(report.unmatched)
        self.counts["failed"] += len(report.failed)
        self.rows += [
            {"day": stamp, "course": k.course_id, "user": k.user_id, "outcome": "pushed"}
            for k in report.pushed
        ]
        self.rows += [
            {
                "day": stamp,
                "course": u.course_id,
                "user": u.user_id,
                "outcome": "not_pushed",
                "reason": u.reason,
            }
            for u in report.unmatched
        ]
        self.rows += [
            {"day": stamp, "course": course, "user": user, "outcome": "failed", "reason": reason}
            for course, user, reason in report.failed
        ]


def _last_success(context: RunContext) -> datetime | None:
    runs = context.store.list_runs(context.customer, limit=200)
    done = [
        r.started_at for r in runs if r.kind == KIND and r.status == "succeeded" and r.id != context.run_id
    ]
    return max(done, default=None)


class CompletionsJob:
    """The runner's ``Job`` for one ledger file (shared by every customer, keyed by customer)."""

    def __init__(
        self,
        ledger_path: Path | str = DEFAULT_LEDGER,
        *,
        max_catch_up_days: int = MAX_CATCH_UP_DAYS,
    ) -> None:
        self.ledger_path = ledger_path
        self.max_catch_up_days = max_catch_up_days

    def __call__(self, config: CustomerConfig, environment: str, context: RunContext) -> RunOutcome:
        settings = config.cornerstone.completions if config.cornerstone else None
        if settings is None or not settings.enabled:
            return RunOutcome(status="skipped", error="cornerstone.completions is not enabled")
        endpoint = config.environments[environment].cornerstone
        if endpoint is None:
            return RunOutcome(
                status="failed",
                error=f"environment '{environment}' has no cornerstone endpoint: add "
                f"environments.{environment}.cornerstone to {config.customer}'s file",
            )
        days = days_to_push(
            _last_success(context), context.now(), settings.timezone, max_days=self.max_catch_up_days
        )
        if not days:
            return RunOutcome(status="skipped", counts={"days": 0})
        # file: secret references are relative to the customer file, as everywhere.
        base_dir = context.config_path.parent if context.config_path is not None else None
        portal = CornerstoneClient.from_endpoint(endpoint, base_dir=base_dir)
        try:
            with lms_client(config.environments[environment].lms, base_dir) as lms:
                source = LmsCourseSource(lms)
                return self._push(
                    config.customer, settings, days, source=source, portal=portal, context=context
                )
        finally:
            portal.close()

    def _push(
        self,
        customer: str,
        settings: Completions,
        days: list[date],
        *,
        source: LmsCourseSource,
        portal: CornerstoneClient,
        context: RunContext,
    ) -> RunOutcome:
        tally = _Tally()
        ledger = CompletionLedger(self.ledger_path)
        try:
            for day in days:
                if context.stop_requested():
                    return RunOutcome(status="interrupted", counts=tally.counts, report=tally.rows)
                run = run_completions(
                    customer=customer,
                    settings=settings,
                    source=source,
                    ids=source,
                    target=portal,
                    ledger=ledger,
                    reporter=context.reporter,
                    now=context.now(),
                    day=day,
                )
                tally.add(day, run)
        finally:
            ledger.close()
        first, last = days[0].isoformat(), days[-1].isoformat()
        covered = first if first == last else f"{first} to {last}"
        problems = [
            f"{r['outcome']}: course {r['course']}, learner {r['user']} ({r['reason']})"
            for r in tally.rows
            if r["outcome"] != "pushed"
        ]
        if tally.counts["failed"]:
            return RunOutcome(
                status="failed",
                counts=tally.counts,
                error=f"{tally.counts['failed']} completion(s) of {covered} could not be pushed; "
                "the retry covers those days again",
                report=tally.rows,
                problems=problems,
            )
        return RunOutcome(status="succeeded", counts=tally.counts, report=tally.rows, problems=problems)


def run(config: CustomerConfig, environment: str, context: RunContext) -> RunOutcome:
    """The ``Job``: with the ledger at ``$LMSYNC_CORNERSTONE_LEDGER``, else ``DEFAULT_LEDGER``."""
    return CompletionsJob(os.environ.get(LEDGER_ENV) or DEFAULT_LEDGER)(config, environment, context)


def daily_job(ledger_path: Path | str = DEFAULT_LEDGER) -> DailyJob:
    """What the runner needs to push every customer's completions daily."""
    return DailyJob(KIND, CompletionsJob(ledger_path), completions_schedule)
