"""The seam between the apply step and an LMS: what a target must offer.

The executor depends on this protocol, not on the HTTP client: a target reads a snapshot
and performs one plan action per method, resolving references to users and groups created
earlier in the same run (``remember_*`` seeds them from the journal when a run resumes).
``columns`` are the profile fields the file carries: what a re-created user must not keep
from its former life.
Each method returns what the journal keeps about the write (ids only, never personal data)
and raises ``engine.errors.TargetError`` subclasses; a learner batch reports its users'
failures one by one instead of raising, as the LMS's bulk endpoint does.

This module must never hold behaviour: ``connectors.lms.target.LmsTarget`` implements it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from engine.config.models import Hris
from engine.hris.actions import (
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    LinkExternalId,
    RemoveLearners,
    RemoveManager,
    RestoreUser,
    SetCustomValues,
    SetManager,
    UpdateProfile,
)
from engine.hris.snapshot import Snapshot

#: What a write tells the journal (``{"user_id": ...}``, ``{"group_id": ...}``...).
Written = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class MemberFailure:
    """Why one user of a learner batch was not changed: the API's code and a short message."""

    code: str
    message: str


class Target(Protocol):
    def snapshot(
        self,
        hris: Hris,
        *,
        emails: Collection[str] | None = None,
        previous_custom_fields: frozenset[str] = frozenset(),
        previous_groups: frozenset[str] = frozenset(),
    ) -> Snapshot: ...

    def admin_problem(self) -> str | None:
        """Why ``hris.admin`` cannot administer the synchronized group (last snapshot), or None."""
        ...

    def remember_user(self, unique_id: str, user_id: str) -> None: ...

    def remember_group(self, path: tuple[str, ...], group_id: str) -> None: ...

    def remember_field(self, title: str, field_id: str) -> None: ...

    def create_custom_field(self, action: CreateCustomField) -> Written: ...

    def create_group(self, action: CreateGroup) -> Written: ...

    def create_user(self, action: CreateUser, *, columns: tuple[str, ...]) -> Written: ...

    def restore_user(self, action: RestoreUser, *, columns: tuple[str, ...]) -> Written: ...

    def link_external_id(self, action: LinkExternalId) -> Written: ...

    def update_profile(self, action: UpdateProfile) -> Written: ...

    def set_custom_values(self, action: SetCustomValues) -> Written: ...

    def remove_learners(self, action: RemoveLearners) -> dict[str, MemberFailure]: ...

    def add_learners(self, action: AddLearners) -> dict[str, MemberFailure]: ...

    def set_manager(self, action: SetManager) -> Written: ...

    def remove_manager(self, action: RemoveManager) -> Written: ...

    def delete_user(self, action: DeleteUser) -> Written: ...
