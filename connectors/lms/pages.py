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

import contextlib
import ctypes
import io
import json
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import TargetError
from engine.hris.columnar import snapshot_columns
from engine.hris.held import FrameUsers, frame_users, index
from engine.hris.snapshot import CustomFieldDefinition, CustomValue, LmsGroup, LmsUser, Snapshot, UserStatus

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
#: Pages whose frames are checked and turned into users at once (500 users a page in the API).
_BATCH_PAGES = 64
_USER_SCHEMA_FIELDS = ("_id", "mail", "status", "firstName", "lastName", "organization", "job", "lang")
#: Text polars may have made of a JSON number or boolean where the Python reader keeps the
#: value itself (profile fields: ``job: 12`` stays the int 12) ...
_ANY_SCALAR = r"^(?:true|false|-?[0-9]+(?:[.eE].*)?)$"
#: ... or where it ``str()``s it (ids, custom values), which for an int gives the same text:
#: only booleans, floats and falsy numbers (``or ""``) may read otherwise.
_ODD_SCALAR = r"^(?:true|false|-?0|-?[0-9]+[.eE].*)$"


@dataclass
class UsersRead:
    """What the users listing gave: the users kept, in the API's order (``FrameUsers``,
    held in columns, when every page was decoded natively); the ids of the live accounts
    carrying the connector administrator's e-mail (seen in passing, kept or not)."""

    users: Sequence[LmsUser]
    admins: list[str]


class UserFilter:
    """Which users a snapshot keeps: those linked to the connector, and those whose e-mail
    (trimmed, lower-cased) is in the file (``emails``, None: every user), for adoption."""

    def __init__(self, linked: Collection[str], emails: Collection[str] | None, admin_mail: str) -> None:
        self.linked, self.emails, self.admin_mail = linked, emails, admin_mail
        self.admins: list[str] = []

    def wanted(self, raw: Mapping[str, Any]) -> bool:
        """One decoded item; notes the administrator's live account on the way."""
        return self.decide(str(raw["_id"]), str(raw.get("mail") or ""), raw.get("status"))

    def decide(self, user_id: str, mail: str, status: Any) -> bool:
        """Whether the user ``user_id`` is kept (``mail`` as the API has it, ``status`` its
        raw value): the one rule both ways of reading the listing apply."""
        key = mail.strip().lower()
        if key == self.admin_mail and status != "deleted":
            self.admins.append(user_id)
        return self.emails is None or user_id in self.linked or key in self.emails


def read_users(pages: Iterable[bytes], values: SnapshotValues, keep: UserFilter) -> UsersRead:
    """The users of a ``/api/v2/users`` listing that ``keep`` wants, as ``SnapshotValues.user``
    reads them, whichever way each page is decoded.

    A big listing is decoded by polars and its users held in those columns
    (``engine.hris.held``; ``benchmarks/plan.py`` measures both ways), each made an object
    only when asked for; a page that polars may read otherwise is
    checked against ``json``, see ``_NativeRead``. Known difference: with a key twice in one
    item, ``json`` keeps the last value and polars the first (RFC 8259 leaves it open; the
    LMS API does not send such items).
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
        import polars  # noqa: F401, PLC0415 - only big listings load it
    except ImportError:  # a dependency, but an install without it still reads, the json way
        return _decoded(chain(held, pages), values, keep)
    return _NativeRead(values, keep).read(chain(held, pages))


def attach_columns(snapshot: Snapshot) -> None:
    """Gives a snapshot of users decoded natively its indexes (``engine.hris.held.index``)
    and the columns the columnar planning path compares, then hands the read's freed memory
    back to the system: a million users leave ~90 MiB of it in the C heap, which the plan
    would otherwise carry."""
    if frame_users(snapshot) is None:
        return
    index(snapshot)
    snapshot_columns(snapshot)
    with contextlib.suppress(OSError, AttributeError):  # glibc; elsewhere nothing to call
        ctypes.CDLL(None).malloc_trim(0)


def _json_page(page: bytes) -> Any:
    try:
        return json.loads(page) if page else None
    except ValueError as exc:
        raise TargetError("LMS GET /api/v2/users: answer is not JSON", status=200) from exc


def _decoded(pages: Iterable[bytes], values: SnapshotValues, keep: UserFilter) -> UsersRead:
    users = [values.user(raw) for page in pages for raw in _json_page(page) or [] if keep.wanted(raw)]
    return UsersRead(tuple(users), keep.admins)


class _NativeRead:
    """Each page decoded by polars (a page at a time is polars' fastest), then checked: a
    page where polars may read a value otherwise than ``json`` + ``SnapshotValues.user``
    (a number or a boolean where we read text, an escaped surrogate) is decoded both ways
    and kept only if they agree; otherwise, and when polars refuses a page, that page is the
    Python reader's, and the users are made objects (the frames read so far, then every
    page the way it was decoded)."""

    def __init__(self, values: SnapshotValues, keep: UserFilter) -> None:
        self.values, self.keep = values, keep
        self.users: list[LmsUser] = []
        self.frames: list[pl.DataFrame] | None = []

    def read(self, pages: Iterable[bytes]) -> UsersRead:
        import polars as pl  # noqa: PLC0415

        batch: list[tuple[bytes, pl.DataFrame | None, bool]] = []
        for page in pages:
            body = page.strip()
            if body and body != b"[]":
                # An escaped surrogate: polars makes U+0000 of a lone one, json keeps it.
                surrogate = b"\\ud" in body or b"\\uD" in body
                batch.append((body, _parsed(body), surrogate))
            if len(batch) == _BATCH_PAGES:
                self._batch(batch)
                batch = []
        self._batch(batch)
        if self.frames is None:
            return UsersRead(tuple(self.users), self.keep.admins)
        # Not rechunked: the snapshot's columns are gathered from it, a copy would be garbage.
        frame = pl.concat(self.frames, rechunk=False) if self.frames else _frame(pl.DataFrame())
        self.frames = None
        if frame["id"].is_duplicated().any():  # the snapshot's index keeps the last: objects decide
            return UsersRead(tuple(_made(frame)), self.keep.admins)
        return UsersRead(FrameUsers(frame, _made), self.keep.admins)

    def _batch(self, batch: list[tuple[bytes, pl.DataFrame | None, bool]]) -> None:
        import polars as pl  # noqa: PLC0415

        if not batch:
            return
        raws = [raw for _, raw, surrogate in batch if raw is not None and not surrogate]
        if len(raws) == len(batch):
            joined = pl.concat(raws, rechunk=True)
            if _complete(joined) and not _doubtful(joined).any():
                self._native(joined)
                return
        for body, raw, surrogate in batch:  # page by page: which one is in doubt?
            # (An incomplete page is the Python reader's: it says what is missing.)
            if (
                raw is not None
                and _complete(raw)
                and ((not surrogate and not _doubtful(raw).any()) or _agree(body, raw))
            ):
                self._native(raw)
            else:
                if self.frames is not None:  # the pages before it become objects too
                    for frame in self.frames:
                        self.users.extend(_users_of(frame, frame["id"].to_list(), self.values))
                    self.frames = None
                self.users.extend(_decoded([body], self.values, self.keep).users)

    def _native(self, raw: pl.DataFrame) -> None:
        import polars as pl  # noqa: PLC0415

        frame = _frame(raw)
        ids = frame["id"].to_list()
        wanted = self._wanted(frame, raw, ids)
        if all(wanted):
            kept = frame
        else:
            kept = frame.filter(pl.Series(wanted, dtype=pl.Boolean))
            ids = list(compress(ids, wanted))
        if self.frames is None:
            self.users.extend(_users_of(kept, ids, self.values))
        else:
            # Held in columns; the ids are known, so that the links and roles read next name
            # each user with one string.
            self.values.know_ids(ids)
            self.frames.append(kept)

    def _wanted(self, frame: pl.DataFrame, raw: pl.DataFrame, ids: list[str]) -> list[bool]:
        """``UserFilter.decide`` of each row (``ids``: its ids), asked only where its answer
        is not known beforehand: a linked user is kept, and an address that is not ASCII
        nor holds the administrator's (lower-cased alike in Rust and Python) is not theirs."""
        import polars as pl  # noqa: PLC0415

        keep = self.keep
        mails = frame["mail"]
        ask = mails.str.to_lowercase().str.contains(keep.admin_mail, literal=True)
        ask = ask | mails.str.contains(r"[^\x00-\x7f]")
        if keep.emails is None:
            wanted = [True] * len(ids)
        else:
            linked = keep.linked
            wanted = [user_id in linked for user_id in ids]
            ask = ask | ~pl.Series(wanted, dtype=pl.Boolean)
        rows = ask.arg_true()
        if rows.len():
            at = zip(
                rows.to_list(),
                mails.gather(rows).to_list(),
                raw["status"].gather(rows).to_list(),
                strict=True,
            )
            for row, mail, status in at:
                wanted[row] = keep.decide(ids[row], mail, status)
        return wanted


def _parsed(body: bytes) -> pl.DataFrame | None:
    """polars' decoding of one page; None when it refuses it, or when a list field holds
    something else than a list (polars would wrap a text, Python iterates its letters)."""
    import polars as pl  # noqa: PLC0415

    if not (body.startswith(b"[") and body.endswith(b"]")):
        return None
    for key in (b'"managers"', b'"customFields"'):
        found = body.count(key)
        if found:
            gap = b": " if body.find(key + b": ") >= 0 else b":"
            lists = body.count(key + gap + b"[")
            if found != lists and found != lists + body.count(key + gap + b"null"):
                return None
    try:
        return pl.read_json(io.BytesIO(body), schema=_schema())
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError):
        return None


def _doubtful(raw: pl.DataFrame) -> pl.Series:
    """Per decoded item, whether polars may have read it otherwise than ``json`` + Python:
    a text that a number or a boolean would have become (``_ANY_SCALAR``, ``_ODD_SCALAR``),
    or a manager id holding U+001F (the separator ``_users_of`` joins them with)."""
    import polars as pl  # noqa: PLC0415

    item = pl.element()
    custom = item.struct
    checks = [
        *(pl.col(name).str.contains(_ANY_SCALAR) for name in _USER_SCHEMA_FIELDS[3:]),
        *(pl.col(name).str.contains(_ODD_SCALAR) for name in ("_id", "mail")),
        pl.col("customFields")
        .list.eval(
            pl.any_horizontal(
                custom.field(name).str.contains(_ODD_SCALAR) for name in ("customFieldId", "type", "value")
            )
        )
        .list.any(),
        pl.col("managers")
        .list.eval(item.str.contains(_ODD_SCALAR) | item.str.contains("\x1f", literal=True))
        .list.any(),
    ]
    return raw.select(pl.any_horizontal(*(check.fill_null(False) for check in checks))).to_series()


def _agree(body: bytes, raw: pl.DataFrame) -> bool:
    """The page's users read by polars equal, value for value and type for type, those the
    Python reader makes of it."""
    try:
        expected = [SnapshotValues().user(item) for item in json.loads(body)]
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    frame = _frame(raw)
    found = _users_of(frame, frame["id"].to_list(), SnapshotValues())
    return found == expected and all(map(_same_types, found, expected))


def _same_types(one: LmsUser, other: LmsUser) -> bool:
    names = ("first_name", "last_name", "organization", "job", "lang")
    return [type(getattr(one, name)) for name in names] == [type(getattr(other, name)) for name in names]


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


def _made(frame: pl.DataFrame) -> list[LmsUser]:
    """Users held in columns made objects (``FrameUsers``), sharing their values; a batch
    at a time, as the read makes them, so that a million users never stand as columns of
    Python values beside their objects."""
    values, users = SnapshotValues(), []
    for batch in frame.iter_slices(_BATCH_PAGES * 500):
        users.extend(_users_of(batch, batch["id"].to_list(), values))
    return users


def _users_of(frame: pl.DataFrame, ids: list[str], values: SnapshotValues) -> list[LmsUser]:
    """The ``LmsUser`` of each row (``ids``: its ids, as Python strings already), sharing
    what ``SnapshotValues`` shares: the column's distinct values and lists are made once
    each, then handed to every row holding them."""
    import polars as pl  # noqa: PLC0415

    if not frame.height:
        return []
    once = values.once
    values.know_ids(ids)

    def shared(name: str) -> list[Any]:
        # Each distinct value made once, rows given its number: a row's own copy of the text
        # would be garbage at once (and a million of them fragment the heap they leave).
        column = frame[name]
        distinct = column.unique().sort(nulls_last=True)
        made = [None if value is None else once(value) for value in distinct.to_list()]
        codes = column.rank("dense").fill_null(len(made)) - 1
        return list(map(made.__getitem__, codes.to_list()))

    # One text per distinct list: JSON for custom values, U+001F between manager ids (a page
    # with an id holding it is in doubt, see ``_doubtful``).
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
