"""When a customer's sync fires: local wall-clock times in an IANA time zone, DST-correct.

Pure: instants in, instants out, no clock. A local time that does not exist (the spring
gap, e.g. 02:30 Europe/Paris on the last Sunday of March) fires at the first valid instant
after it (03:00 local, the moment the gap ends); a local time that happens twice (the autumn
overlap) fires once, at its first occurrence. This module must never read the clock: callers
pass the instant they mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.config.models import Schedule

#: How far around an instant fire times are computed: wide enough for any schedule (at
#: least one time a day) and any real gap or overlap (Samoa skipped a whole day in 2011).
_WINDOW_DAYS = 3


def _clock_times(times: Sequence[str]) -> list[time]:
    out = []
    for text in times:
        hours, minutes = text.split(":")
        out.append(time(int(hours), int(minutes)))
    return out


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local ``day`` ``at`` fires in ``zone``.

    Ambiguous times take the first occurrence (fold=0). Non-existent times move forward to
    the end of the gap.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In a gap, fold=0 reads the time with the offset before the change and fold=1 with the
    # offset after: the gap's end lies between the two readings. Real transitions fall on
    # whole minutes, so a minute scan finds it exactly.
    later = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(instant, later), max(instant, later)
    candidate = low.replace(second=0, microsecond=0)
    while candidate <= high:
        if candidate.astimezone(zone).replace(tzinfo=None) >= naive:
            return candidate
        candidate += timedelta(minutes=1)
    return high


def fire_times(schedule: Schedule, days: Iterable[date]) -> list[datetime]:
    """Every instant ``schedule`` fires on the given local days, sorted, without repeats."""
    zone = ZoneInfo(schedule.timezone)
    clock_times = _clock_times(schedule.times)
    return sorted({local_instant(day, at, zone) for day in days for at in clock_times})


def _days_around(instant: datetime, zone: ZoneInfo) -> list[date]:
    today = instant.astimezone(zone).date()
    return [today + timedelta(days=offset) for offset in range(-_WINDOW_DAYS, _WINDOW_DAYS + 1)]


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("schedule computations need a timezone-aware instant")
    return instant.astimezone(UTC)


def next_fire_after(schedule: Schedule, after: datetime) -> datetime:
    """The first instant strictly after ``after`` at which ``schedule`` fires (UTC)."""
    after = _utc(after)
    zone = ZoneInfo(schedule.timezone)
    return next(instant for instant in fire_times(schedule, _days_around(after, zone)) if instant > after)


def latest_fire_at_or_before(schedule: Schedule, at: datetime) -> datetime:
    """The most recent instant at or before ``at`` at which ``schedule`` fired (UTC).

    The runner compares it with the last instant it handled: whatever the number of slots
    missed while it was down, a customer is behind by one run, not by N.
    """
    at = _utc(at)
    zone = ZoneInfo(schedule.timezone)
    return [instant for instant in fire_times(schedule, _days_around(at, zone)) if instant <= at][-1]
