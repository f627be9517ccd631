"""The LMS as the HRIS sync's target: a snapshot reader and one method per plan action.

``LmsTarget`` implements ``engine.apply.target.Target`` over ``LmsClient``. The snapshot
costs a handful of paged listings (users with their custom values and managers inline, the
external ids of our platform, custom field definitions, groups) plus one roles listing per
group the connector manages; nothing is fetched per user.

Actions refer to users and groups the same plan creates (``UserRef.user_id is None``,
``GroupRef.group_id is None``); the target remembers the ids it got when it created them,
is told the ids a previous attempt of the same run created (``remember_*``), and otherwise
looks them up: a user by its external id, a group by its path below the synchronized group,
a custom field by its title. Creations are idempotent: the client recognises a lost answer
whose write happened, and a link or a definition that already exists is taken as done.

This module must never decide what to write (the plan says it) nor put an e-mail or a name
into what it returns or raises: results hold ids only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from connectors.lms.bulk import BulkItemResult, Membership
from connectors.lms.client import LmsClient
from connectors.lms.pages import (
    SnapshotValues,
    UserFilter,
    attach_columns,
    definition_of,
    group_of,
    read_users,
)
from engine.apply.target import MemberFailure, Written
from engine.config.models import CustomerConfig, Hris
from engine.config.secrets import resolve_secret
from engine.errors import (
    ConfigError,
    LmsyncError,
    TargetAuthError,
    TargetConflictError,
    TargetError,
    TargetNotFoundError,
    TargetUnavailableError,
)
from engine.hris.actions import (
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
    UserRef,
)
from engine.hris.groups import deployed_memory
from engine.hris.snapshot import ExternalId, LmsGroup, Snapshot

T = TypeVar("T")

#: Learner changes for fewer users than this go one request each: a bulk operation costs a
#: submit, polls and a results page, more than a few single writes.
BULK_MIN = 10

#: ``create_user`` keyword for each LMS profile field a plan carries.
_CREATE_KWARGS: Mapping[str, str] = {
    "firstName": "first_name",
    "lastName": "last_name",
    "job": "job",
    "organization": "organization",
    "lang": "lang",
}


class LmsTarget:
    """``LmsTarget(client, platform=..., root_group=...)``, or ``LmsTarget.from_config(config, env)``."""

    def __init__(
        self, client: LmsClient, *, platform: str, root_group: str, owns_client: bool = False
    ) -> None:
        self.client = client
        self.platform = platform
        self.root_group = root_group
        self._owns_client = owns_client
        self._snapshot: Snapshot | None = None
        self._admin_problem: str | None = None
        self._user_ids: dict[str, str] = {}
        #: uniqueId → linked user id, made from the snapshot's links when a link is first
        #: written (most runs write none: a million-entry index for nothing).
        self._links: dict[str, str] | None = None
        self._group_ids: dict[tuple[str, ...], str] = {}
        self._children: dict[tuple[str, str], str] = {}
        self._field_ids: dict[str, str] = {}
        #: Where the LMS and its credentials are set (``from_config``), for the errors an SA
        #: meets first: references and the URL only, never a secret's value.
        self._credentials: str | None = None
        self._url: str | None = None

    @classmethod
    def from_config(
        cls, config: CustomerConfig, environment: str, *, base_dir: Path | None = None, **client_options: Any
    ) -> LmsTarget:
        """The target of ``config``'s HRIS sync in ``environment``; credentials are resolved now."""
        if config.hris is None:
            raise ConfigError(
                f"{config.customer}: no `hris` section", hint="add the HRIS sync to the customer file"
            )
        env = config.environments.get(environment)
        if env is None:
            known = ", ".join(sorted(config.environments))
            raise ConfigError(
                f"{config.customer}: no environment '{environment}'", hint=f"use one of: {known}"
            )
        where = f"environments.{environment}.lms"
        client = LmsClient(
            env.lms.url,
            resolve_secret(env.lms.client_id, base_dir=base_dir, what=f"{where}.client_id"),
            resolve_secret(env.lms.client_secret, base_dir=base_dir, what=f"{where}.client_secret"),
            **client_options,
        )
        target = cls(client, platform=config.hris.platform, root_group=config.hris.group, owns_client=True)
        target._credentials = (
            f"{where}.client_id ({env.lms.client_id}) and {where}.client_secret ({env.lms.client_secret})"
        )
        target._url = f"{where}.url ({env.lms.url})"
        return target

    def __repr__(self) -> str:
        return f"LmsTarget({self.client!r}, platform={self.platform!r})"

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> LmsTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------

    def snapshot(
        self,
        hris: Hris,
        *,
        emails: Collection[str] | None = None,
        previous_custom_fields: frozenset[str] = frozenset(),
        previous_groups: frozenset[str] = frozenset(),
    ) -> Snapshot:
        """The synchronized group's state. With ``emails`` (lower-cased), unlinked users whose
        e-mail is not among them are left out: the planner could only adopt those. The
        learners of ``previous_groups`` (where earlier runs gave roles) are read too.

        It is a run's first call to the LMS, so wrong credentials or an unreachable LMS show
        here: their errors then name the customer file's settings to check."""
        return self._explained(
            lambda: self._snapshot_of(hris, emails, previous_custom_fields, previous_groups)
        )

    def memory_of(self, hris: Hris) -> tuple[frozenset[str], frozenset[str]]:
        """``engine.hris.groups.deployed_memory`` of ``hris`` on this LMS: two listings (custom
        field definitions, groups); no user is read."""

        def read() -> tuple[frozenset[str], frozenset[str]]:
            fields = [definition_of(raw) for raw in self.client.iter_custom_fields()]
            return deployed_memory(hris, map(group_of, self.client.iter_groups()), fields)

        return self._explained(read)

    def _explained(self, call: Callable[[], T]) -> T:
        """``call()``, its first contact with the LMS: wrong credentials or an unreachable LMS
        show here, so their errors name the customer file's settings to check."""
        try:
            return call()
        except TargetAuthError as exc:
            if self._credentials is None:
                raise
            hint = f"check the secrets behind {self._credentials}, and that they belong to {self._url}"
            raise TargetAuthError(exc.message, status=exc.status, code=exc.code, hint=hint) from exc
        except TargetUnavailableError as exc:
            if self._url is None or exc.code not in ("connectionError", "timeout"):
                raise
            raise type(exc)(
                exc.message,
                status=exc.status,
                code=exc.code,
                retry_after=exc.retry_after,
                hint=f"check {self._url} and the network to it; the next run tries again",
            ) from exc

    def _snapshot_of(
        self,
        hris: Hris,
        emails: Collection[str] | None,
        previous_custom_fields: frozenset[str],
        previous_groups: frozenset[str] = frozenset(),
    ) -> Snapshot:
        self.platform, self.root_group = hris.platform, hris.group
        values = SnapshotValues()
        pairs = [
            (str(e["targetId"]), str(e["value"]))
            for e in self.client.iter_external_ids(hris.platform)
            if e.get("targetType", "user") == "user"
        ]
        keep = UserFilter({user_id for user_id, _ in pairs}, emails, hris.admin.strip().lower())
        read = read_users(self.client.user_pages(), values, keep)
        users, admins = read.users, read.admins
        # Read after the users, so that each link names its user with the user's own id string.
        links = [ExternalId(values.user_id(user_id), value) for user_id, value in pairs]
        del pairs
        fields = tuple(definition_of(raw) for raw in self.client.iter_custom_fields())
        every_group = [group_of(raw) for raw in self.client.iter_groups()]
        groups, scope = _groups_in_reach(every_group, hris, previous_groups)
        learners = {
            group_id: frozenset(
                values.user_id(role["userId"])
                for role in self.client.group_roles(group_id)
                if role.get("role") == "learner"
            )
            for group_id in sorted(scope)
        }
        del values
        snapshot = Snapshot(
            users=users,
            external_ids=tuple(links),
            custom_fields=fields,
            groups=groups,
            learners=learners,
            previous_custom_fields=previous_custom_fields,
            previous_groups=previous_groups,
        )
        del read
        attach_columns(snapshot)
        self._snapshot = snapshot
        self._links = None
        self._index_groups(every_group)
        self._admin_problem = self._check_admin(hris, admins, every_group)
        for definition in sorted(fields, key=lambda d: d.id, reverse=True):
            self._field_ids[definition.name] = definition.id
        return snapshot

    def admin_problem(self) -> str | None:
        """Why ``hris.admin`` cannot administer the synchronized group, as the last snapshot
        found it; None when it can."""
        return self._admin_problem

    def _check_admin(self, hris: Hris, admins: list[str], groups: list[LmsGroup]) -> str | None:
        """The reference: synchronized users count as invited by the connector administrator,
        who must administer the synchronized group. The LMS API v2 takes no inviter, so
        nothing is sent; a missing account or role is said (without the address), not fatal."""
        if not admins:
            return (
                "hris.admin (the connector administrator) has no active account in this LMS; "
                "create it, or fix hris.admin in the customer file"
            )
        administered = {
            str(role.get("groupId"))
            for role in self.client.user_roles(admins[0])
            if role.get("role") == "admin"
        }
        parent_of = {group.id: group.parent_id for group in groups}
        group_id: str | None = hris.group
        seen: set[str] = set()
        while group_id is not None and group_id not in seen:
            if group_id in administered:
                return None
            seen.add(group_id)
            group_id = parent_of.get(group_id)
        return (
            "hris.admin (the connector administrator) is not an administrator of the synchronized "
            "group nor of a group above it; give that account the admin role on the group"
        )

    def _index_groups(self, groups: Iterable[LmsGroup]) -> None:
        for group in sorted(groups, key=lambda g: g.id, reverse=True):  # the first id wins, as in the plan
            if group.parent_id is not None:
                self._children[(group.parent_id, group.name)] = group.id

    # --- resolving references --------------------------------------------------------------

    def remember_user(self, unique_id: str, user_id: str) -> None:
        self._user_ids[unique_id] = user_id

    def remember_group(self, path: tuple[str, ...], group_id: str) -> None:
        self._group_ids[path] = group_id

    def remember_field(self, title: str, field_id: str) -> None:
        self._field_ids[title] = field_id

    def user_id(self, ref: UserRef) -> str:
        if ref.user_id is not None:
            return ref.user_id
        known = self._user_ids.get(ref.unique_id)
        if known is not None:
            return known
        for link in self.client.iter_external_ids(self.platform, ref.unique_id):
            found = str(link["targetId"])
            self._user_ids[ref.unique_id] = found
            return found
        raise TargetNotFoundError(
            f"uniqueId {ref.unique_id}: no LMS user is linked to it",
            code="unresolved_user",
            hint="its creation failed or was undone; the next run plans it again",
        )

    def group_id(self, ref: GroupRef) -> str:
        if ref.group_id is not None:
            return ref.group_id
        found = self._walk(ref.path)
        if found is None:
            self._index_groups(group_of(raw) for raw in self.client.iter_groups())
            found = self._walk(ref.path)
        if found is None:
            raise TargetNotFoundError(
                f"group path {' › '.join(ref.path)} does not exist below the synchronized group",
                code="unresolved_group",
                hint="its creation failed; the next run plans it again",
            )
        return found

    def _walk(self, path: tuple[str, ...]) -> str | None:
        known = self._group_ids.get(path)
        if known is not None:
            return known
        current = self.root_group
        for name in path:
            child = self._children.get((current, name))
            if child is None:
                return None
            current = child
        self._group_ids[path] = current
        return current

    def field_id(self, title: str) -> str:
        known = self._field_ids.get(title)
        if known is not None:
            return known
        for definition in self.client.iter_custom_fields():
            if definition.get("name") == title:
                self._field_ids[title] = str(definition["_id"])
                return self._field_ids[title]
        raise TargetNotFoundError(
            f"custom field '{title}' does not exist",
            code="unresolved_custom_field",
            hint="the next run creates it",
        )

    # --- one method per action -------------------------------------------------------------

    def create_custom_field(self, action: CreateCustomField) -> Written:
        kind: Literal["string", "date"] = "date" if action.type == "date" else "string"
        try:
            created = self.client.create_custom_field(action.title, kind)
            field_id = str(created["_id"])
        except TargetConflictError as exc:
            if exc.code != "nameAlreadyTaken":
                raise
            self._field_ids.pop(action.title, None)
            field_id = self.field_id(action.title)  # made by an earlier attempt: take it
        self._field_ids[action.title] = field_id
        return {"field_id": field_id, "title": action.title}

    def create_group(self, action: CreateGroup) -> Written:
        parent = self.group_id(action.parent)
        existing = self._children.get((parent, action.name))
        group_id = existing or str(self.client.create_group(action.name, parent, public=False)["_id"])
        self._children[(parent, action.name)] = group_id
        self._group_ids[action.path] = group_id
        return {"group_id": group_id, "path": list(action.path), "existed": existing is not None}

    def create_user(self, action: CreateUser, *, columns: tuple[str, ...]) -> Written:
        user, restored = self.client.create_user(
            action.email,
            action.group_id,
            "learner",
            send_invitation=action.send_invitation,
            **_create_kwargs(action.profile),
        )
        user_id = str(user["_id"])
        self._user_ids[action.unique_id] = user_id
        if restored:  # an unlinked deleted user had this e-mail: it comes back as a new one
            self._clear_leftovers(user, action.profile, columns, None)
        return {"user_id": user_id, "restored": restored}

    def restore_user(self, action: RestoreUser, *, columns: tuple[str, ...]) -> Written:
        """Re-create a deleted managed user in place: by its old e-mail, so it keeps its id and
        its external id, then the new e-mail and cleared fields in one PATCH."""
        old = self._snapshot.user_with_id(action.previous_id) if self._snapshot is not None else None
        mail = old.mail if old is not None and old.status == "deleted" else action.email
        user, restored = self.client.create_user(
            mail,
            action.group_id,
            "learner",
            send_invitation=action.send_invitation,
            **_create_kwargs(action.profile),
        )
        user_id = str(user["_id"])
        self._user_ids[action.unique_id] = user_id
        self._clear_leftovers(user, action.profile, columns, action.email)
        return {"user_id": user_id, "restored": restored}

    def _clear_leftovers(
        self,
        user: Mapping[str, Any],
        profile: tuple[tuple[str, str], ...],
        columns: Iterable[str],
        mail: str | None,
    ) -> None:
        """A restored user comes back with its old values: clear those the file empties (and
        its old custom values) so the next plan finds it exactly as the file says."""
        given = dict(profile)
        changes: dict[str, str | None] = {
            name: None
            for name in columns
            if name not in given and name != "mail" and user.get(name) not in (None, "")
        }
        if mail is not None and str(user.get("mail") or "").lower() != mail.lower():
            changes["mail"] = mail
        if changes:
            self.client.update_user(str(user["_id"]), changes)
        if user.get("customFields"):
            self.client.put_custom_values(str(user["_id"]), [])

    def link_external_id(self, action: LinkExternalId) -> Written:
        uid = action.user.unique_id
        user_id = self.user_id(action.user)
        if self._links is None:
            held = self._snapshot.external_ids if self._snapshot is not None else ()
            ordered = sorted(held, key=lambda e: (e.value, e.user_id), reverse=True)
            self._links = {link.value: link.user_id for link in ordered}
        if self._links.get(uid) == user_id:
            return {"user_id": user_id, "existed": True}
        try:
            self.client.create_external_id(user_id, action.platform, uid)
        except TargetConflictError as exc:
            holders = {str(e["targetId"]) for e in self.client.iter_external_ids(action.platform, uid)}
            if exc.code != "valueAlreadyUsed" or user_id not in holders:
                raise
        self._links[uid] = user_id
        return {"user_id": user_id}

    def update_profile(self, action: UpdateProfile) -> Written:
        user_id = self.user_id(action.user)
        self.client.update_user(user_id, dict(action.fields))
        return {"user_id": user_id, "fields": [name for name, _ in action.fields]}

    def set_custom_values(self, action: SetCustomValues) -> Written:
        user_id = self.user_id(action.user)
        values = [
            {"customFieldId": v.field_id or self.field_id(v.title), "type": v.type, "value": v.value}
            for v in action.values
        ]
        self.client.put_custom_values(user_id, values)
        return {"user_id": user_id, "values": len(values)}

    def add_learners(self, action: AddLearners) -> dict[str, MemberFailure]:
        return self._learners("add", action.group, action.users)

    def remove_learners(self, action: RemoveLearners) -> dict[str, MemberFailure]:
        return self._learners("remove", action.group, action.users)

    def _learners(
        self, op: Literal["add", "remove"], group: GroupRef, users: tuple[UserRef, ...]
    ) -> dict[str, MemberFailure]:
        group_id = self.group_id(group)
        failures: dict[str, MemberFailure] = {}
        members: list[tuple[str, Membership]] = []
        for ref in users:
            try:
                members.append((ref.unique_id, Membership(self.user_id(ref), group_id, "learner")))
            except TargetError as exc:
                failures[ref.unique_id] = MemberFailure(exc.code or "unresolved_user", exc.message)
        if len(members) >= BULK_MIN:
            results = self.client.bulk_memberships(op, [m for _, m in members])
            for (uid, _), result in zip(members, results, strict=True):
                if not result.ok:
                    failures[uid] = _bulk_failure(result)
            return failures
        for uid, member in members:
            try:
                if op == "add":
                    self.client.add_role(member.group_id, "learner", member.user_id)
                else:
                    self.client.remove_role(member.group_id, "learner", member.user_id)
            except TargetAuthError:
                raise
            except LmsyncError as exc:
                code = exc.code if isinstance(exc, TargetError) and exc.code else type(exc).__name__
                failures[uid] = MemberFailure(code, exc.message)
        return failures

    def set_manager(self, action: SetManager) -> Written:
        user_id, manager_id = self.user_id(action.user), self.user_id(action.manager)
        self.client.add_manager(user_id, manager_id)
        return {"user_id": user_id, "manager_id": manager_id}

    def remove_manager(self, action: RemoveManager) -> Written:
        user_id = self.user_id(action.user)
        self.client.remove_manager(user_id, action.manager_id)
        return {"user_id": user_id, "manager_id": action.manager_id}

    def delete_user(self, action: DeleteUser) -> Written:
        user_id = self.user_id(action.user)
        self.client.delete_user(user_id)
        return {"user_id": user_id}


def _create_kwargs(profile: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {_CREATE_KWARGS[name]: value for name, value in profile if name in _CREATE_KWARGS}


def _bulk_failure(result: BulkItemResult) -> MemberFailure:
    """The sandbox and the LMS write ``"code: message"``; keep the code apart."""
    text = result.error or "failed"
    code, sep, message = text.partition(":")
    if sep and code and " " not in code:
        return MemberFailure(code, message.strip() or code)
    return MemberFailure("bulk_item_failed", text)


def _groups_in_reach(
    groups: list[LmsGroup], hris: Hris, previous: frozenset[str] = frozenset()
) -> tuple[tuple[LmsGroup, ...], set[str]]:
    """The groups the planner needs (the synchronized group's subtree, the rule groups, the
    groups earlier runs managed, and theirs) and, among them, those whose learners it needs:
    the root, the hierarchy down to its configured depth, the rule groups and the earlier ones."""
    children: dict[str, list[str]] = {}
    by_id = {group.id: group for group in groups}
    for group in groups:
        if group.parent_id is not None:
            children.setdefault(group.parent_id, []).append(group.id)
    # Rule groups and the groups earlier runs managed: each with its subtree, and its learners.
    tops = [rule.group for rule in hris.groups.rules if rule.group in by_id]
    tops += sorted(previous.intersection(by_id))
    keep: set[str] = set()
    for top in (hris.group, *tops):
        if top not in by_id:
            continue
        stack = [top]
        while stack:
            current = stack.pop()
            if current not in keep:
                keep.add(current)
                stack.extend(children.get(current, ()))
    scope: set[str] = {hris.group, *tops} & set(by_id)
    level = [hris.group] if hris.group in by_id else []
    for _ in hris.groups.hierarchy:
        level = [child for parent in level for child in children.get(parent, ())]
        scope.update(level)
    return tuple(by_id[gid] for gid in sorted(keep)), scope
