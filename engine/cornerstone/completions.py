"""Planning the daily completions push: which LMS completions Cornerstone has yet to receive.

Every day the job takes the completions of the previous *local* day of the customer (its
time zone, so a 23- or 25-hour day around a DST change is still exactly one day), drops the
ones the ledger says were already pushed, and turns the rest into a push list. A learner
without an external id cannot be matched to a Cornerstone employee: it is reported, never
fatal, so one unmatched learner does not hold back everyone else's transcripts.

This module is pure: no clock (``now`` is a parameter), no I/O, no secrets. Applying the
plan lives in ``engine.cornerstone.push``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from engine.cornerstone.catalog import feed_id
from engine.cornerstone.ports import CourseStat


@dataclass(frozen=True)
class DayWindow:
    """One local calendar day as a half-open UTC interval ``[start, end)``."""

    day: date
    timezone: str
    start: datetime
    end: datetime


def day_window(day: date, timezone: str) -> DayWindow:
    """The UTC bounds of ``day`` in ``timezone``; DST days are 23 or 25 hours long."""
    zone = ZoneInfo(timezone)

    def local_midnight(d: date) -> datetime:
        # A midnight that does not exist (a DST gap at 00:00) maps, with fold=0, onto the
        # first instant of the day: round-tripping through UTC normalises it.
        return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)

    return DayWindow(day, timezone, local_midnight(day), local_midnight(day + timedelta(days=1)))


def previous_day(now: datetime, timezone: str) -> date:
    """Yesterday in the customer's time zone, as seen at ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


@dataclass(frozen=True)
class LedgerKey:
    """What identifies one pushed completion: a re-run with the same key pushes nothing."""

    customer: str
    course_id: str
    user_id: str
    completed_at: str  # ISO 8601 UTC, second precision

    @staticmethod
    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PushCompletion:
    """Complete ``learning_object_id`` on the transcript of the employee ``external_id``."""

    key: LedgerKey
    learning_object_id: str
    external_id: str
    completed_at: datetime


@dataclass(frozen=True)
class PushProgress:
    """Mark the learner's assignment of ``learning_object_id`` in progress."""

    course_id: str
    user_id: str
    learning_object_id: str
    external_id: str
    last_activity_at: datetime


UnmatchedReason = Literal["no_external_id", "no_employee"]


@dataclass(frozen=True)
class UnmatchedLearner:
    """A learner whose statistics cannot reach Cornerstone; ids only, never an e-mail."""

    course_id: str
    user_id: str
    reason: UnmatchedReason


@dataclass(frozen=True)
class CompletionPlan:
    window: DayWindow
    completions: tuple[PushCompletion, ...]
    progress: tuple[PushProgress, ...]
    unmatched: tuple[UnmatchedLearner, ...]
    already_pushed: int

    @property
    def is_empty(self) -> bool:
        return not self.completions and not self.progress


def _within(moment: datetime | None, window: DayWindow) -> bool:
    return moment is not None and window.start <= moment < window.end


def plan_completions(
    *,
    customer: str,
    window: DayWindow,
    stats: Iterable[CourseStat],
    external_ids: Mapping[str, str],
    pushed: Collection[LedgerKey],
    in_progress: bool = False,
) -> CompletionPlan:
    """The push list for ``window``: completions not in ``pushed``, plus in-progress updates.

    Stats outside the window are ignored even if the source returned them (a source that
    filters loosely must not make us push tomorrow's completions twice). The result is
    sorted, so the same inputs always give the same plan.
    """
    completions: dict[LedgerKey, PushCompletion] = {}
    progress: dict[tuple[str, str], PushProgress] = {}
    unmatched: dict[tuple[str, str], UnmatchedLearner] = {}
    already = 0
    for stat in stats:
        completed = _within(stat.completed_at, window)
        active = in_progress and stat.completed_at is None and _within(stat.last_activity_at, window)
        if not completed and not active:
            continue
        external_id = external_ids.get(stat.user_id)
        if not external_id:
            unmatched[(stat.course_id, stat.user_id)] = UnmatchedLearner(
                stat.course_id, stat.user_id, "no_external_id"
            )
            continue
        if completed:
            assert stat.completed_at is not None
            key = LedgerKey(customer, stat.course_id, stat.user_id, LedgerKey.stamp(stat.completed_at))
            if key in pushed:
                already += 1
                continue
            completions[key] = PushCompletion(key, feed_id(stat.course_id), external_id, stat.completed_at)
        else:
            assert stat.last_activity_at is not None
            current = progress.get((stat.course_id, stat.user_id))
            if current is None or current.last_activity_at < stat.last_activity_at:
                progress[(stat.course_id, stat.user_id)] = PushProgress(
                    stat.course_id, stat.user_id, feed_id(stat.course_id), external_id, stat.last_activity_at
                )
    # A learner who completed today needs no in-progress update for the same course.
    done = {(c.key.course_id, c.key.user_id) for c in completions.values()}
    return CompletionPlan(
        window=window,
        completions=tuple(sorted(completions.values(), key=lambda c: (c.key.course_id, c.key.user_id))),
        progress=tuple(p for key, p in sorted(progress.items()) if key not in done),
        unmatched=tuple(unmatched[key] for key in sorted(unmatched)),
        already_pushed=already,
    )
