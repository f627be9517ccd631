"""Compares the desired state with the snapshot and returns the plan: what to write, in order.

The rules decided here (see README "HRIS sync"): ownership (only users with our external id
are updated or deleted; an unlinked LMS user with the row's e-mail is adopted; a managed user
deleted in the LMS is restored), profile and custom-field reconciliation, group moves within
the connector's scope, managers once every user exists, the missing-users policy and the
deletion guard. Everything is keyed by ``uniqueId`` and emitted in a fixed order, so the same
inputs always give the same plan, and a snapshot equal to the desired state gives no action.
Users the LMS already matches (most of a daily file) are first settled in bulk
(``unchanged.py``); every other user goes through the per-user methods here, which remain
the one definition of a change.

This module must never do I/O, read a clock or mutate its inputs; it must never plan a write
to a user the connector does not manage (except adopting it), nor touch a role other than
learner or a group outside the scope ``groups.GroupTree`` computes (the groups this
configuration manages, and those earlier runs managed: ``GroupTree.former``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from operator import attrgetter, countOf
from typing import Any

from engine.config.models import Hris
from engine.errors import DeletionGuardError
from engine.hris import rows as rules
from engine.hris.actions import (
    Action,
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    GroupRef,
    LinkExternalId,
    PlannedValue,
    RemoveLearners,
    RemoveManager,
    RestoreUser,
    SetCustomValues,
    SetManager,
    UpdateProfile,
    UserRef,
)
from engine.hris.desired import DesiredState, DesiredUser
from engine.hris.gcpause import without_collector
from engine.hris.groups import GroupTree, ScopeLearners
from engine.hris.plan import Change, FieldChange, Guard, Plan, Summary
from engine.hris.rows import Problem
from engine.hris.snapshot import (
    PROFILE_ATTRIBUTES,
    CustomValue,
    LmsUser,
    Snapshot,
    definitions_by_name,
    fed_definition_ids,
)
from engine.hris.unchanged import Settled, manager_rows, settle
from engine.hris.users import DesiredUsers

_GroupKey = tuple[str | None, tuple[str, ...]]


class DeletionGuardTrippedError(DeletionGuardError):
    """The guard stopped the plan; ``plan`` is kept so a dry run can still show it."""

    def __init__(self, message: str, *, deletions: int, allowed: int, plan: Plan, hint: str) -> None:
        super().__init__(message, deletions=deletions, allowed=allowed, hint=hint)
        self.plan = plan


@without_collector
def plan_sync(
    desired: DesiredState, snapshot: Snapshot, config: Hris, *, allow_deletions: int | None = None
) -> Plan:
    """The plan turning ``snapshot`` into ``desired``; raises ``DeletionGuardTrippedError`` (a
    ``DeletionGuardError``) when it deletes more managed users than allowed."""
    return _Planner(desired, snapshot, config).plan(allow_deletions)


def deletion_limit(max_deletions: int | str, managed: int) -> int:
    """A count as is; a share of the managed users rounded down ("10%" of 25 → 2)."""
    if isinstance(max_deletions, int):
        return max_deletions
    return int(Fraction(max_deletions.rstrip("%")) * managed // 100)


class _Draft:
    """The change of one user while it is being planned."""

    __slots__ = ("action", "add", "fields", "remove")

    def __init__(self, action: str) -> None:
        self.action = action
        self.fields: list[FieldChange] = []
        self.add: list[str] = []
        self.remove: list[str] = []


class _Planner:
    def __init__(self, desired: DesiredState, snapshot: Snapshot, config: Hris) -> None:
        self.desired, self.snapshot, self.config = desired, snapshot, config
        self.tree = GroupTree(snapshot, config)
        self.root = config.group
        self.root_learners = snapshot.learners.get(config.group, frozenset())
        self.learners = ScopeLearners(self.tree, snapshot.learners)
        self.group_rules = bool(config.groups.rules)
        self._custom_setup()
        attrs = tuple(PROFILE_ATTRIBUTES[name] for name in desired.profile_fields)
        # attrgetter returns a bare value for one name and a tuple for several: always a tuple.
        self.profile_of: Any = None
        if len(attrs) == 1:
            self.profile_of = lambda user, name=attrs[0]: (getattr(user, name),)
        elif attrs:
            self.profile_of = attrgetter(*attrs)
        self.drafts: dict[str, _Draft] = {}
        self.problems: list[Problem] = []
        self.new_users: set[str] = set()
        self.adopted: dict[str, str] = {}
        self.skipped: set[str] = set()
        self.deleting: set[str] = set()
        self.existing = self.ignored = self.no_group_rule = 0
        self.creates: list[CreateUser | RestoreUser] = []
        self.links: list[LinkExternalId] = []
        self.updates: list[UpdateProfile] = []
        self.custom_sets: list[SetCustomValues] = []
        self.new_groups: dict[tuple[str, ...], CreateGroup] = {}
        self.adds: dict[_GroupKey, list[UserRef]] = {}
        self.removes: dict[_GroupKey, list[UserRef]] = {}
        self.set_managers: list[SetManager] = []
        self.remove_managers: list[RemoveManager] = []
        self.deletes: list[DeleteUser] = []

    # --- custom fields -----------------------------------------------------------------

    def _custom_setup(self) -> None:
        by_name = definitions_by_name(self.snapshot.custom_fields)
        self.field_names = {d.id: d.name for d in self.snapshot.custom_fields}
        self.targets: list[tuple[str, str, str | None]] = []
        self.new_fields: list[CreateCustomField] = []
        for target in self.desired.custom_fields:
            found = by_name.get(target.title)
            if found is None:
                # Deleted, or renamed in the LMS: either way a definition with our title is made.
                self.new_fields.append(CreateCustomField(target.title, target.type))
                self.targets.append((target.title, target.type, None))
            else:
                self.targets.append((target.title, found.type, found.id))
        self.managed_fields = frozenset(fid for _, _, fid in self.targets if fid is not None)
        still_ours = fed_definition_ids(self.snapshot.custom_fields, self.config.custom_field_titles)
        # Definitions we fed before that no longer carry a configured title were renamed in
        # the LMS: the reference removes them from every synced user.
        self.stale_fields = self.snapshot.previous_custom_fields - still_ours

    def _custom(
        self, user: DesiredUser, ref: UserRef, current: tuple[CustomValue, ...], draft: list[FieldChange]
    ) -> None:
        if not self.targets and not self.stale_fields:
            return
        values_now = {cv.field_id: cv.value for cv in current}
        changed: list[FieldChange] = []
        for (title, _, field_id), value in zip(self.targets, user.custom, strict=True):
            before = values_now.get(field_id, "") if field_id is not None else ""
            if before != value:
                changed.append(FieldChange(f"custom:{title}", before or None, value or None))
        for cv in current:
            if cv.field_id in self.stale_fields:
                changed.append(
                    FieldChange(f"custom:{self.field_names.get(cv.field_id, cv.field_id)}", cv.value, None)
                )
        if not changed:
            return
        # The PUT replaces the whole list, so the action carries it whole: unmanaged values
        # copied untouched, then ours (an empty cell clears ours by leaving it out).
        kept = [
            PlannedValue(cv.field_id, self.field_names.get(cv.field_id, ""), cv.type, cv.value)
            for cv in current
            if cv.field_id not in self.managed_fields and cv.field_id not in self.stale_fields
        ]
        ours = [
            PlannedValue(field_id, title, kind, value)
            for (title, kind, field_id), value in zip(self.targets, user.custom, strict=True)
            if value
        ]
        self.custom_sets.append(SetCustomValues(ref, (*kept, *ours)))
        draft.extend(changed)

    # --- users -------------------------------------------------------------------------

    def plan(self, allow_deletions: int | None) -> Plan:
        by_unique_id = self.snapshot.by_unique_id
        users = self.desired.users
        # Rows the columnar pass already found unchanged (not in ``users``): _sync's counts.
        self.existing += self.desired.settled
        if self.group_rules:
            self.no_group_rule += self.desired.settled_without_rule
        settled: Settled | None = None
        alone: Iterable[DesiredUser] = users.values()
        if isinstance(users, DesiredUsers) and not self.desired.settled:
            # Users the LMS already matches are settled in bulk; the rest one by one, here.
            # (Not when the columnar pass already settled them: the rows left are changes.)
            settled = self._settle(users)
            alone = [users.user_at(row) for row in sorted((*users.decided, *settled.others))]
        elif self.desired.settled:
            alone = list(users.values())
        # Rows sharing an e-mail are decided before anyone is planned: which one may have
        # it depends on all of them, and a skipped row must not name a manager or be one.
        skipped_rows = self._shared_emails(users, alone)
        if settled is not None and isinstance(users, DesiredUsers):
            if skipped_rows:
                settled = settled.without(skipped_rows)
            self._count_settled(users, settled)
        if settled is not None or self.desired.settled:
            linked = (by_unique_id.get(user.unique_id) for user in alone)
            self.learners.prefetch({user.id for user in linked if user is not None})
        for user in alone:
            if user.active:
                if user.unique_id not in self.skipped:
                    self._sync(user)
            elif user.unique_id in by_unique_id:
                self._delete(user.unique_id)
        if self.config.missing_users == "delete":
            present = self.desired.present
            for unique_id in by_unique_id:
                if unique_id not in present:
                    self._delete(unique_id)
        if self.desired.has_manager:
            managed = [
                user
                for user in alone
                if user.active and user.manager is not None and user.unique_id not in self.skipped
            ]
            if settled is not None and isinstance(users, DesiredUsers):
                again = manager_rows(users, settled, self.deleting | self.skipped)
                managed.extend(map(users.user_at, again))
                # Managers named by these users are looked up in the file: index only them.
                users.index_only({user.manager for user in managed if user.manager})
            for user in managed:
                self._manager(user)
        return self._assemble(allow_deletions)

    def _settle(self, users: DesiredUsers) -> Settled:
        targets = self.targets
        managed_custom = targets or self.stale_fields
        settled = settle(
            users,
            self.snapshot.by_unique_id,
            profile_attributes=tuple(PROFILE_ATTRIBUTES[name] for name in self.desired.profile_fields),
            custom_field_ids=tuple(field_id for _, _, field_id in targets) if managed_custom else None,
            stale_fields=self.stale_fields,
            wanted_groups=self.tree.wanted_groups,
            learners=self.learners,
            root_learners=self.root_learners,
            former_learners=self.learners.former_everyone,
        )
        return settled

    def _count_settled(self, users: DesiredUsers, settled: Settled) -> None:
        """What _sync counts for each settled user: existing, and matched by no rule."""
        self.existing += len(settled.rows)
        if self.group_rules:
            unmatched = [not rule_groups for _, rule_groups in users.columns.groups]
            combos = map(users.columns.combo.__getitem__, settled.rows)
            self.no_group_rule += countOf(map(unmatched.__getitem__, combos), True)

    def _shared_emails(self, users: Mapping[str, DesiredUser], alone: Iterable[DesiredUser]) -> set[int]:
        """Skip the synced rows of different ``uniqueId``s that ask for one e-mail: the LMS
        gives an address to one user only, so planning them all would promise what the run
        cannot do. The row linked to the LMS user holding the address keeps it (the others:
        ``email_in_use``); when none is, all are skipped (``duplicated_email``). Returns the
        settled rows (bulk path) skipped this way.

        Only rows of ``alone`` are looked at one by one. A settled row matches its LMS user's
        e-mail exactly, so it can share an e-mail only with a row of ``alone`` (it is then
        linked to a holder of that e-mail) or with another settled row (two LMS users then
        hold it: ``Snapshot.mail_holders``); both are found through the holders."""
        snapshot = self.snapshot
        sharing: dict[str, dict[str, DesiredUser]] = {}
        for user in alone:
            if user.active:
                sharing.setdefault(user.email, {})[user.unique_id] = user
        seen = {uid for group in sharing.values() for uid in group}
        holders: set[str] = set()
        for email in (*sharing, *snapshot.mail_holders):
            held = snapshot.mail_holders.get(email) or (snapshot.by_mail.get(email),)
            for holder in held:
                uid = snapshot.unique_id_of.get(holder.id) if holder is not None else None
                if uid is not None and uid not in seen:
                    holders.add(uid)
        if holders and isinstance(users, DesiredUsers):
            users.index_only(holders)
        added: set[str] = set()
        for uid in sorted(holders):
            found = users.get(uid)
            if found is not None and found.active:
                sharing.setdefault(found.email, {})[uid] = found
                added.add(uid)
        skipped_rows: set[int] = set()
        for email, group in sharing.items():
            if len(group) < 2:
                continue
            rows = sorted(group.values(), key=attrgetter("line"))
            holder = snapshot.by_mail.get(email)
            owner = snapshot.unique_id_of.get(holder.id) if holder is not None else None
            lines = [user.line for user in rows]
            for user in rows:
                uid = user.unique_id
                if uid == owner:
                    continue
                if owner in group:
                    others = ", ".join(str(line) for line in lines if line != user.line)
                    problem = rules.problem_email_in_use(
                        user.line,
                        uid,
                        f"the e-mail is also on line(s) {others}, and the LMS user holding it is linked "
                        f"to uniqueId {owner}, whose row keeps it; this row is skipped until it has its own",
                    )
                else:
                    problem = rules.problem_duplicated_email(user.line, uid, lines)
                self.problems.append(problem)
                self.skipped.add(uid)
                self.ignored += 1
                if uid in added and isinstance(users, DesiredUsers):
                    skipped_rows.add(users.row_of(uid))
        return skipped_rows

    def _sync(self, user: DesiredUser) -> None:
        current = self.snapshot.by_unique_id.get(user.unique_id)
        if current is None:
            holder = self.snapshot.by_mail.get(user.email)
            if holder is not None and holder.status != "deleted":
                if self.snapshot.is_managed(holder.id):
                    other = self.snapshot.unique_id_of[holder.id]
                    return self._skip(
                        user,
                        f"the e-mail already belongs to the LMS user of uniqueId {other}; "
                        "one of the two rows has a wrong e-mail",
                    )
                return self._adopt(user, holder)
            return self._create(user, None)
        if current.status == "deleted":
            holder = self.snapshot.by_mail.get(user.email)
            if holder is not None and holder.status != "deleted" and holder.id != current.id:
                return self._skip(
                    user,
                    "the user must be restored but another LMS user now holds its e-mail; "
                    "change one of the two addresses",
                )
            return self._create(user, current)
        self.existing += 1
        former = self.learners.former_of(current.id)
        return self._update(user, current, UserRef(user.unique_id, current.id), None, former=former)

    def _skip(self, user: DesiredUser, why: str) -> None:
        self.problems.append(rules.problem_email_in_use(user.line, user.unique_id, f"{why}; row skipped"))
        self.skipped.add(user.unique_id)
        self.ignored += 1

    def _create(self, user: DesiredUser, deleted: LmsUser | None) -> None:
        uid = user.unique_id
        profile = tuple(
            (name, value)
            for name, value in zip(self.desired.profile_fields, user.profile, strict=True)
            if value
        )
        invite = not self.config.silent
        if deleted is None:
            self.creates.append(CreateUser(uid, user.email, profile, self.root, invite))
            draft = _Draft("create")
        else:
            self.creates.append(RestoreUser(uid, deleted.id, user.email, profile, self.root, invite))
            draft = _Draft("restore")
        ref = UserRef(uid, None)
        self.links.append(LinkExternalId(ref, self.config.platform))
        draft.fields.append(FieldChange("mail", None, user.email))
        draft.fields.extend(FieldChange(name, None, value) for name, value in profile)
        draft.add.append(self.tree.display(self.root, ()))
        self.new_users.add(uid)
        self.drafts[uid] = draft
        self._custom(user, ref, (), draft.fields)
        self._groups(user, ref, True, (), draft)

    def _adopt(self, user: DesiredUser, holder: LmsUser) -> None:
        ref = UserRef(user.unique_id, holder.id)
        self.links.append(LinkExternalId(ref, self.config.platform))
        self.adopted[user.unique_id] = holder.id
        self._update(user, holder, ref, _Draft("adopt"))

    def _update(
        self,
        user: DesiredUser,
        current: LmsUser,
        ref: UserRef,
        draft: _Draft | None,
        *,
        former: tuple[str, ...] = (),
    ) -> None:
        """``former``: groups the connector no longer manages where this user, linked before
        this plan, is still learner (never for an adopted user: it gave no role there)."""
        fields: list[FieldChange] = []
        patch: list[tuple[str, str | None]] = []
        if current.mail != user.email and current.mail.strip().lower() != user.email:
            holder = self.snapshot.by_mail.get(user.email)
            if holder is not None and holder.status != "deleted" and holder.id != current.id:
                self.problems.append(
                    rules.problem_email_in_use(
                        user.line,
                        user.unique_id,
                        "the new e-mail already belongs to another LMS user; the e-mail is left unchanged "
                        "and the rest of the row is synced",
                        synced=True,
                    )
                )
            else:
                patch.append(("mail", user.email))
                fields.append(FieldChange("mail", current.mail, user.email))
        if self.profile_of is not None:
            now = self.profile_of(current)
            if now != user.profile:
                for name, before, after in zip(self.desired.profile_fields, now, user.profile, strict=True):
                    if (before or "") != after:
                        patch.append((name, after or None))
                        fields.append(FieldChange(name, before or None, after or None))
        if patch:
            self.updates.append(UpdateProfile(ref, tuple(patch)))
        self._custom(user, ref, current.custom_fields, fields)
        group_draft = draft or _Draft("update")
        self._groups(
            user,
            ref,
            current.id in self.root_learners,
            self.learners.of(current.id),
            group_draft,
            former=former,
        )
        if fields or group_draft.add or group_draft.remove or draft is not None:
            group_draft.fields[:0] = fields
            self.drafts[user.unique_id] = group_draft

    def _delete(self, unique_id: str) -> None:
        current = self.snapshot.by_unique_id.get(unique_id)
        if current is None or current.status == "deleted" or unique_id in self.deleting:
            return
        self.deletes.append(DeleteUser(UserRef(unique_id, current.id)))
        self.deleting.add(unique_id)
        self.drafts[unique_id] = _Draft("delete")

    # --- groups ------------------------------------------------------------------------

    def _groups(
        self,
        user: DesiredUser,
        ref: UserRef,
        in_root: bool,
        have: tuple[str, ...],
        draft: _Draft,
        *,
        former: tuple[str, ...] = (),
    ) -> None:
        want: set[str] = set(user.rule_groups)
        new_leaf: tuple[str, ...] | None = None
        if user.group_path:
            leaf = self.tree.by_path.get(user.group_path)
            if leaf is None:
                new_leaf = user.group_path
                self._plan_group(user.group_path)
            else:
                want.add(leaf)
        if self.group_rules and not user.rule_groups:
            self.no_group_rule += 1
        want.discard(self.root)
        if not in_root and ref.user_id is not None:
            self._learner(self.adds, (self.root, ()), ref, draft.add)
        if want == set(have) and new_leaf is None and not former:
            return
        removed = [group for group in have if group not in want]
        removed.extend(former)  # never wanted: outside the current scope
        for group in sorted(removed):
            self._learner(self.removes, (group, ()), ref, draft.remove)
        for group in sorted(want.difference(have)):
            self._learner(self.adds, (group, ()), ref, draft.add)
        if new_leaf is not None:
            self._learner(self.adds, (None, new_leaf), ref, draft.add)
        if removed:
            # Leaving a group also leaves its public subgroups: add back those still wanted,
            # after the removal (removals are applied first), so a move never undoes itself.
            cascade = set().union(*(self.tree.public_descendants(group) for group in removed))
            for group in sorted(cascade.intersection(want, have)):
                self._learner(self.adds, (group, ()), ref, None)
            if in_root and self.root in cascade:
                self._learner(self.adds, (self.root, ()), ref, None)

    def _learner(
        self, batches: dict[_GroupKey, list[UserRef]], key: _GroupKey, ref: UserRef, shown: list[str] | None
    ) -> None:
        batches.setdefault(key, []).append(ref)
        if shown is not None:
            shown.append(self.tree.display(*key))

    def _plan_group(self, path: tuple[str, ...]) -> None:
        for prefix in self.tree.missing_prefixes(path, self.new_groups):
            parent_path = prefix[:-1]
            parent_id = self.root if not parent_path else self.tree.by_path.get(parent_path)
            self.new_groups[prefix] = CreateGroup(prefix, prefix[-1], GroupRef(parent_id, parent_path))

    # --- managers ----------------------------------------------------------------------

    def _ref(self, unique_id: str) -> UserRef:
        if unique_id in self.new_users:
            return UserRef(unique_id, None)
        if unique_id in self.adopted:
            return UserRef(unique_id, self.adopted[unique_id])
        return UserRef(unique_id, self.snapshot.by_unique_id[unique_id].id)

    def _manager(self, user: DesiredUser) -> None:
        uid, wanted = user.unique_id, user.manager
        if wanted:
            # Fast path for the common case: both linked already and the manager unchanged.
            by_unique_id = self.snapshot.by_unique_id
            current_user, boss = by_unique_id.get(uid), by_unique_id.get(wanted)
            if (
                current_user is not None
                and boss is not None
                and current_user.managers == (boss.id,)
                and current_user.status != "deleted"
                and boss.status != "deleted"
                and wanted != uid
                and wanted not in self.deleting
                and wanted not in self.skipped
            ):
                return
        ref = self._ref(uid)
        current = () if ref.user_id is None else self.snapshot.by_id[ref.user_id].managers
        if wanted == "":
            for manager_id in current:
                self.remove_managers.append(RemoveManager(ref, manager_id))
            if current:
                self._manager_change(uid, current, None)
            return
        target = self._manager_target(user)
        if target is None or (target.user_id is not None and current == (target.user_id,)):
            return
        self.set_managers.append(SetManager(ref, target))
        for manager_id in current:
            if manager_id != target.user_id:
                self.remove_managers.append(RemoveManager(ref, manager_id))
        self._manager_change(uid, current, wanted)

    def _manager_target(self, user: DesiredUser) -> UserRef | None:
        wanted = user.manager or ""
        row = self.desired.users.get(wanted)
        if wanted == user.unique_id:
            reason = "names the user itself"
        elif row is not None and row.active and wanted not in self.skipped:
            return self._ref(wanted)
        elif wanted in self.deleting or (row is not None and not row.active):
            reason = "names a user this sync deletes"
        else:
            managed = self.snapshot.by_unique_id.get(wanted)
            if managed is not None and managed.status != "deleted":
                return UserRef(wanted, managed.id)
            reason = "names no uniqueId of the file nor of a user this connector manages"
        self.problems.append(rules.problem_unknown_manager(user.line, user.unique_id, reason))
        return None

    def _manager_change(self, unique_id: str, current: tuple[str, ...], wanted: str | None) -> None:
        names = self.snapshot.unique_id_of
        before = ", ".join(sorted(names.get(manager_id, manager_id) for manager_id in current)) or None
        self.drafts.setdefault(unique_id, _Draft("update")).fields.append(
            FieldChange("manager", before, wanted)
        )

    # --- the plan ----------------------------------------------------------------------

    def _assemble(self, allow_deletions: int | None) -> Plan:
        def batches(
            source: dict[_GroupKey, list[UserRef]], kind: type[AddLearners | RemoveLearners]
        ) -> list[Action]:
            ordered = sorted(source.items(), key=lambda item: (item[0][1], item[0][0] or ""))
            return [
                kind(GroupRef(group_id, path), tuple(sorted(dict.fromkeys(refs), key=_by_unique_id)))
                for (group_id, path), refs in ordered
            ]

        actions: list[Action] = [
            *sorted(self.new_fields, key=lambda a: a.title),
            *(self.new_groups[path] for path in sorted(self.new_groups)),
            *sorted(self.creates, key=lambda a: a.unique_id),
            *sorted(self.links, key=lambda a: a.user.unique_id),
            *sorted(self.updates, key=lambda a: a.user.unique_id),
            *sorted(self.custom_sets, key=lambda a: a.user.unique_id),
            *batches(self.removes, RemoveLearners),
            *batches(self.adds, AddLearners),
            *sorted(self.set_managers, key=lambda a: a.user.unique_id),
            *sorted(self.remove_managers, key=lambda a: (a.user.unique_id, a.manager_id)),
            *sorted(self.deletes, key=lambda a: a.user.unique_id),
        ]
        counts = {"create": 0, "update": 0, "delete": 0, "restore": 0, "adopt": 0}
        changes: list[Change] = []
        for unique_id in sorted(self.drafts):
            draft = self.drafts[unique_id]
            counts[draft.action] += 1
            changes.append(
                Change(
                    draft.action,
                    unique_id,
                    tuple(draft.fields),
                    tuple(sorted(set(draft.add))),
                    tuple(sorted(set(draft.remove))),
                )
            )
        # Existing users without a change are unchanged; adoptions are counted as updates.
        summary = Summary(
            create=counts["create"],
            update=counts["update"] + counts["adopt"],
            delete=counts["delete"],
            restore=counts["restore"],
            unchanged=self.existing - counts["update"],
            duplicated=self.desired.duplicated,
            ignored=self.desired.ignored + self.ignored,
            filtered_out=self.desired.filtered_out,
            no_group_rule=self.no_group_rule,
        )
        problems = tuple(sorted((*self.desired.problems, *self.problems), key=lambda p: (p.line, p.code)))
        managed = self.snapshot.managed_count()
        limit = deletion_limit(self.config.safety.max_deletions, managed)
        allowed = limit if allow_deletions is None else max(limit, allow_deletions)
        deletions = len(self.deletes)
        guard = Guard(deletions=deletions, allowed=allowed, tripped=deletions > allowed)
        plan = Plan(tuple(actions), summary, problems, tuple(changes), guard)
        if guard.tripped:
            raise DeletionGuardTrippedError(
                f"this plan deletes {deletions} managed user(s), more than hris.safety.max_deletions "
                f"allows ({limit} of {managed} managed users); nothing was written",
                deletions=deletions,
                allowed=allowed,
                plan=plan,
                hint=f"check the file first (a truncated export looks like this); if the deletions are "
                f"intended, run again with --allow-deletions {deletions}",
            )
        return plan


def _by_unique_id(ref: UserRef) -> str:
    return ref.unique_id
