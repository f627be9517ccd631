"""Schedules fire at local wall-clock times across DST changes (pure, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.config.models import Schedule
from engine.runner.schedule import fire_times, latest_fire_at_or_before, next_fire_after

PARIS = ZoneInfo("Europe/Paris")
DEFAULT = Schedule()  # 06:30 and 23:30 Europe/Paris


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # winter (UTC+1): 06:30 Paris is 05:30 UTC
        (utc(2025, 1, 15, 0, 0), utc(2025, 1, 15, 5, 30)),
        # the day before spring forward (Sat 29 March 2025), then the day itself, then after
        (utc(2025, 3, 29, 0, 0), utc(2025, 3, 29, 5, 30)),
        (utc(2025, 3, 29, 23, 0), utc(2025, 3, 30, 4, 30)),
        (utc(2025, 3, 31, 0, 0), utc(2025, 3, 31, 4, 30)),
        # summer (UTC+2): 06:30 Paris is 04:30 UTC, 23:30 Paris is 21:30 UTC
        (utc(2025, 7, 1, 4, 30), utc(2025, 7, 1, 21, 30)),
        # autumn back (Sun 26 October 2025): the day before, the day itself, the day after
        (utc(2025, 10, 25, 0, 0), utc(2025, 10, 25, 4, 30)),
        (utc(2025, 10, 25, 22, 0), utc(2025, 10, 26, 5, 30)),
        (utc(2025, 10, 27, 0, 0), utc(2025, 10, 27, 5, 30)),
    ],
)
def test_0630_paris_across_both_dst_changes(after: datetime, expected: datetime) -> None:
    fired = next_fire_after(DEFAULT, after)
    assert fired == expected
    assert fired.astimezone(PARIS).strftime("%H:%M") in {"06:30", "23:30"}


def test_every_0630_of_a_year_is_0630_local() -> None:
    schedule = Schedule(times=["06:30"], timezone="Europe/Paris")
    instant = utc(2025, 1, 1, 0, 0)
    seen = 0
    while (instant := next_fire_after(schedule, instant)) < utc(2026, 1, 1, 0, 0):
        assert instant.astimezone(PARIS).strftime("%H:%M") == "06:30"
        seen += 1
    assert seen == 365


def test_nonexistent_time_fires_at_end_of_spring_gap() -> None:
    schedule = Schedule(times=["02:30"], timezone="Europe/Paris")
    fired = next_fire_after(schedule, utc(2025, 3, 29, 12, 0))
    assert fired == utc(2025, 3, 30, 1, 0)  # 03:00 CEST, the first valid instant after 02:30
    assert fired.astimezone(PARIS).strftime("%H:%M") == "03:00"
    assert next_fire_after(schedule, fired) == utc(2025, 3, 31, 0, 30)


def test_ambiguous_autumn_time_fires_once() -> None:
    schedule = Schedule(times=["02:30"], timezone="Europe/Paris")
    day = fire_times(schedule, [datetime(2025, 10, 26).date()])
    assert day == [utc(2025, 10, 26, 0, 30)]  # the first 02:30 (CEST); not again an hour later
    assert next_fire_after(schedule, utc(2025, 10, 26, 0, 30)) == utc(2025, 10, 27, 1, 30)


def test_latest_fire_after_long_downtime_is_one_slot() -> None:
    # Down from Monday 05:00 UTC to Thursday 10:00 UTC: six slots passed, one is "the latest".
    latest = latest_fire_at_or_before(DEFAULT, utc(2025, 1, 16, 10, 0))
    assert latest == utc(2025, 1, 16, 5, 30)
    assert latest_fire_at_or_before(DEFAULT, utc(2025, 1, 16, 5, 30)) == utc(2025, 1, 16, 5, 30)
    assert latest_fire_at_or_before(DEFAULT, utc(2025, 1, 16, 5, 29)) == utc(2025, 1, 15, 22, 30)


def test_other_zones_and_naive_refused() -> None:
    schedule = Schedule(times=["09:00"], timezone="America/New_York")
    assert next_fire_after(schedule, utc(2025, 3, 9, 0, 0)) == utc(2025, 3, 9, 13, 0)  # EDT starts that day
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_after(schedule, datetime(2025, 1, 1) + timedelta(0))
