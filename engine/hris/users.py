"""The desired users of a file as a mapping that builds each ``DesiredUser`` only when asked.

A million frozen dataclasses cost seconds and hundreds of MiB, while a daily plan looks at
the few thousand users that changed. So ``build_desired`` keeps the normalized values in
columns (``DesiredColumns``) and ``DesiredUsers`` reads as the ``Mapping[str, DesiredUser]``
the state promises: same keys, same order (the file's), equal values. The planner reads the
columns directly for the users it can settle in bulk.

This module must never apply a row rule: it only stores what ``desired.py`` decided.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, ItemsView, Iterator, Mapping, Sequence, ValuesView
from itertools import compress, count, filterfalse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.hris.desired import DesiredUser


class DesiredColumns:
    """Normalized values of the rows that passed every rule, row-aligned with the file.

    ``groups[combo[i]]`` is row ``i``'s ``(group_path, rule_groups)``; ``managers`` is None
    when the file has no manager column.
    """

    __slots__ = ("combo", "custom", "emails", "groups", "lines", "managers", "profile", "unique_ids")

    def __init__(
        self,
        *,
        unique_ids: list[str],
        lines: Sequence[int],
        emails: list[str],
        profile: list[list[str]],
        custom: list[list[str]],
        managers: list[str] | None,
        combo: Sequence[int],
        groups: list[tuple[tuple[str, ...], tuple[str, ...]]],
    ) -> None:
        self.unique_ids, self.lines, self.emails = unique_ids, lines, emails
        self.profile, self.custom, self.managers = profile, custom, managers
        self.combo, self.groups = combo, groups


class DesiredUsers(Mapping[str, "DesiredUser"]):
    """``uniqueId`` → ``DesiredUser`` for the rows in ``order`` (row indexes, file order).

    Rows in ``decided`` were settled one by one (leavers, rows a shortcut could not decide)
    and hold their ``DesiredUser``; every other row is built from ``columns`` on access.
    """

    __slots__ = ("_index", "_some", "columns", "decided", "dropped", "order")

    def __init__(
        self,
        order: Sequence[int],
        decided: dict[int, DesiredUser],
        columns: DesiredColumns,
        dropped: Collection[int] = frozenset(),
    ) -> None:
        self.order = order
        self.decided = decided
        self.columns = columns
        #: Rows of the file not in ``order`` (set aside: duplicated, ignored, filtered out).
        self.dropped = dropped
        self._index: dict[str, int] | None = None
        self._some: dict[str, int] | None = None

    def user_at(self, row: int) -> DesiredUser:
        """The desired user of row ``row`` (which must be in ``order``)."""
        decided = self.decided.get(row)
        if decided is not None:
            return decided
        from engine.hris.desired import DesiredUser  # noqa: PLC0415 - desired.py imports this module

        c = self.columns
        path, rule_groups = c.groups[c.combo[row]]
        return DesiredUser(
            c.unique_ids[row],
            c.lines[row],
            True,
            c.emails[row],
            tuple([column[row] for column in c.profile]),
            tuple([column[row] for column in c.custom]),
            None if c.managers is None else c.managers[row],
            path,
            rule_groups,
        )

    def bulk_rows(self) -> Iterator[int]:
        """Rows built from the columns (active users that passed every rule), in order."""
        return filterfalse(self.decided.__contains__, self.order) if self.decided else iter(self.order)

    def index_only(self, unique_ids: Collection[str]) -> None:
        """Make looking up ``unique_ids`` cheap without indexing every row (a million-entry
        dict costs a third of a second): one C-level scan of the key column finds them.
        Keys indexed by an earlier call stay indexed."""
        if self._index is not None:
            return
        some = self._some or {}
        keys = set(unique_ids).difference(some)
        if not keys:
            return
        found = dict.fromkeys(keys, -1)
        order = self.order
        for row in compress(count(), map(keys.__contains__, self.columns.unique_ids)):
            if _holds(order, row):  # a key is on at most one kept row
                found[self.columns.unique_ids[row]] = row
        self._some = {**some, **found}

    def row_of(self, unique_id: str) -> int:
        """The row of ``unique_id`` (index it first with ``index_only`` when few are asked), or -1."""
        return self._row(unique_id)

    def _row(self, unique_id: str) -> int:
        """The row of ``unique_id``, or -1."""
        some = self._some
        if some is not None and unique_id in some:
            return some[unique_id]
        if self._index is None:
            self._index = dict(
                zip(map(self.columns.unique_ids.__getitem__, self.order), self.order, strict=True)
            )
        return self._index.get(unique_id, -1)

    def __getitem__(self, unique_id: str) -> DesiredUser:
        row = self._row(unique_id)
        if row < 0:
            raise KeyError(unique_id)
        return self.user_at(row)

    def __contains__(self, unique_id: object) -> bool:
        return isinstance(unique_id, str) and self._row(unique_id) >= 0

    def __iter__(self) -> Iterator[str]:
        return map(self.columns.unique_ids.__getitem__, self.order)

    def __len__(self) -> int:
        return len(self.order)

    def values(self) -> ValuesView[DesiredUser]:
        return _Values(self)

    def items(self) -> ItemsView[str, DesiredUser]:
        return _Items(self)

    def __repr__(self) -> str:
        return f"DesiredUsers({len(self)} users)"


def _holds(order: Sequence[int], row: int) -> bool:
    """Whether the sorted ``order`` holds ``row``."""
    if isinstance(order, range):
        return row in order
    at = bisect_left(order, row)
    return at < len(order) and order[at] == row


class _Values(ValuesView["DesiredUser"]):
    _mapping: DesiredUsers

    def __iter__(self) -> Iterator[DesiredUser]:
        return map(self._mapping.user_at, self._mapping.order)

    def __contains__(self, value: object) -> bool:
        return any(user is value or user == value for user in self)


class _Items(ItemsView[str, "DesiredUser"]):
    _mapping: DesiredUsers

    def __iter__(self) -> Iterator[tuple[str, DesiredUser]]:
        users = self._mapping
        return zip(iter(users), map(users.user_at, users.order), strict=True)
