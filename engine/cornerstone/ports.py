"""The small protocols the Cornerstone engine depends on, so its core never imports a client.

The LMS side (courses, course statistics, external ids) and the Cornerstone side (employees,
transcripts, learning assignments) are reached through these seams; connectors implement
them over HTTP (``connectors.cornerstone.client``, ``connectors.cornerstone.lms_adapter``).
Nothing here may perform I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.cornerstone.catalog import Course


@dataclass(frozen=True)
class CourseStat:
    """One learner's statistics on one course, as the LMS reports them.

    ``completed_at`` is set once the learner completed the course; ``last_activity_at`` is
    the learner's latest activity (used for in-progress updates).
    """

    course_id: str
    user_id: str
    completed_at: datetime | None
    last_activity_at: datetime | None = None
    progress: int = 0


@dataclass(frozen=True)
class LearningAssignment:
    """A Cornerstone learning assignment (``GET /services/api/v1/LearningAssignments``)."""

    id: str
    status: str
    last_access: datetime | None = None


class CourseSource(Protocol):
    """Where the catalog and the completions come from (the LMS)."""

    def iter_courses(self) -> Iterator[Course]:
        """Every course the catalog should list, including archived and deleted ones."""
        ...

    def iter_course_stats(self, gte: datetime, lt: datetime) -> Iterator[CourseStat]:
        """Statistics completed (or, for in-progress, active) in ``[gte, lt)``, UTC."""
        ...


class ExternalIdLookup(Protocol):
    """The HRIS identifier of LMS users: it is the Cornerstone employee's ``externalId``."""

    def external_ids(self, platform: str, user_ids: Collection[str]) -> Mapping[str, str]:
        """LMS user id → external id under ``platform``; users without one are left out."""
        ...


class CornerstoneTarget(Protocol):
    """What the completions push needs from a Cornerstone portal."""

    def employee_guid(self, external_id: str) -> str | None:
        """The employee's ``guid``, or None when no employee has this external id."""
        ...

    def complete_transcript(self, user_guid: str, learning_object_id: str) -> None:
        """Mark the learning object completed on the user's transcript (idempotent)."""
        ...

    def learning_assignments(self, user_guid: str, learning_object_id: str) -> list[LearningAssignment]:
        """The user's assignments of this learning object."""
        ...

    def update_learning_assignment(self, assignment_id: str, status: str, last_access: datetime) -> None:
        """Set an assignment's status and last access date."""
        ...
