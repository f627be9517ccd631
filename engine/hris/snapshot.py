"""The target's current state, as the planner needs it: frozen values, indexed once.

A target adapter fills a ``Snapshot`` from the LMS API (users, the external ids of our
platform, custom field definitions, the synchronized group with its descendants and the rule
groups, and the learners of those groups); the planner only reads it. Keeping the snapshot a
plain value is what lets the plan be computed without a server and compared byte for byte.

This module must never talk to the LMS or read a clock: it describes, it does not fetch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter, countOf
from typing import Any, Literal, overload

UserStatus = Literal["active", "invited", "deleted"]
CustomFieldType = Literal["string", "date"]


@dataclass(frozen=True, slots=True)
class CustomValue:
    """One custom field value on a user (``customFields[]`` of the LMS API)."""

    field_id: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class LmsUser:
    """One LMS user (API v2 ``/users``). Empty profile fields are ``None`` or ``""``."""

    id: str
    mail: str
    status: UserStatus = "active"
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    job: str | None = None
    lang: str | None = None
    custom_fields: tuple[CustomValue, ...] = ()
    managers: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The default repr would print an employee's e-mail and name into logs and tracebacks.
        return f"LmsUser(id={self.id!r}, status={self.status!r})"


@dataclass(frozen=True, slots=True)
class ExternalId:
    """A link ``uniqueId`` → LMS user recorded under our platform name."""

    user_id: str
    value: str


@dataclass(frozen=True, slots=True)
class CustomFieldDefinition:
    """A custom field definition of the platform (``{_id, name, type}``)."""

    id: str
    name: str
    type: str = "string"


def definitions_by_name(definitions: Iterable[CustomFieldDefinition]) -> dict[str, CustomFieldDefinition]:
    """The definition the planner feeds for each name: with two of one name, the smallest id
    (so that every run picks the same one)."""
    by_name: dict[str, CustomFieldDefinition] = {}
    for definition in sorted(definitions, key=attrgetter("id")):
        by_name.setdefault(definition.name, definition)
    return by_name


def fed_definition_ids(definitions: Iterable[CustomFieldDefinition], titles: Collection[str]) -> set[str]:
    """Ids of the definitions carrying ``titles``, one per title (``definitions_by_name``)."""
    by_name = definitions_by_name(definitions)
    return {by_name[title].id for title in titles if title in by_name}


@dataclass(frozen=True, slots=True)
class LmsGroup:
    """A group (``{_id, name, parentId, public}``)."""

    id: str
    name: str
    parent_id: str | None = None
    public: bool = False


#: Profile attributes of ``LmsUser`` by LMS API field name.
PROFILE_ATTRIBUTES: Mapping[str, str] = {
    "mail": "mail",
    "firstName": "first_name",
    "lastName": "last_name",
    "organization": "organization",
    "job": "job",
    "lang": "lang",
}


class HeldUsers(ABC, Sequence[LmsUser]):
    """A snapshot's users held in another form than objects (the columns a target adapter
    decoded a big listing into, ``engine.hris.held.FrameUsers``), each made an
    ``LmsUser`` only when asked for: a million objects and their indexes cost ~700 MiB, and
    the columnar planning path needs the few thousand its plan is about
    (``held.narrowed``). Used as a sequence, all of them are made, once."""

    @abstractmethod
    def make_all(self) -> tuple[LmsUser, ...]:
        """Every user, as objects, in the listing's order."""

    @abstractmethod
    def with_id(self, user_id: str) -> LmsUser | None:
        """The user of id ``user_id`` (the last one, as ``Snapshot.by_id`` keeps), without
        making the others."""

    @cached_property
    def _all(self) -> tuple[LmsUser, ...]:
        return self.make_all()

    @property
    def all_made(self) -> bool:
        """Whether every user was made an object (the columns may then be dropped)."""
        return "_all" in self.__dict__

    def __len__(self) -> int:
        return len(self._all)

    @overload
    def __getitem__(self, index: int) -> LmsUser: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[LmsUser]: ...
    def __getitem__(self, index: int | slice) -> LmsUser | Sequence[LmsUser]:
        return self._all[index]

    def __iter__(self) -> Iterator[LmsUser]:
        return iter(self._all)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HeldUsers | tuple | list):
            return self._all == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list: equal to its users, not hashable

    def __repr__(self) -> str:
        return f"{type(self).__name__}(...)"  # never the users: names and e-mails


#: The indexes a snapshot of held users builds on first use (making every user an object).
_INDEXES = frozenset({"by_id", "by_mail", "mail_holders", "by_unique_id", "unique_id_of"})


@dataclass(frozen=True)
class Snapshot:
    """What the LMS holds now, for one synchronized group.

    ``users``: every LMS user the adapter read (at least the managed ones and those whose
    e-mail appears in the file, so adoption by e-mail can be decided); ``external_ids``: only
    those of our platform; ``groups``: the synchronized group, its descendants and the rule
    groups; ``learners``: group id → ids of users holding the *learner* role there (other
    roles never matter to the connector); ``previous_custom_fields``: ids of definitions the
    connector set values for in earlier runs (from the state store; empty when unknown) so a
    definition renamed in the LMS can be told apart from one it never managed;
    ``previous_groups``: ids of the groups where earlier runs gave learner roles (the scope
    of the last successful apply, from the state store; empty when unknown), whose learners
    the adapter also reads, so roles of a rule or level since removed can be taken back.

    ``users`` may be ``HeldUsers``: the indexes are then built on first use, and the columnar
    path plans against ``held.narrowed`` of the snapshot, which never builds them.
    ``managed``: the count of managed users when ``users`` holds only some of them (a
    narrowed snapshot); None counts them.
    """

    users: Sequence[LmsUser] = ()
    external_ids: tuple[ExternalId, ...] = ()
    custom_fields: tuple[CustomFieldDefinition, ...] = ()
    groups: tuple[LmsGroup, ...] = ()
    learners: Mapping[str, frozenset[str]] = field(default_factory=dict)
    previous_custom_fields: frozenset[str] = frozenset()
    previous_groups: frozenset[str] = frozenset()
    managed: int | None = field(default=None, compare=False)

    # Indexes, built once in __post_init__: the planner looks users up a million times.
    by_id: Mapping[str, LmsUser] = field(init=False, repr=False, compare=False)
    by_mail: Mapping[str, LmsUser] = field(init=False, repr=False, compare=False)
    #: Normalized mail → every user holding it, only for mails two users or more hold
    #: (a deleted account and a live one, or data the LMS should not hold): usually empty.
    mail_holders: Mapping[str, tuple[LmsUser, ...]] = field(init=False, repr=False, compare=False)
    by_unique_id: Mapping[str, LmsUser] = field(init=False, repr=False, compare=False)
    unique_id_of: Mapping[str, str] = field(init=False, repr=False, compare=False)
    groups_by_id: Mapping[str, LmsGroup] = field(init=False, repr=False, compare=False)
    #: The linked users in columns (``columnar.snapshot_columns``), built when the columnar path
    #: first needs them, then kept like the other indexes.
    columnar: object = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups_by_id", {group.id: group for group in self.groups})
        if not isinstance(self.users, HeldUsers):
            self._index(self.users)

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not set: the indexes of held users, built on first use.
        if name in _INDEXES and isinstance(self.__dict__.get("users"), HeldUsers):
            # A reader of objects: the columns compared on the columnar path go first (a
            # columnar pass would build them again, from the objects), so that they never
            # stand beside a million objects being made.
            object.__setattr__(self, "columnar", None)
            self._index(self.users)
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _index(self, users: Sequence[LmsUser]) -> None:
        by_id = {user.id: user for user in users}
        by_mail: dict[str, LmsUser] = {}
        shared: dict[str, list[LmsUser]] = {}
        for user in users:
            key = user.mail.strip().lower()
            if key == user.mail:
                key = user.mail  # the address itself, not an equal copy (1M copies: ~70 MiB)
            # A live account wins over a deleted one holding the same address.
            held = by_mail.get(key)
            if held is None or (held.status == "deleted" and user.status != "deleted"):
                by_mail[key] = user
            if held is not None:
                shared.setdefault(key, [held]).append(user)
        by_unique_id: dict[str, LmsUser] = {}
        unique_id_of: dict[str, str] = {}
        # Sorted so that a (corrupt) double link resolves the same way on every run.
        for link in sorted(self.external_ids, key=lambda e: (e.value, e.user_id)):
            linked = by_id.get(link.user_id)
            if linked is None or link.value in by_unique_id or link.user_id in unique_id_of:
                continue
            by_unique_id[link.value] = linked
            unique_id_of[link.user_id] = link.value
        object.__setattr__(self, "by_id", by_id)
        object.__setattr__(self, "by_mail", by_mail)
        object.__setattr__(self, "mail_holders", {key: tuple(held) for key, held in shared.items()})
        object.__setattr__(self, "by_unique_id", by_unique_id)
        object.__setattr__(self, "unique_id_of", unique_id_of)

    @property
    def held(self) -> bool:
        """Whether the users are held in columns and their indexes not built yet."""
        return isinstance(self.users, HeldUsers) and not self.users.all_made

    def user_with_id(self, user_id: str) -> LmsUser | None:
        """``by_id.get(user_id)``, without making every held user an object."""
        if self.held:
            assert isinstance(self.users, HeldUsers)
            return self.users.with_id(user_id)
        return self.by_id.get(user_id)

    def is_managed(self, user_id: str) -> bool:
        """A user is managed iff it carries an external id of our platform."""
        return user_id in self.unique_id_of

    def managed_count(self) -> int:
        """Managed users that still exist (the base of a percentage deletion guard)."""
        if self.managed is not None:
            return self.managed
        linked = self.by_unique_id.values()
        return len(linked) - countOf(map(attrgetter("status"), linked), "deleted")
