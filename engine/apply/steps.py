"""A plan cut into journaled steps: each with a stable key and the keys it depends on.

The journal remembers a run's progress by key, so a key must name the same piece of work
every time the same file is planned again: ``create_user:<uniqueId>``,
``create_group:<path>``, ``add_learners:<group>:<digest of its users>``... Learner batches
are cut into chunks whose key carries a digest of their users, so a chunk marked done means
exactly those users were handled; after a resume the re-plan lists only what is still
missing, which hashes to a new key and is applied.

Dependencies are what makes a failure local: every write about a user waits for the link
of its external id (which waits for its creation), values of a new custom field wait for
the definition, a new group waits for its parent. A step whose dependency failed is skipped;
in a batch only the users whose own dependency failed are dropped.

This module is pure: no I/O, no clock. It must never reorder the plan's actions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from engine.hris.actions import (
    Action,
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    GroupRef,
    LinkExternalId,
    RemoveLearners,
    RemoveManager,
    RestoreUser,
    SetCustomValues,
    SetManager,
    UpdateProfile,
)
from engine.hris.plan import Plan
from engine.hris.rows import PATH_SEPARATOR

#: Users per learner step: small enough for resumes to lose little, large enough that a big
#: initial load needs few bulk operations.
LEARNER_CHUNK = 5000
#: The journal's key column holds 200 characters; the prefix a caller adds needs some room.
MAX_KEY = 160

#: Action type → the name journaled in the ``action`` column and used as key prefix.
KIND: Mapping[type, str] = {
    CreateCustomField: "create_custom_field",
    CreateGroup: "create_group",
    CreateUser: "create_user",
    RestoreUser: "restore_user",
    LinkExternalId: "link_external_id",
    UpdateProfile: "update_profile",
    SetCustomValues: "set_custom_values",
    RemoveLearners: "remove_learners",
    AddLearners: "add_learners",
    SetManager: "set_manager",
    RemoveManager: "remove_manager",
    DeleteUser: "delete_user",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One journaled unit of work.

    ``deps``: keys the whole step needs; ``user_deps``: for learner batches, keys each user
    needs (its link), so one failed creation drops one user, not the batch.
    """

    key: str
    kind: str
    action: Action
    unique_id: str | None = None
    deps: tuple[str, ...] = ()
    user_deps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def users(self) -> tuple[str, ...]:
        """``uniqueId``s this step is about (one, or a batch's)."""
        if isinstance(self.action, AddLearners | RemoveLearners):
            return tuple(ref.unique_id for ref in self.action.users)
        return (self.unique_id,) if self.unique_id is not None else ()


def path_text(path: tuple[str, ...]) -> str:
    """A group path as one string; the separator cannot appear in a group name."""
    return PATH_SEPARATOR.join(path)


def make_key(kind: str, subject: str) -> str:
    """``kind:subject``, with an over-long subject replaced by its digest (still stable)."""
    key = f"{kind}:{subject}"
    if len(key) <= MAX_KEY:
        return key
    return f"{kind}:#{hashlib.sha256(subject.encode('utf-8')).hexdigest()[:32]}"


def group_subject(ref: GroupRef) -> str:
    return ref.group_id if ref.group_id is not None else "path:" + path_text(ref.path)


def _digest(unique_ids: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(unique_ids).encode("utf-8")).hexdigest()[:16]


def plan_steps(plan: Plan) -> list[Step]:
    """The plan's actions as steps, in plan order (learner batches cut into chunks)."""
    created = {
        a.unique_id: make_key(KIND[type(a)], a.unique_id)
        for a in plan.actions
        if isinstance(a, CreateUser | RestoreUser)
    }
    linked = {
        a.user.unique_id: make_key("link_external_id", a.user.unique_id)
        for a in plan.actions
        if isinstance(a, LinkExternalId)
    }
    new_fields = {
        a.title: make_key("create_custom_field", a.title)
        for a in plan.actions
        if isinstance(a, CreateCustomField)
    }
    new_groups = {
        a.path: make_key("create_group", path_text(a.path))
        for a in plan.actions
        if isinstance(a, CreateGroup)
    }

    def user_dep(unique_id: str) -> tuple[str, ...]:
        key = linked.get(unique_id) or created.get(unique_id)
        return (key,) if key is not None else ()

    def group_dep(ref: GroupRef) -> tuple[str, ...]:
        key = new_groups.get(ref.path) if ref.group_id is None else None
        return (key,) if key is not None else ()

    return list(_steps(plan.actions, user_dep, group_dep, created, new_fields))


def _steps(
    actions: tuple[Action, ...],
    user_dep: Callable[[str], tuple[str, ...]],
    group_dep: Callable[[GroupRef], tuple[str, ...]],
    created: Mapping[str, str],
    new_fields: Mapping[str, str],
) -> Iterator[Step]:
    for action in actions:
        kind = KIND[type(action)]
        if isinstance(action, CreateCustomField):
            yield Step(make_key(kind, action.title), kind, action)
        elif isinstance(action, CreateGroup):
            yield Step(make_key(kind, path_text(action.path)), kind, action, deps=group_dep(action.parent))
        elif isinstance(action, CreateUser | RestoreUser):
            yield Step(make_key(kind, action.unique_id), kind, action, action.unique_id)
        elif isinstance(action, LinkExternalId):
            uid = action.user.unique_id
            yield Step(make_key(kind, uid), kind, action, uid, (created[uid],) if uid in created else ())
        elif isinstance(action, UpdateProfile | DeleteUser):
            uid = action.user.unique_id
            yield Step(make_key(kind, uid), kind, action, uid, user_dep(uid))
        elif isinstance(action, SetCustomValues):
            uid = action.user.unique_id
            fields = tuple(
                new_fields[v.title] for v in action.values if v.field_id is None and v.title in new_fields
            )
            yield Step(make_key(kind, uid), kind, action, uid, (*user_dep(uid), *fields))
        elif isinstance(action, SetManager):
            uid = action.user.unique_id
            both = (*user_dep(uid), *user_dep(action.manager.unique_id))
            yield Step(make_key(kind, uid), kind, action, uid, both)
        elif isinstance(action, RemoveManager):
            uid = action.user.unique_id
            yield Step(make_key(kind, f"{uid}:{action.manager_id}"), kind, action, uid, user_dep(uid))
        else:  # AddLearners | RemoveLearners
            for start in range(0, len(action.users), LEARNER_CHUNK):
                chunk = action.users[start : start + LEARNER_CHUNK]
                part = type(action)(action.group, chunk)
                ids = tuple(ref.unique_id for ref in chunk)
                key = make_key(kind, f"{group_subject(action.group)}:{_digest(ids)}")
                user_deps = {
                    ref.unique_id: user_dep(ref.unique_id) for ref in chunk if user_dep(ref.unique_id)
                }
                yield Step(key, kind, part, None, group_dep(action.group), user_deps)
