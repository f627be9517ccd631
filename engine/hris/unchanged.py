"""Finds, column by column, the users the LMS already matches: most of a daily file.

On a daily sync 95% or more of the rows ask for what the LMS already holds. Planning each of
them one by one (``planner._Planner._sync``) costs a few microseconds and several objects per
user; here whole columns are compared with C-level passes and those users are settled
without building anything. A user is settled only when every check the per-user planner
makes is known to find no change (linked and active, same e-mail and profile, custom values
exactly ours, learner of exactly the wanted groups, same manager); any doubt sends the user
to the per-user planner, which stays the single definition of what a change is.

This module must never emit an action or a problem: it only says who needs no planning.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from itertools import compress, count, filterfalse, repeat
from operator import and_, attrgetter, contains, eq, itemgetter, ne, not_, or_
from typing import Any

from engine.hris.bulk import Distinct
from engine.hris.groups import ScopeLearners
from engine.hris.snapshot import CustomValue, LmsUser
from engine.hris.users import DesiredUsers

#: Stands for "no LMS user" so attribute passes need no None test; its status fails every check.
_NOBODY = LmsUser("\0lmsync:nobody", "", "deleted")


#: Rows per block: every check runs on a block while its LMS users are still in cache.
_BLOCK = 4096


class Settled:
    """Rows whose user needs no change (``rows``, file order), the rows left to the per-user
    planner (``others``), and for each settled row whether its manager cell already holds
    (``manager_kept``; empty when the file has no manager column)."""

    __slots__ = ("manager_kept", "others", "rows")

    def __init__(self, rows: list[int], others: list[int], manager_kept: list[bool]) -> None:
        self.rows, self.others, self.manager_kept = rows, others, manager_kept

    def without(self, dropped: Collection[int]) -> Settled:
        """The same minus ``dropped`` settled rows (the planner skips them after all: a row
        sharing its e-mail with another may match the LMS and still be set aside)."""
        keep = [row not in dropped for row in self.rows]
        kept = list(compress(self.manager_kept, keep)) if self.manager_kept else self.manager_kept
        return Settled(list(compress(self.rows, keep)), self.others, kept)


def settle(
    users: DesiredUsers,
    by_unique_id: Mapping[str, LmsUser],
    *,
    profile_attributes: tuple[str, ...],
    custom_field_ids: tuple[str | None, ...] | None,
    stale_fields: Collection[str],
    wanted_groups: Callable[[tuple[str, ...], tuple[str, ...]], tuple[str, ...] | None],
    learners: ScopeLearners,
    root_learners: Collection[str],
    former_learners: Collection[str] = frozenset(),
) -> Settled:
    """Split the users built from columns (``users.bulk_rows()``) into settled and not.

    ``custom_field_ids``: the definition id of each managed custom field in column order
    (None for one this plan creates), or None when the plan manages no custom value at all;
    ``stale_fields``: definitions whose values the plan removes (renamed in the LMS);
    ``wanted_groups(path, rule_groups)``: the sorted scope groups (root excluded) the user
    must be learner of, or None when the plan creates its group; ``former_learners``: users
    still learner of a group the connector no longer manages (the plan takes that role back).

    Every check runs on every row of the columns, a block at a time (a pass costs less
    than picking rows out); rows that are not ``bulk_rows`` are left out at the end.
    """
    c = users.columns
    groups = _GroupCheck(c.groups, wanted_groups, learners)
    profile_of = attrgetter("status", "mail", *profile_attributes)
    boss_of = Distinct(_expected_managers(by_unique_id))
    rows: list[int] = []
    others: list[int] = []
    kept: list[bool] = []
    for start in range(0, len(c.unique_ids), _BLOCK):
        end = start + _BLOCK
        unique_ids = c.unique_ids[start:end]
        found = list(map(by_unique_id.get, unique_ids, repeat(_NOBODY)))
        # Linked, active, same e-mail and profile: status "active" also rules out invited
        # and deleted users, which the per-user planner handles.
        same = _same_profile(found, profile_of, c.emails[start:end], [p[start:end] for p in c.profile])
        if custom_field_ids is not None:
            custom = [column[start:end] for column in c.custom]
            same = map(and_, same, _same_custom_values(found, custom_field_ids, custom, stale_fields))
        ids = list(map(_id_of, found))
        same = groups.same(same, ids, c.combo[start:end])
        same = map(and_, same, map(root_learners.__contains__, ids))
        if former_learners:
            same = map(and_, same, map(not_, map(former_learners.__contains__, ids)))
        flags = list(same)
        block = range(start, start + len(flags))
        rows.extend(compress(block, flags))
        others.extend(compress(block, map(not_, flags)))
        if c.managers is not None:
            managers = c.managers[start:end]
            holds = map(eq, map(_managers_of, found), map(boss_of.__getitem__, managers))
            kept.extend(compress(map(and_, holds, map(ne, managers, unique_ids)), flags))
    if users.decided or users.dropped:
        excluded = set(users.decided).union(users.dropped)  # few rows: probed in C below
        keep = list(map(not_, map(excluded.__contains__, rows)))
        rows = list(compress(rows, keep))
        kept = list(compress(kept, keep)) if kept else kept
        others = list(filterfalse(excluded.__contains__, others))
    return Settled(rows, others, kept)


def manager_rows(users: DesiredUsers, settled: Settled, unavailable: Collection[str]) -> list[int]:
    """Settled rows whose manager may change: the per-user planner decides those.

    A settled user keeps its manager when the cell names a linked, live user other than
    itself, who is its only manager now, and whom this plan neither deletes nor skips
    (``unavailable``); or when the cell is empty and it has no manager.
    """
    managers = users.columns.managers
    if managers is None:
        return []
    rows, kept = settled.rows, settled.manager_kept
    again = list(compress(rows, map(not_, kept)))
    if unavailable:
        held = list(compress(rows, kept))
        again.extend(compress(held, map(unavailable.__contains__, map(managers.__getitem__, held))))
        again.sort()
    return again


def _expected_managers(by_unique_id: Mapping[str, LmsUser]) -> Callable[[str], tuple[str, ...] | None]:
    def expected(unique_id: str) -> tuple[str, ...] | None:
        if not unique_id:
            return ()  # an empty cell keeps a user without manager as it is
        boss = by_unique_id.get(unique_id)
        return (boss.id,) if boss is not None and boss.status != "deleted" else None

    return expected


class _GroupCheck:
    """Whether each user is learner of exactly the scope groups its row wants.

    For a row wanting groups W: learner of each of W and of no other scope group, i.e. of
    as many as W holds; for a row wanting none: learner of no scope group at all.
    """

    def __init__(
        self,
        combos: list[tuple[tuple[str, ...], tuple[str, ...]]],
        wanted_groups: Callable[[tuple[str, ...], tuple[str, ...]], tuple[str, ...] | None],
        learners: ScopeLearners,
    ) -> None:
        wanted = [wanted_groups(path, rule_groups) for path, rule_groups in combos]
        nothing: frozenset[str] = frozenset()
        width = max((len(w) for w in wanted if w), default=1)
        # Per combination and position: the set the user must be in (True) or out of (False).
        self.tests: list[tuple[list[Collection[str]], list[bool]]] = []
        for j in range(width):
            sets: list[Collection[str]] = []
            expect: list[bool] = []
            for w in wanted:
                if w is None:  # its group is created by this plan: never settled
                    sets.append(nothing)
                    expect.append(True)
                elif not w:
                    sets.append(learners.everyone if learners.groups else nothing)
                    expect.append(False)
                else:
                    sets.append(learners.members[w[j] if j < len(w) else w[0]])
                    expect.append(True)
            self.tests.append((sets, expect))
        repeated = learners.repeated if width > 1 or any(w for w in wanted) else {}
        self.repeated = repeated
        self.counts = [max(len(w or ()), 1) for w in wanted]

    def same(self, same: Iterator[bool], ids: list[str], combo: Sequence[int]) -> Iterator[bool]:
        for sets, expect in self.tests:
            inside = map(contains, map(sets.__getitem__, combo), ids)
            if all(expect):  # the usual case: every row wants to be in its group
                same = map(and_, same, inside)
            else:
                same = map(and_, same, map(eq, inside, map(expect.__getitem__, combo)))
        if self.repeated:
            counts = map(self.repeated.get, ids, repeat(1))
            same = map(and_, same, map(eq, counts, map(self.counts.__getitem__, combo)))
        return same


def _same_profile(
    found: list[LmsUser], profile_of: attrgetter[Any], emails: list[str], profile: list[list[str]]
) -> Iterator[bool]:
    """An empty cell matches an empty field, which the LMS gives as None (or "")."""
    now = map(profile_of, found)
    wanted = zip(repeat("active"), emails, *profile)
    if not any("" in column for column in profile):
        return map(eq, now, wanted)
    now_list = list(now)
    as_none = [
        list(map(_EMPTY_AS_NONE.get, column, column)) if "" in column else column for column in profile
    ]
    return map(
        or_,
        map(eq, now_list, wanted),
        map(eq, now_list, zip(repeat("active"), emails, *as_none)),
    )


def _same_custom_values(
    current: list[LmsUser],
    field_ids: tuple[str | None, ...],
    columns: list[list[str]],
    stale: Collection[str],
) -> list[bool]:
    """Whether the PUT of custom values would change nothing for each user: each managed
    value equal to its cell (absent counts as empty) and no stale value left.

    Users holding exactly our values, in our order, are settled in C; any other (unmanaged
    values, an empty cell, another order) by ``_custom_unchanged``, one by one.
    """
    values = list(map(_custom_of, current))
    size = len(field_ids)
    sizes = list(map(len, values))
    same: Iterator[bool] = map(eq, sizes, repeat(size))
    lined_up = values
    if size and sizes.count(size) != len(sizes):
        # Those rows already fail on their size; a stand-in keeps [j] below from failing.
        stand_in = tuple(CustomValue(str(field_id), "", "") for field_id in field_ids)
        lined_up = [value if n == size else stand_in for value, n in zip(values, sizes, strict=True)]
    for j, (field_id, column) in enumerate(zip(field_ids, columns, strict=True)):
        pairs = map(_field_and_value, map(itemgetter(j), lined_up))
        same = map(and_, same, map(eq, pairs, zip(repeat(field_id), column)))
    flags = list(same)
    for k in compress(count(), map(not_, flags)):
        flags[k] = _custom_unchanged(values[k], [column[k] for column in columns], field_ids, stale)
    return flags


def _custom_unchanged(
    current: tuple[CustomValue, ...],
    wanted: list[str],
    field_ids: tuple[str | None, ...],
    stale: Collection[str],
) -> bool:
    """``_Planner._custom`` finding nothing to change, for one user."""
    now = {value.field_id: value.value for value in current}
    for field_id, value in zip(field_ids, wanted, strict=True):
        if (now.get(field_id, "") if field_id is not None else "") != value:
            return False
    return not any(value.field_id in stale for value in current)


_id_of = attrgetter("id")
_custom_of = attrgetter("custom_fields")
_managers_of = attrgetter("managers")
_field_and_value = attrgetter("field_id", "value")
_EMPTY_AS_NONE: dict[str, None] = {"": None}
