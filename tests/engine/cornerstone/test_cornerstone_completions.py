"""Planning the daily completions push: the local day, the ledger, and unmatched learners."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from engine.cornerstone.catalog import feed_id
from engine.cornerstone.completions import LedgerKey, day_window, plan_completions, previous_day
from engine.cornerstone.ledger import CompletionLedger
from engine.cornerstone.ports import CourseStat


@pytest.mark.parametrize(
    ("day", "zone", "start", "hours"),
    [
        (date(2024, 5, 2), "Europe/Paris", datetime(2024, 5, 1, 22, tzinfo=UTC), 24),
        (date(2024, 3, 31), "Europe/Paris", datetime(2024, 3, 30, 23, tzinfo=UTC), 23),  # spring forward
        (date(2024, 10, 27), "Europe/Paris", datetime(2024, 10, 26, 22, tzinfo=UTC), 25),  # fall back
        (date(2024, 3, 10), "America/New_York", datetime(2024, 3, 10, 5, tzinfo=UTC), 23),
        (date(2024, 1, 1), "UTC", datetime(2024, 1, 1, tzinfo=UTC), 24),
    ],
)
def test_day_window_is_one_local_day(day: date, zone: str, start: datetime, hours: int) -> None:
    window = day_window(day, zone)
    assert window.start == start
    assert window.end - window.start == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        (datetime(2024, 5, 2, 0, 30, tzinfo=UTC), "Europe/Paris", date(2024, 5, 1)),  # 02:30 in Paris
        (datetime(2024, 5, 1, 23, 30, tzinfo=UTC), "Europe/Paris", date(2024, 5, 1)),  # already the 2nd there
        (datetime(2024, 5, 2, 3, 0, tzinfo=UTC), "America/Los_Angeles", date(2024, 4, 30)),
    ],
)
def test_previous_day_in_customer_zone(now: datetime, zone: str, expected: date) -> None:
    assert previous_day(now, zone) == expected


def test_previous_day_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError):
        previous_day(datetime(2024, 5, 2), "Europe/Paris")


WINDOW = day_window(date(2024, 5, 1), "Europe/Paris")
IN_DAY = datetime(2024, 5, 1, 8, 0, 0, 500, tzinfo=UTC)


def stat(
    user: str = "u1",
    course: str = "c1",
    *,
    completed_at: datetime | None = IN_DAY,
    last_activity_at: datetime | None = None,
    progress: int = 0,
) -> CourseStat:
    return CourseStat(course, user, completed_at, last_activity_at=last_activity_at, progress=progress)


def test_plan_pushes_matched_completions_of_the_day_only() -> None:
    stats = [
        stat("u1"),
        stat("u2", completed_at=WINDOW.end),  # first instant of the next day
        stat("u3", completed_at=WINDOW.start - timedelta(seconds=1)),
        stat("u4"),  # no external id
    ]
    plan = plan_completions(
        customer="acme",
        window=WINDOW,
        stats=stats,
        external_ids={"u1": "E1", "u2": "E2", "u3": "E3"},
        pushed=set(),
    )
    assert [(c.key.user_id, c.external_id, c.learning_object_id) for c in plan.completions] == [
        ("u1", "E1", "c1")
    ]
    assert plan.completions[0].key == LedgerKey("acme", "c1", "u1", "2024-05-01T08:00:00Z")
    assert [(u.user_id, u.reason) for u in plan.unmatched] == [("u4", "no_external_id")]


def test_plan_skips_what_the_ledger_holds() -> None:
    pushed = {LedgerKey("acme", "c1", "u1", "2024-05-01T08:00:00Z")}
    plan = plan_completions(
        customer="acme",
        window=WINDOW,
        stats=[stat("u1"), stat("u2")],
        external_ids={"u1": "E1", "u2": "E2"},
        pushed=pushed,
    )
    assert [c.key.user_id for c in plan.completions] == ["u2"]
    assert plan.already_pushed == 1


def test_plan_in_progress_only_when_enabled_and_not_completed() -> None:
    active = stat("u1", completed_at=None, last_activity_at=IN_DAY, progress=40)
    later = stat("u1", completed_at=None, last_activity_at=IN_DAY + timedelta(hours=1), progress=50)
    completed = stat("u2", course="c2")
    ids = {"u1": "E1", "u2": "E2"}
    off = plan_completions(customer="a", window=WINDOW, stats=[active], external_ids=ids, pushed=set())
    assert off.is_empty
    on = plan_completions(
        customer="a",
        window=WINDOW,
        stats=[active, later, completed],
        external_ids=ids,
        pushed=set(),
        in_progress=True,
    )
    assert [(p.user_id, p.last_activity_at) for p in on.progress] == [("u1", later.last_activity_at)]
    assert [c.key.user_id for c in on.completions] == ["u2"]


def test_long_course_ids_use_the_catalog_id() -> None:
    long_id = "c" * 70
    plan = plan_completions(
        customer="a", window=WINDOW, stats=[stat(course=long_id)], external_ids={"u1": "E1"}, pushed=set()
    )
    assert plan.completions[0].learning_object_id == feed_id(long_id) != long_id


def test_ledger_round_trip_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite"
    key = LedgerKey("acme", "c1", "u1", "2024-05-01T08:00:00Z")
    ledger = CompletionLedger(path)
    ledger.record([key, key])
    ledger.close()
    again = CompletionLedger(path)
    assert again.pushed("acme") == {key}
    assert again.pushed("other") == set()
    assert again.pushed("acme", since="2024-05-02") == set()
    assert again.count("acme") == 1
    again.close()
