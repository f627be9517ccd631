"""The course-list feed Cornerstone's Online Content connector pulls: built from LMS courses.

Cornerstone GETs a provider's course list (daily, with ``If-Modified-Since``) and expects a
JSON array of ``{ID, Title, Description, Thumbnail, URL, IsActive, LastModifiedUTC, Duration,
Partners, Languages, Subjects, IsMobile}``. It updates a course only when ``LastModifiedUTC``
moves, and ``IsActive: false`` retires it. So our feed must always be current, carry a
timestamp that moves exactly when the course changes, and keep archived or deleted courses
in the list (inactive) instead of dropping them -- a dropped course would stay live there.

This module is pure: values in, values out. It must never do I/O, read the clock or resolve
a secret; the HTTP side lives in ``connectors.cornerstone.feed_server``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

from engine.config.models import Catalog

#: Cornerstone refuses an external course ID longer than this.
MAX_FEED_ID = 50

CourseStatus = Literal["published", "archived", "deleted"]

#: Statuses that stay live in Cornerstone's catalog; anything else is served inactive.
ACTIVE_STATUSES: frozenset[str] = frozenset({"published"})


@dataclass(frozen=True)
class Course:
    """An LMS course as the catalog needs it (the LMS adapter builds these from the API)."""

    id: str
    title: str
    status: CourseStatus
    modified_at: datetime
    description: str = ""
    language: str | None = None
    tags: tuple[str, ...] = ()
    thumbnail_url: str | None = None
    duration_minutes: int | None = None
    mobile: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def feed_id(course_id: str) -> str:
    """The ``ID`` Cornerstone knows a course by: the LMS id, shortened stably if over 50 chars.

    Completions use the same function, so the learning object we complete is the one the
    catalog created.
    """
    if len(course_id) <= MAX_FEED_ID:
        return course_id
    digest = hashlib.sha256(course_id.encode("utf-8")).hexdigest()[:12]
    return f"{course_id[: MAX_FEED_ID - 13]}-{digest}"


def utc_stamp(moment: datetime) -> str:
    """``LastModifiedUTC`` as ISO 8601 with a ``Z``: second precision, so equal stays equal."""
    if moment.tzinfo is None:
        raise ValueError("course timestamps must be timezone-aware (the LMS sends UTC)")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def subjects_for(tags: Iterable[str], catalog: Catalog) -> list[str]:
    """Subjects from the tag mapping, in mapping order without duplicates; else the defaults."""
    subjects: list[str] = []
    for tag in tags:
        for subject in catalog.subjects.get(tag, []):
            if subject not in subjects:
                subjects.append(subject)
    return subjects or list(catalog.default_subjects)


def feed_item(course: Course, catalog: Catalog) -> dict[str, Any]:
    """One course as Cornerstone's Online Content connector reads it."""
    return {
        "ID": feed_id(course.id),
        "Title": course.title,
        "Description": course.description,
        "Thumbnail": course.thumbnail_url or "",
        "URL": catalog.launch_url.replace("{course_id}", course.id),
        "IsActive": course.status in ACTIVE_STATUSES,
        "LastModifiedUTC": utc_stamp(course.modified_at),
        "Duration": course.duration_minutes or 0,
        "Partners": list(catalog.partners),
        "Languages": [course.language] if course.language else [],
        "Subjects": subjects_for(course.tags, catalog),
        "IsMobile": course.mobile,
    }


def build_feed(courses: Iterable[Course], catalog: Catalog) -> list[dict[str, Any]]:
    """The whole feed, sorted by ID so the same courses always give the same bytes.

    Two LMS ids that shorten to the same feed ID would make Cornerstone merge two courses;
    the 12-hex-digit hash makes that practically impossible, and we refuse it if it happens.
    """
    items: dict[str, dict[str, Any]] = {}
    for course in courses:
        item = feed_item(course, catalog)
        if item["ID"] in items:
            raise ValueError(f"two courses share the Cornerstone ID {item['ID']}: the LMS listed one twice")
        items[item["ID"]] = item
    return [items[key] for key in sorted(items)]


def last_modified(feed: Iterable[dict[str, Any]]) -> datetime | None:
    """The newest ``LastModifiedUTC`` of a feed: its HTTP ``Last-Modified``, None when empty."""
    stamps = [datetime.strptime(item["LastModifiedUTC"], "%Y-%m-%dT%H:%M:%SZ") for item in feed]
    if not stamps:
        return None
    return max(stamps).replace(tzinfo=UTC)


def http_date(moment: datetime) -> str:
    """An RFC 9110 date (``Last-Modified``/``If-Modified-Since``) for an aware datetime."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)
