"""``engine.hris.held``: a snapshot whose users are held in columns answers as the same
snapshot of objects does, and ``narrowed`` keeps every user the rows left can reach."""

from __future__ import annotations

import polars as pl
import pytest

from engine.hris.columnar import snapshot_columns
from engine.hris.held import FrameUsers, frame_users, linked_count, narrowed, shared_mails
from engine.hris.snapshot import CustomValue, ExternalId, LmsUser, Snapshot

from .factories import ROOT, ROOT_ID, held_snapshot

MAILS = [
    "ann@acme.example",
    " Bob@Acme.Example ",  # trimmed and lower-cased, it is bob's address below too
    "bob@acme.example",
    "\u2003ÉVE@ACME.EXAMPLE",  # a Unicode space and letters Python lower-cases itself
    "éve@acme.example",
    "",
    "dan@acme.example",
    "İvy@acme.example",  # lower-cases to two characters
    "gus@acme.example",
    "hal@acme.example",
]


def _objects() -> Snapshot:
    users = [
        LmsUser(
            f"u{n}",
            mail,
            "deleted" if n == 1 else "active",
            first_name=f"First{n}",
            job="Engineer" if n % 2 else None,
            custom_fields=(CustomValue("cf-site", "string", f"Site {n % 3}"),) if n % 3 else (),
            managers=("u0",) if n > 5 else (),
        )
        for n, mail in enumerate(MAILS)
    ]
    links = [ExternalId(f"u{n}", f"E{n}") for n in range(9)]
    links += [ExternalId("u3", "E-twice"), ExternalId("u4", "E3"), ExternalId("u-nobody", "E-none")]
    return Snapshot(
        users=tuple(users),
        external_ids=tuple(links),
        groups=(ROOT,),
        learners={ROOT_ID: frozenset(f"u{n}" for n in range(9))},
    )


def test_a_held_snapshot_answers_without_making_its_users() -> None:
    objects = _objects()
    held = held_snapshot(objects)
    users = frame_users(held)
    assert isinstance(users, FrameUsers) and held.held

    links = users.links(held.external_ids)
    assert dict(zip(links["uid"].to_list(), links["id"].to_list(), strict=True)) == {
        uid: user.id for uid, user in objects.by_unique_id.items()
    }
    assert linked_count(held) == len(objects.by_unique_id)
    assert shared_mails(held) == list(objects.mail_holders) == ["bob@acme.example", "éve@acme.example"]
    assert users.mail_keys().to_list() == [mail.strip().lower() for mail in MAILS]
    assert held.user_with_id("u7") == objects.by_id["u7"] and held.user_with_id("u-none") is None
    assert held.held, "none of it made every user an object"
    assert "ann" not in repr(held.users)


def test_its_indexes_are_built_on_first_use_and_equal_the_objects_ones() -> None:
    objects = _objects()
    held = held_snapshot(objects)

    assert held.by_mail == objects.by_mail
    assert not held.held
    assert held.mail_holders == objects.mail_holders
    assert (held.by_id, held.by_unique_id, held.unique_id_of) == (
        objects.by_id,
        objects.by_unique_id,
        objects.unique_id_of,
    )
    assert held.users == objects.users and held == objects
    assert held.managed_count() == objects.managed_count()


def _positions(held: Snapshot, uids: list[str]) -> pl.Series:
    users = frame_users(held)
    assert users is not None
    order = users.links(held.external_ids)["uid"].to_list()
    return pl.Series([order.index(uid) for uid in uids], dtype=pl.UInt32)


def test_narrowed_keeps_the_users_the_rows_left_can_reach() -> None:
    objects = _objects()
    held = held_snapshot(objects)
    settled = ["E0", "E2", "E5", "E6", "E7", "E8"]

    narrow = narrowed(
        held,
        settled=_positions(held, settled),
        emails=pl.Series(["gus@acme.example", None], dtype=pl.String),
        managers=pl.Series(["E5", "", None], dtype=pl.String),
    )

    kept = {user.id for user in narrow.users}
    # u0: manager of u9, kept as unsettled (the plan shows its uniqueId); u2: holds an address
    # bob's deleted account holds too; u5: named as a manager; u8: holds an address asked for.
    assert kept == {"u0", "u1", "u2", "u3", "u4", "u5", "u8", "u9"}
    assert [user.id for user in narrow.users] == sorted(kept, key=lambda i: int(i[1:])), "listing order"
    assert {uid: user.id for uid, user in narrow.by_unique_id.items()} == {
        uid: user.id for uid, user in objects.by_unique_id.items() if user.id in kept
    }
    assert narrow.mail_holders == objects.mail_holders
    assert narrow.managed_count() == objects.managed_count()
    assert len(narrow.by_unique_id) < len(objects.by_unique_id)
    assert (narrow.learners, narrow.groups) == (objects.learners, objects.groups)
    assert held.held


def test_a_snapshot_of_objects_is_not_narrowed() -> None:
    objects = _objects()
    empty = pl.Series([], dtype=pl.String)

    assert narrowed(objects, settled=pl.Series([0], dtype=pl.UInt32), emails=empty, managers=empty) is objects


@pytest.mark.parametrize("twice", [ExternalId("u1", "E0"), ExternalId("u0", "E9"), ExternalId("u0", "E0")])
def test_links_a_user_or_value_twice_keep_the_first_as_the_index_does(twice: ExternalId) -> None:
    users = tuple(LmsUser(f"u{n}", f"u{n}@acme.example") for n in range(3))
    objects = Snapshot(users=users, external_ids=(ExternalId("u0", "E0"), twice, ExternalId("u2", "E2")))
    held = held_snapshot(objects)
    found = frame_users(held)
    assert found is not None

    links = found.links(held.external_ids)

    assert list(zip(links["uid"].to_list(), links["id"].to_list(), strict=True)) == [
        (uid, user.id) for uid, user in objects.by_unique_id.items()
    ]


def test_users_made_objects_let_their_columns_go() -> None:
    objects = _objects()
    held = held_snapshot(objects)
    users = frame_users(held)
    assert users is not None

    assert held.by_id == objects.by_id  # a reader of the whole snapshot: every user made

    assert users.all_made and not held.held and users.frame.height == 0
    assert held.user_with_id("u7") == objects.by_id["u7"]
    empty = pl.Series([], dtype=pl.String)
    assert narrowed(held, settled=pl.Series([0], dtype=pl.UInt32), emails=empty, managers=empty) is held


def test_the_compared_columns_go_before_the_users_are_made_and_come_back_from_them() -> None:
    """A reader of objects drops the columns the columnar path compares before a million
    objects are made beside them; a columnar pass afterwards builds them from the objects."""
    objects = _objects()
    held = held_snapshot(objects)
    built = snapshot_columns(held)
    assert held.columnar is built

    assert held.by_unique_id == objects.by_unique_id

    assert held.columnar is None
    again = snapshot_columns(held)
    assert again.users.equals(snapshot_columns(objects).users)
    assert again.custom.equals(snapshot_columns(objects).custom)
