"""The plan's vocabulary: one small frozen dataclass per change the sync can make.

A plan is a tuple of these; one visitor applies them through the LMS client, another renders
them for review, so the dry run and the real run read the very same data. Each action carries
what its API call needs and nothing else; each is safe to repeat (the apply step journals it).

References to things that do not exist yet: a user created or restored by this plan has
``user_id=None`` and is found by its ``unique_id`` (the apply step records the id it got, or
finds it through the external id); a group created by this plan has ``group_id=None`` and is
found by its ``path`` of names below the synchronized group.

This module must never hold behaviour that talks to a target, and reprs must never show an
e-mail or a name (profile values are hidden in ``__repr__``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UserRef:
    """A user: by LMS id when it exists, else by the ``uniqueId`` a create will link."""

    unique_id: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group: by id when it exists, else by its path of names below the synced group."""

    group_id: str | None
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlannedValue:
    """A custom value as it must be after the PUT: by definition id, or by title when the
    definition is created by this plan."""

    field_id: str | None
    title: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class CreateCustomField:
    title: str
    type: str


@dataclass(frozen=True, slots=True)
class CreateGroup:
    """A hierarchy group; ``parent`` may itself be created earlier in the same plan.
    Created private: removing a learner from a parent then never cascades into it."""

    path: tuple[str, ...]
    name: str
    parent: GroupRef


@dataclass(frozen=True, slots=True)
class CreateUser:
    """POST /users: the user, its profile and its membership of the synchronized group."""

    unique_id: str
    email: str
    profile: tuple[tuple[str, str], ...]
    group_id: str
    send_invitation: bool

    def __repr__(self) -> str:
        return f"CreateUser({self.unique_id!r})"


@dataclass(frozen=True, slots=True)
class RestoreUser:
    """Re-create by e-mail a managed user deleted in the LMS; its groups are gone, so the plan
    re-adds them like for a new user."""

    unique_id: str
    previous_id: str
    email: str
    profile: tuple[tuple[str, str], ...]
    group_id: str
    send_invitation: bool

    def __repr__(self) -> str:
        return f"RestoreUser({self.unique_id!r})"


@dataclass(frozen=True, slots=True)
class LinkExternalId:
    """Record ``uniqueId`` on the user under our platform: what makes it managed."""

    user: UserRef
    platform: str


@dataclass(frozen=True, slots=True)
class UpdateProfile:
    """One PATCH with only the changed fields; a None value clears the field."""

    user: UserRef
    fields: tuple[tuple[str, str | None], ...]

    def __repr__(self) -> str:
        return f"UpdateProfile({self.user.unique_id!r}, {[name for name, _ in self.fields]})"


@dataclass(frozen=True, slots=True)
class SetCustomValues:
    """The user's FULL custom value list after the change (the API's PUT replaces them all):
    values of fields the connector does not manage are copied from the snapshot untouched."""

    user: UserRef
    values: tuple[PlannedValue, ...]


@dataclass(frozen=True, slots=True)
class AddLearners:
    """Learner role in one group for many users (apply may use the bulk endpoint)."""

    group: GroupRef
    users: tuple[UserRef, ...]


@dataclass(frozen=True, slots=True)
class RemoveLearners:
    """Remove only the learner role the connector gave; other roles are never touched."""

    group: GroupRef
    users: tuple[UserRef, ...]


@dataclass(frozen=True, slots=True)
class SetManager:
    user: UserRef
    manager: UserRef


@dataclass(frozen=True, slots=True)
class RemoveManager:
    user: UserRef
    manager_id: str


@dataclass(frozen=True, slots=True)
class DeleteUser:
    user: UserRef


Action = (
    CreateCustomField
    | CreateGroup
    | CreateUser
    | RestoreUser
    | LinkExternalId
    | UpdateProfile
    | SetCustomValues
    | RemoveLearners
    | AddLearners
    | SetManager
    | RemoveManager
    | DeleteUser
)

#: Apply order by action type: prerequisites first, deletions last. Learner removals come
#: before additions because removing a learner from a group also removes it from the group's
#: public subgroups: done the other way round, a removal could undo an addition.
ACTION_ORDER: tuple[type, ...] = (
    CreateCustomField,
    CreateGroup,
    CreateUser,
    RestoreUser,
    LinkExternalId,
    UpdateProfile,
    SetCustomValues,
    RemoveLearners,
    AddLearners,
    SetManager,
    RemoveManager,
    DeleteUser,
)
