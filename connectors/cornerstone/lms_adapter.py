"""The LMS seen by the Cornerstone engine: ``LmsClient`` answers as ``CourseSource`` values.

Maps the API's course objects (``_id``, ``name``, ``description``, ``lang``, ``status``,
``tags``, ``modifiedAt``, ``imageUrl``, ``duration`` in minutes) onto ``Course``, its course
statistics (``courseId``, ``userId``, ``completedAt``, ``progress``) onto ``CourseStat``, and
its external ids onto the user → externalId map the completions need.

The only place the Cornerstone side touches the LMS client; it never writes to the LMS.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.lms.client import LmsClient
from engine.config.models import LmsEndpoint
from engine.config.secrets import resolve_secret
from engine.cornerstone.catalog import Course
from engine.cornerstone.ports import CourseStat
from engine.errors import TargetError

_STATUSES = {"published": "published", "archived": "archived", "deleted": "deleted"}


def lms_client(endpoint: LmsEndpoint, base_dir: Path | None = None) -> LmsClient:
    """The LMS client of an environment, its secret references resolved now."""
    return LmsClient(
        endpoint.url,
        resolve_secret(endpoint.client_id, base_dir=base_dir, what="lms.client_id"),
        resolve_secret(endpoint.client_secret, base_dir=base_dir, what="lms.client_secret"),
    )


def _instant(value: Any, what: str, course_id: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise TargetError(
            f"LMS course {course_id}: {what} is missing", hint="the LMS answered an unexpected shape"
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TargetError(f"LMS course {course_id}: {what} is not an ISO 8601 date") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def course_from_api(obj: Mapping[str, Any]) -> Course:
    course_id = str(obj["_id"])
    duration = obj.get("duration")
    return Course(
        id=course_id,
        title=str(obj.get("name") or ""),
        # Unknown statuses are served inactive: listing a course we do not understand as live
        # in Cornerstone would be the worse mistake.
        status=_STATUSES.get(str(obj.get("status") or "published"), "archived"),  # type: ignore[arg-type]
        modified_at=_instant(obj.get("modifiedAt") or obj.get("createdAt"), "modifiedAt", course_id),
        description=str(obj.get("description") or ""),
        language=obj.get("lang") or None,
        tags=tuple(str(t) for t in obj.get("tags") or ()),
        thumbnail_url=obj.get("imageUrl") or None,
        duration_minutes=int(duration) if isinstance(duration, int | float) else None,
    )


def stat_from_api(obj: Mapping[str, Any]) -> CourseStat:
    completed = obj.get("completedAt")
    course_id = str(obj["courseId"])
    progress = obj.get("progress")
    return CourseStat(
        course_id=course_id,
        user_id=str(obj["userId"]),
        completed_at=_instant(completed, "completedAt", course_id) if completed else None,
        progress=int(progress) if isinstance(progress, int | float) else 0,
    )


class LmsCourseSource:
    """``CourseSource`` and ``ExternalIdLookup`` over one ``LmsClient``."""

    def __init__(self, client: LmsClient) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"LmsCourseSource({self.client!r})"

    def iter_courses(self) -> Iterator[Course]:
        for obj in self.client.iter_courses():
            yield course_from_api(obj)

    def iter_course_stats(self, gte: datetime, lt: datetime) -> Iterator[CourseStat]:
        # The API filters on completedAt only: in-progress learners are not listed by it.
        for obj in self.client.iter_course_stats(gte, lt):
            yield stat_from_api(obj)

    def external_ids(self, platform: str, user_ids: Collection[str]) -> Mapping[str, str]:
        wanted = set(user_ids)
        if not wanted:
            return {}
        found: dict[str, str] = {}
        # One listing of the platform's ids beats one call per learner for any real day.
        for obj in self.client.iter_external_ids(platform):
            target = str(obj.get("targetId") or "")
            if target in wanted and obj.get("value"):
                found[target] = str(obj["value"])
        return found
