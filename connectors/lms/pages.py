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

import io
import json
import re
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import TargetError
from engine.hris.snapshot import CustomFieldDefinition, CustomValue, LmsGroup, LmsUser, UserStatus

if TYPE_CHECKING:
    import polars as pl

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

    def know_ids(self, ids: list[str]) -> None:
        """Users read another way (``read_users``'s columns): ``user_id`` hands their ids back."""
        self._ids.update(zip(ids, ids, strict=True))

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


# --- the users listing, page by page ---------------------------------------------------------

#: Pages held back before choosing how to decode: a listing that ends within them (a small
#: platform, every test) is decoded by ``json`` alone and never loads polars.
NATIVE_AFTER_PAGES = 8
#: Pages decoded by polars at once (500 users a page in the API: 32,000 users a batch).
_BATCH_PAGES = 64
_USER_SCHEMA_FIELDS = ("_id", "mail", "status", "firstName", "lastName", "organization", "job", "lang")
_SCALAR_KEYS = rb"_id|mail|status|firstName|lastName|organization|job|lang|customFieldId|type|value"
#: What polars would decode otherwise than ``json`` + ``SnapshotValues.user``: a number or a
#: boolean under a key we read (``str()`` of it, or ``or ""``, differs from polars' text), a
#: boolean anywhere, ``customFields``/``managers`` that are not lists, an escaped surrogate,
#: a raw control character (``json`` refuses it), an escaped U+001E/U+001F (the separators
#: below). Such a page is decoded the ``json`` way; so is a page polars refuses.
_ODD_PAGE = re.compile(
    rb'"(?:' + _SCALAR_KEYS + rb')"\s*:\s*[^"\sn]'
    rb'|"(?:customFields|managers)"\s*:\s*[^\[\sn]'
    rb"|[\[,:]\s*(?:true|false)\b"
    rb"|\\u[dD][89a-fA-F]"
    rb"|\\u001[eEfF]"
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f]"
)
#: A ``managers`` list of plain strings: any other (a number, an escape) is decoded by ``json``.
_PLAIN_MANAGERS = re.compile(rb'"managers"\s*:\s*(?:null|\[\s*(?:"[^"\\]*"\s*(?:,\s*"[^"\\]*"\s*)*)?\])')


@dataclass
class UsersRead:
    """What the users listing gave: the users kept, in the API's order; the ids of the live
    accounts carrying the connector administrator's e-mail (seen in passing, kept or not);
    ``frame``: the kept users in columns (``engine.hris.columnar.SnapshotColumns.from_frame``),
    None unless every page was decoded natively."""

    users: tuple[LmsUser, ...]
    admins: list[str]
    frame: pl.DataFrame | None = None


class UserFilter:
    """Which users a snapshot keeps: those linked to the connector, and those whose e-mail
    (trimmed, lower-cased) is in the file (``emails``, None: every user), for adoption."""

    def __init__(self, linked: Collection[str], emails: Collection[str] | None, admin_mail: str) -> None:
        self.linked, self.emails, self.admin_mail = linked, emails, admin_mail
        self.admins: list[str] = []

    def wanted(self, raw: Mapping[str, Any]) -> bool:
        """One decoded item; notes the administrator's live account on the way."""
        mail = str(raw.get("mail") or "").strip().lower()
        if mail == self.admin_mail and raw.get("status") != "deleted":
            self.admins.append(str(raw["_id"]))
        return self.emails is None or str(raw["_id"]) in self.linked or mail in self.emails


def read_users(pages: Iterable[bytes], values: SnapshotValues, keep: UserFilter) -> UsersRead:
    """The users of a ``/api/v2/users`` listing that ``keep`` wants, as ``SnapshotValues.user``
    reads them, whichever way each page is decoded.

    A big listing is decoded by polars (a million users: about 7x faster than ``json`` and
    the Python reader item by item, and the snapshot's columns come with it); a page that
    polars would read otherwise (``_ODD_PAGE``) goes through ``json``, and then no columns
    are kept. Known difference: with a key twice in one item, ``json`` keeps the last value
    and polars the first (RFC 8259 leaves it open; the LMS API does not send such items).
    """
    held: list[bytes] = []
    pages = iter(pages)
    for page in pages:
        held.append(page)
        if len(held) > NATIVE_AFTER_PAGES:
            break
    else:
        return _decoded(held, values, keep)
    try:
        import polars  # noqa: F401, PLC0415 - the optional dependency's presence
    except ImportError:  # pragma: no cover - polars is a dependency; tested by blocking it
        return _decoded(chain(held, pages), values, keep)
    return _NativeRead(values, keep).read(chain(held, pages))


def _json_page(page: bytes) -> Any:
    try:
        return json.loads(page) if page else None
    except ValueError as exc:
        raise TargetError("LMS GET /api/v2/users: answer is not JSON", status=200) from exc


def _decoded(pages: Iterable[bytes], values: SnapshotValues, keep: UserFilter) -> UsersRead:
    users = [values.user(raw) for page in pages for raw in _json_page(page) or [] if keep.wanted(raw)]
    return UsersRead(tuple(users), keep.admins)


class _NativeRead:
    def __init__(self, values: SnapshotValues, keep: UserFilter) -> None:
        self.values, self.keep = values, keep
        self.users: list[LmsUser] = []
        self.frames: list[pl.DataFrame] | None = []

    def read(self, pages: Iterable[bytes]) -> UsersRead:
        import polars as pl  # noqa: PLC0415

        batch: list[bytes] = []
        for page in pages:
            body = page.strip()
            if not body or body == b"[]":
                continue
            plain = (
                body.startswith(b"[")
                and body.endswith(b"]")
                and not _ODD_PAGE.search(body)
                and body.count(b'"managers"') == len(_PLAIN_MANAGERS.findall(body))
            )
            if plain:
                batch.append(body)
                if len(batch) < _BATCH_PAGES:
                    continue
            self._batch(batch)
            batch = []
            if not plain:
                self.users.extend(_decoded([body], self.values, self.keep).users)
                self.frames = None
        self._batch(batch)
        frame = None
        if self.frames is not None:
            frame = pl.concat(self.frames, rechunk=True) if self.frames else _frame(pl.DataFrame())
        return UsersRead(tuple(self.users), self.keep.admins, frame)

    def _batch(self, batch: list[bytes]) -> None:
        """Decodes pages as one JSON array (each page's brackets dropped), or each page by
        ``json`` if polars refuses them or finds an item without an id or a custom field id."""
        import polars as pl  # noqa: PLC0415

        if not batch:
            return
        joined = b"[" + b",".join(body[1:-1] for body in batch if body[1:-1].strip()) + b"]"
        try:
            raw = pl.read_json(io.BytesIO(joined), schema=_schema())
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError):
            raw = None
        if raw is None or not _complete(raw):
            for body in batch:
                self.users.extend(_decoded([body], self.values, self.keep).users)
            self.frames = None
            return
        frame = _frame(raw)
        kept = frame.filter(pl.Series(self._wanted(frame, raw), dtype=pl.Boolean))
        self.users.extend(_users_of(kept, self.values))
        if self.frames is not None:
            self.frames.append(kept)

    def _wanted(self, frame: pl.DataFrame, raw: pl.DataFrame) -> list[bool]:
        """``UserFilter.wanted`` of each row, with Python's own strip and lower for the e-mails
        it has to look at: those of unlinked users, and any that may be the administrator's."""
        import polars as pl  # noqa: PLC0415

        keep = self.keep
        ids = frame["id"].to_list()
        mails = frame["mail"]
        # Rust's and Python's lower-casing agree on ASCII: only other addresses are looked at.
        maybe_admin = mails.str.to_lowercase().str.contains(keep.admin_mail, literal=True)
        maybe_admin = maybe_admin | mails.str.contains(r"[^\x00-\x7f]")
        if maybe_admin.any():
            live = raw["status"].fill_null("") != "deleted"
            for row in (maybe_admin & live).arg_true().to_list():
                if mails[row].strip().lower() == keep.admin_mail:
                    keep.admins.append(ids[row])
        if keep.emails is None:
            return [True] * len(ids)
        linked, emails = keep.linked, keep.emails
        wanted = [user_id in linked for user_id in ids]
        unlinked = [row for row, found in enumerate(wanted) if not found]
        if unlinked:
            addresses = mails.gather(pl.Series(unlinked, dtype=pl.UInt32)).to_list()
            for row, mail in zip(unlinked, addresses, strict=True):
                wanted[row] = mail.strip().lower() in emails
        return wanted


def _schema() -> dict[str, Any]:
    import polars as pl  # noqa: PLC0415

    value = pl.Struct({"customFieldId": pl.String, "type": pl.String, "value": pl.String})
    return {
        **dict.fromkeys(_USER_SCHEMA_FIELDS, pl.String),
        "customFields": pl.List(value),
        "managers": pl.List(pl.String),
    }


def _complete(raw: pl.DataFrame) -> bool:
    """Every item has an id, every custom value is an object with a field id, every manager
    an id: else ``json`` decodes the pages, and the Python reader reads (or refuses) them as
    it always did."""
    import polars as pl  # noqa: PLC0415

    item = pl.element()
    custom = raw["customFields"].list.eval(item.is_null() | item.struct.field("customFieldId").is_null())
    bosses = raw["managers"].list.eval(item.is_null())
    return not (raw["_id"].null_count() or custom.list.any().any() or bosses.list.any().any())


def _frame(raw: pl.DataFrame) -> pl.DataFrame:
    """Decoded items as ``SnapshotValues.user`` reads them: status folded, a missing mail
    "", a custom value's missing type "string" and missing value ""."""
    import polars as pl  # noqa: PLC0415

    if not raw.width:
        raw = pl.DataFrame(schema=_schema())
    status = pl.col("status")
    value = pl.element().struct
    return raw.select(
        pl.col("_id").alias("id"),
        pl.when(status.is_in(["invited", "deleted"]))
        .then(status)
        .otherwise(pl.lit("active"))
        .alias("status"),
        pl.col("mail").fill_null(""),
        pl.col("firstName").alias("first_name"),
        pl.col("lastName").alias("last_name"),
        "organization",
        "job",
        "lang",
        pl.col("customFields")
        .fill_null([])
        .list.eval(
            pl.struct(
                value.field("customFieldId").alias("field_id"),
                pl.when(value.field("type").fill_null("") == "")
                .then(pl.lit("string"))
                .otherwise(value.field("type"))
                .alias("type"),
                value.field("value").fill_null("").alias("value"),
            )
        )
        .alias("custom"),
        pl.col("managers").fill_null([]),
    )


def _users_of(frame: pl.DataFrame, values: SnapshotValues) -> list[LmsUser]:
    """The ``LmsUser`` of each row, sharing what ``SnapshotValues`` shares: the column's
    distinct values and lists are made once each, then handed to every row holding them."""
    import polars as pl  # noqa: PLC0415

    if not frame.height:
        return []
    once = values.once
    ids = frame["id"].to_list()
    values.know_ids(ids)

    def shared(name: str) -> list[Any]:
        column = frame[name]
        distinct = {value: value if value is None else once(value) for value in column.unique().to_list()}
        return list(map(distinct.__getitem__, column.to_list()))

    # One text per distinct list (the separators are in no value: see ``_ODD_PAGE``).
    keys = frame.select(
        pl.col("custom").list.eval(pl.element().struct.json_encode()).list.join("\x1e").alias("custom_key"),
        pl.when(pl.col("managers").list.len() > 0)
        .then(pl.col("managers").list.join("\x1f"))
        .alias("boss_key"),
    )
    custom: dict[Any, tuple[CustomValue, ...]] = {"": ()}
    for key, held in (
        frame.select(keys["custom_key"], "custom").unique("custom_key", keep="first").iter_rows()
    ):
        custom[key] = once(tuple(once(CustomValue(v["field_id"], v["type"], v["value"])) for v in held))
    bosses: dict[Any, tuple[str, ...]] = {None: ()}
    for key in keys["boss_key"].unique().drop_nulls().to_list():
        bosses[key] = once(tuple(map(values.user_id, key.split("\x1f"))))
    return list(
        map(
            LmsUser,
            ids,
            frame["mail"].to_list(),
            frame["status"].to_list(),
            frame["first_name"].to_list(),
            frame["last_name"].to_list(),
            shared("organization"),
            shared("job"),
            shared("lang"),
            map(custom.__getitem__, keys["custom_key"].to_list()),
            map(bosses.__getitem__, keys["boss_key"].to_list()),
        )
    )
