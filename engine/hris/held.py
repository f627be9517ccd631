"""A snapshot's users held in columns: what the columnar path reads of them without objects.

A target adapter that decodes a big users listing natively (``connectors.lms.pages``) gives
the snapshot a ``FrameUsers``: the listing as one frame, a user made an ``LmsUser`` only
when asked for. The columnar path compares the file with those columns
(``columnar.SnapshotColumns``), then plans the rows it could not settle against
``narrowed``: a plain snapshot of only the users those rows can reach, which plans byte for
byte as the whole one would. At a million users that is ~700 MiB of objects and indexes
never made (``benchmarks/plan.py`` measures it).

The frame's columns, as ``connectors.lms.pages`` decodes them: ``id``, ``status``
(active/invited/deleted), ``mail`` ("" for none), ``first_name``, ``last_name``,
``organization``, ``job``, ``lang`` (null for none), ``custom`` (a list of
``{field_id, type, value}``) and ``managers`` (a list of ids), one row per user in the
listing's order, no id twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.hris.snapshot import ExternalId, HeldUsers, LmsUser, Snapshot

if TYPE_CHECKING:
    import polars as pl

#: What ``str.strip`` removes (``str.isspace``), so polars trims exactly as Python does.
#: (Written out: working it out at import cost 60 ms on every command; a test keeps it true.)
SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class FrameUsers(HeldUsers):
    """The users of ``frame`` (see the module), ``make`` turning rows of it into objects.

    The frame must not hold an id twice: the adapter makes objects of such a listing.
    """

    def __init__(self, frame: pl.DataFrame, make: Callable[[pl.DataFrame], list[LmsUser]]) -> None:
        self.frame, self._make = frame, make
        self._links: pl.DataFrame | None = None
        self._keys: pl.Series | None = None
        self._shared: list[str] | None = None

    def make_all(self) -> tuple[LmsUser, ...]:
        made = tuple(self._make(self.frame))
        # The objects hold it all now: the columns would be a second copy through the plan.
        self.frame, self._links, self._keys, self._shared = self.frame.clear(), None, None, None
        return made

    def with_id(self, user_id: str) -> LmsUser | None:
        import polars as pl  # noqa: PLC0415

        found = self._make(self.frame.filter(pl.col("id") == user_id))
        return found[-1] if found else None

    def made(self, rows: pl.Series) -> tuple[LmsUser, ...]:
        """The users of the rows where ``rows`` (a boolean per row) is true, in order."""
        return tuple(self._make(self.frame.filter(rows)))

    def links(self, external_ids: tuple[ExternalId, ...]) -> pl.DataFrame:
        """Each link ``Snapshot`` keeps, in its order: ``uid``, ``id`` and ``at`` (the
        user's row). The same rule as its index: sorted by (value, user id), a link to no
        user read is dropped, and of two links sharing a value or a user the first wins."""
        import polars as pl  # noqa: PLC0415

        if self._links is None:
            every = pl.DataFrame(
                [
                    pl.Series("uid", [link.value for link in external_ids], dtype=pl.String),
                    pl.Series("id", [link.user_id for link in external_ids], dtype=pl.String),
                ]
            )
            rows = self.frame.select("id").with_row_index("at")
            links = every.join(rows, on="id", how="inner").sort("uid", "id", maintain_order=True)
            if not (all_distinct(links["uid"]) and all_distinct(links["id"])):
                links = _first_links(links)  # a corrupt double link: one at a time
            self._links = links
        return self._links

    def mail_keys(self) -> pl.Series:
        """Each user's ``mail.strip().lower()``, Python's own rules: Rust lower-cases ASCII
        alike, any other address is lower-cased by Python."""
        import polars as pl  # noqa: PLC0415

        if self._keys is None:
            mails = self.frame["mail"]
            keys = mails.str.strip_chars(SPACES).str.to_lowercase()
            other = mails.str.contains(r"[^\x00-\x7f]")
            if other.any():
                odd = mails.filter(other).unique()
                found = odd.to_list()
                normalized = pl.Series([mail.strip().lower() for mail in found], dtype=pl.String)
                keys = keys.zip_with(~other, mails.replace(found, normalized))
            self._keys = keys.alias("key")
        return self._keys

    def shared_keys(self) -> list[str]:
        """The addresses (``mail_keys``) two users or more hold, in the listing's order."""
        if self._shared is None:
            keys = self.mail_keys()
            # Hashes first: comparing a million texts costs ten times more, and few collide.
            maybe = keys.filter(keys.hash().is_duplicated())
            self._shared = maybe.filter(maybe.is_duplicated()).unique(maintain_order=True).to_list()
        return self._shared


def all_distinct(column: pl.Series) -> bool:
    """Whether no value of ``column`` (nulls dropped) is on two rows: hashes first (a u64
    counts in half the time of a text); only when two hashes meet are the texts counted."""
    values = column.drop_nulls()
    return values.hash().n_unique() == values.len() or values.n_unique() == values.len()


def _first_links(links: pl.DataFrame) -> pl.DataFrame:
    import polars as pl  # noqa: PLC0415

    values: set[str] = set()
    users: set[str] = set()
    keep: list[bool] = []
    for uid, user_id in links.select("uid", "id").iter_rows():
        fresh = uid not in values and user_id not in users
        if fresh:
            values.add(uid)
            users.add(user_id)
        keep.append(fresh)
    return links.filter(pl.Series(keep, dtype=pl.Boolean))


def frame_users(snapshot: Snapshot) -> FrameUsers | None:
    """The snapshot's users when held in columns and not made objects yet."""
    users = snapshot.users
    return users if isinstance(users, FrameUsers) and snapshot.held else None


def index(snapshot: Snapshot) -> None:
    """What a snapshot of objects works out when it is made (its indexes), worked out for
    held users when the adapter makes the snapshot: the links kept, each user's address and
    those two users hold."""
    held = frame_users(snapshot)
    if held is not None:
        held.links(snapshot.external_ids)
        held.shared_keys()


def linked_count(snapshot: Snapshot) -> int:
    """``len(snapshot.by_unique_id)``, without building it."""
    held = frame_users(snapshot)
    return len(snapshot.by_unique_id) if held is None else held.links(snapshot.external_ids).height


def shared_mails(snapshot: Snapshot) -> list[str]:
    """The keys of ``snapshot.mail_holders``, without building it."""
    held = frame_users(snapshot)
    if held is None:
        return list(snapshot.mail_holders)
    return held.shared_keys()


def narrowed(snapshot: Snapshot, *, settled: pl.Series, emails: pl.Series, managers: pl.Series) -> Snapshot:
    """A plain snapshot that plans the rows left as ``snapshot`` does: every user except
    the linked users of the settled rows (``settled``: their positions among the links,
    which are ``SnapshotColumns``' rows), then back among them those the rows left can
    reach: by uniqueId as a manager (``managers``: the cells of the rows left), by e-mail
    (``emails``: their addresses, and every address two users hold), and by id as a
    current manager of a user kept (the plan shows its uniqueId). ``snapshot`` itself when
    its users are objects already.

    (Today a settled row's address is its user's own and no other row's nor shared, so the
    e-mails bring none back; the planner's lookups are kept whole all the same, rather
    than leaning on what the comparison happens to require.)

    Whole-snapshot reads stay whole: each address keeps all its holders in the listing's
    order (``by_mail`` picks among them), the links are those the whole snapshot keeps, the
    learners and groups are all there, and ``managed`` carries the whole count.
    """
    import polars as pl  # noqa: PLC0415

    held = frame_users(snapshot)
    if held is None:
        return snapshot
    frame = held.frame
    links = held.links(snapshot.external_ids)
    keep = pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True)
    keep.scatter(links["at"].gather(settled), False)
    bosses = links.filter(pl.col("uid").is_in(managers.drop_nulls().unique().implode()))["at"]
    keep.scatter(bosses, True)
    keys = held.mail_keys()
    wanted = pl.concat([pl.Series(held.shared_keys(), dtype=pl.String), emails.drop_nulls().unique()])
    keep = keep | keys.is_in(wanted.implode())
    bosses = frame["managers"].filter(keep).explode().drop_nulls().unique()
    keep = keep | frame["id"].is_in(bosses.implode())
    kept_links = links.filter(keep.gather(links["at"]))
    managed = links.filter(frame["status"].gather(links["at"]) != "deleted").height
    return replace(
        snapshot,
        users=held.made(keep),
        external_ids=tuple(map(ExternalId, kept_links["id"].to_list(), kept_links["uid"].to_list())),
        managed=managed,
    )
