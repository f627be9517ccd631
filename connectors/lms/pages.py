"""The LMS API's listings as snapshot values: one object per distinct value.

A snapshot of a million users is held in memory for the whole run, and most of what it holds
repeats: a handful of languages and organizations, a few hundred job titles, custom values
such as a site or a department, the same manager on every member of a team, each user's id
once more in every listing that names it (external ids, roles). The JSON decoder makes a new
object of every occurrence; ``SnapshotValues`` keeps the first one and hands it out again,
which the frozen snapshot types make safe. At a million users that is several hundred MiB
(``benchmarks/plan.py`` measures it).

Names and e-mails are read as they come: e-mails are unique and names mostly so, so a
memory of them would cost about what it saves (each value remembered costs a dictionary
entry while the read lasts).
This module only reads what it is given; it must never fetch anything.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from engine.hris.snapshot import CustomFieldDefinition, CustomValue, LmsGroup, LmsUser, UserStatus

H = TypeVar("H", bound=Hashable)


class SnapshotValues:
    """The values of one snapshot read, kept once each; dropped with the read.

    ``user`` remembers each user id it reads, so that ``user_id`` can hand the same string
    back when another listing (external ids, group roles) names that user.
    """

    def __init__(self) -> None:
        self._seen: dict[Hashable, Any] = {}
        self._ids: dict[str, str] = {}

    def once(self, value: H) -> H:
        """``value``, or the equal one seen first (a frozen value: either may stand for both)."""
        kept: H = self._seen.setdefault(value, value)
        return kept

    def _text(self, value: Any) -> Any:
        """A profile value: a string kept once, anything else (``None``) as it is."""
        return self.once(value) if isinstance(value, str) else value

    def user_id(self, value: Any) -> str:
        """A user id as ``str``, the very string of that user's own record when it was read."""
        text = str(value)
        return self._ids.get(text, text)

    def user(self, raw: Mapping[str, Any]) -> LmsUser:
        """One ``/api/v2/users`` item. Profile and custom values stay as the LMS has them
        (``None`` or ``""``): telling an empty field from a missing one is the planner's job."""
        once, text = self.once, self._text
        status: UserStatus = "active"
        if raw.get("status") in ("invited", "deleted"):
            status = "invited" if raw["status"] == "invited" else "deleted"
        user_id = str(raw["_id"])
        user_id = self._ids.setdefault(user_id, user_id)
        custom = raw.get("customFields") or ()
        managers = raw.get("managers") or ()
        return LmsUser(
            id=user_id,
            mail=str(raw.get("mail") or ""),
            status=status,
            first_name=raw.get("firstName"),
            last_name=raw.get("lastName"),
            organization=text(raw.get("organization")),
            job=text(raw.get("job")),
            lang=text(raw.get("lang")),
            custom_fields=once(
                tuple(
                    once(
                        CustomValue(
                            str(v["customFieldId"]), str(v.get("type") or "string"), str(v.get("value") or "")
                        )
                    )
                    for v in custom
                )
            )
            if custom
            else (),
            managers=once(tuple(self.user_id(m) for m in managers)) if managers else (),
        )


def definition_of(raw: Mapping[str, Any]) -> CustomFieldDefinition:
    """One ``/api/v2/custom-fields`` item."""
    return CustomFieldDefinition(str(raw["_id"]), str(raw["name"]), str(raw.get("type") or "string"))


def group_of(raw: Mapping[str, Any]) -> LmsGroup:
    """One ``/api/v2/groups`` item; an empty ``parentId`` is a top-level group."""
    parent = raw.get("parentId")
    return LmsGroup(
        str(raw["_id"]), str(raw.get("name") or ""), str(parent) if parent else None, bool(raw.get("public"))
    )
