"""The catalog feed builder: pure, deterministic, and faithful to Cornerstone's item shape."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import TypedDict, Unpack

import pytest

from engine.config.models import Catalog
from engine.cornerstone.catalog import (
    MAX_FEED_ID,
    Course,
    CourseStatus,
    build_feed,
    feed_id,
    feed_item,
    http_date,
    last_modified,
    subjects_for,
)

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


ONBOARDING = Course(id="c1", title="Onboarding", status="published", modified_at=T0)


class CourseFields(TypedDict, total=False):
    """The ``Course`` fields a test may change."""

    id: str
    status: CourseStatus
    modified_at: datetime
    description: str
    language: str | None
    tags: tuple[str, ...]
    thumbnail_url: str | None
    duration_minutes: int | None
    mobile: bool


def course(**overrides: Unpack[CourseFields]) -> Course:
    return dataclasses.replace(ONBOARDING, **overrides)


def test_item_has_every_documented_field(cornerstone_catalog: Catalog) -> None:
    item = feed_item(
        course(
            description="Start here",
            language="fr",
            tags=("sales",),
            thumbnail_url="https://t/x.png",
            duration_minutes=45,
            mobile=False,
        ),
        cornerstone_catalog,
    )
    assert item == {
        "ID": "c1",
        "Title": "Onboarding",
        "Description": "Start here",
        "Thumbnail": "https://t/x.png",
        "URL": "https://acme.lms.example/course/c1",
        "IsActive": True,
        "LastModifiedUTC": "2024-05-01T10:00:00Z",
        "Duration": 45,
        "Partners": ["360Learning"],
        "Languages": ["fr"],
        "Subjects": ["Sales", "Negotiation"],
        "IsMobile": False,
    }


@pytest.mark.parametrize(("status", "active"), [("published", True), ("archived", False), ("deleted", False)])
def test_only_published_courses_are_active(
    cornerstone_catalog: Catalog, status: CourseStatus, active: bool
) -> None:
    assert feed_item(course(status=status), cornerstone_catalog)["IsActive"] is active


@pytest.mark.parametrize(
    ("tags", "subjects"),
    [
        (("sales",), ["Sales", "Negotiation"]),
        (("sales", "safety", "sales"), ["Sales", "Negotiation", "Compliance"]),
        (("unmapped",), ["General"]),
        ((), ["General"]),
    ],
)
def test_subjects_from_tag_mapping(
    cornerstone_catalog: Catalog, tags: tuple[str, ...], subjects: list[str]
) -> None:
    assert subjects_for(tags, cornerstone_catalog) == subjects


def test_long_ids_are_shortened_stably_and_distinctly() -> None:
    a, b = "x" * 60 + "a", "x" * 60 + "b"
    assert feed_id("short") == "short"
    assert len(feed_id(a)) == MAX_FEED_ID
    assert feed_id(a) == feed_id(a)
    assert feed_id(a) != feed_id(b)


def test_timestamps_are_utc_and_second_precision(cornerstone_catalog: Catalog) -> None:
    paris = timezone(timedelta(hours=2))
    item = feed_item(
        course(modified_at=datetime(2024, 5, 1, 12, 0, 0, 999, tzinfo=paris)), cornerstone_catalog
    )
    assert item["LastModifiedUTC"] == "2024-05-01T10:00:00Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        feed_item(course(modified_at=datetime(2024, 5, 1)), cornerstone_catalog)


def test_feed_is_sorted_and_deterministic(cornerstone_catalog: Catalog) -> None:
    courses = [course(id="b"), course(id="a"), course(id="c", status="archived")]
    feed = build_feed(courses, cornerstone_catalog)
    assert [item["ID"] for item in feed] == ["a", "b", "c"]
    assert build_feed(reversed(courses), cornerstone_catalog) == feed


def test_duplicate_ids_are_refused(cornerstone_catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="share the Cornerstone ID"):
        build_feed([course(), course()], cornerstone_catalog)


def test_last_modified_is_newest_item(cornerstone_catalog: Catalog) -> None:
    feed = build_feed(
        [course(id="a"), course(id="b", modified_at=T0 + timedelta(hours=1))], cornerstone_catalog
    )
    assert last_modified(feed) == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    assert last_modified([]) is None
    assert http_date(datetime(2024, 5, 1, 11, 0, tzinfo=UTC)) == "Wed, 01 May 2024 11:00:00 GMT"
