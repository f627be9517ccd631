"""``connectors.lms.pages.read_users``: a users listing decoded natively reads exactly as the
``json`` + ``SnapshotValues.user`` way does, odd pages included, and keeps the same users."""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import pytest

from connectors.lms import pages
from connectors.lms.pages import SnapshotValues, UserFilter, read_users
from engine.errors import TargetError
from engine.hris.columnar import SnapshotColumns
from engine.hris.held import FrameUsers
from engine.hris.snapshot import ExternalId, Snapshot

ADMIN = "sa@acme.example"
TEXTS = ["", "Acme", "Sales", "fr", "  Mixed Case  ", "Zoë", "a]b", 'say "hi"', "back\\slash", "ünï", "x, 3"]


def _item(rng: random.Random, n: int, odd: bool) -> dict[str, Any]:
    """A users item; ``odd`` ones carry what polars would read otherwise than ``json``."""
    mail = rng.choice([f"u{n}@acme.example", f" U{n}@Acme.Example "])
    item: dict[str, Any] = {"_id": f"u{n}", "mail": mail}
    if n % 17 == 0:
        item["mail"] = rng.choice([ADMIN.upper(), f" {ADMIN}", "sä@acme.example", None, ""])
    for key in ("status", "firstName", "lastName", "organization", "job", "lang"):
        choice = rng.random()
        if choice < 0.6:
            statuses = ["active", "invited", "deleted", "other", ""]
            item[key] = rng.choice(TEXTS if key != "status" else statuses)
        elif choice < 0.8:
            item[key] = None
    if rng.random() < 0.7:
        item["customFields"] = [
            {"customFieldId": rng.choice(["cf-a", "cf-b"]), "type": rng.choice(["string", "date", "", None]),
             "value": rng.choice([*TEXTS, None])}
            for _ in range(rng.randrange(3))
        ]  # fmt: skip
    elif rng.random() < 0.5:
        item["customFields"] = None
    if rng.random() < 0.7:
        item["managers"] = [f"u{rng.randrange(n + 5)}" for _ in range(rng.randrange(3))]
    elif rng.random() < 0.5:
        item["managers"] = None
    item["createdAt"] = "2026-01-01T00:00:00Z"
    if odd:
        key, value = rng.choice([
            ("job", True), ("job", 12), ("lang", 1.5), ("mail", 0), ("_id", 77), ("managers", "u1"),
            ("managers", [3, "u2"]), ("managers", [True]), ("extra", {"a": False}),
            ("customFields", [{"customFieldId": "c", "value": 0}]),
            ("customFields", [{"customFieldId": 5, "value": "x"}]), ("firstName", "\ud800x"),
        ])  # fmt: skip
        item[key] = value
    return item


def _pages(items: list[dict[str, Any]], size: int) -> list[bytes]:
    return [json.dumps(items[i : i + size]).encode() for i in range(0, len(items), size)]


def _frame(read: pages.UsersRead) -> Any:
    """The columns the read holds its users in; None when it made them objects."""
    return read.users.frame if isinstance(read.users, FrameUsers) else None


def _both(
    page_list: list[bytes], linked: set[str], emails: set[str] | None
) -> tuple[pages.UsersRead, pages.UsersRead]:
    reference = pages._decoded(page_list, SnapshotValues(), UserFilter(linked, emails, ADMIN))
    native = pages._NativeRead(SnapshotValues(), UserFilter(linked, emails, ADMIN)).read(page_list)
    return reference, native


@pytest.mark.parametrize("seed", range(40))
def test_native_decoding_reads_as_json_does(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "_BATCH_PAGES", 3)
    rng = random.Random(seed)
    odd_share = [0.0, 0.0, 0.02, 0.3][seed % 4]
    items = [_item(rng, n, rng.random() < odd_share) for n in range(rng.randrange(1, 200))]
    linked = {f"u{n}" for n in range(len(items)) if rng.random() < 0.6}
    addresses = {f"u{n}@acme.example" for n in range(len(items)) if rng.random() < 0.5}
    emails = None if seed % 5 == 0 else addresses
    try:
        reference, native = _both(_pages(items, rng.choice([1, 7, 50])), linked, emails)
    except (KeyError, TypeError):  # an odd item the Python reader refuses: both must refuse it
        with pytest.raises((KeyError, TypeError)):
            pages._NativeRead(SnapshotValues(), UserFilter(linked, emails, ADMIN)).read(_pages(items, 7))
        return
    frame = _frame(native)  # before the users are made objects, which lets the columns go
    assert native.users == reference.users
    assert [type(v) for u in native.users for v in (u.first_name, u.job)] == [
        type(v) for u in reference.users for v in (u.first_name, u.job)
    ]
    assert native.admins == reference.admins
    if not odd_share:
        assert frame is not None and frame.height == len(native.users)
        _same_columns(rng, frame)


def _same_columns(rng: random.Random, frame: Any) -> None:
    """The snapshot's columns joined from the decoded frame equal those made from its users
    (as objects: the way a listing read by ``json`` gets them)."""
    made = FrameUsers(frame, pages._made)
    ids = [user.id for user in made]
    links = [ExternalId(user_id, f"E{rng.randrange(len(ids) + 3)}") for user_id in ids if rng.random() < 0.8]
    links.append(ExternalId("u-unknown", "E-unknown"))
    learners = {"g1": frozenset(rng.sample(ids, len(ids) // 2)), "g2": frozenset(ids[:3])}
    held = Snapshot(users=FrameUsers(frame, pages._made), external_ids=tuple(links), learners=learners)
    objects = Snapshot(users=tuple(made), external_ids=tuple(links), learners=learners)
    assert held.held and not objects.held
    from_frame, from_users = SnapshotColumns(held), SnapshotColumns(objects)
    for name in ("users", "custom", "roles"):
        assert getattr(from_frame, name).equals(getattr(from_users, name)), name
    assert held.held, "the columns were read without making the users objects"
    assert from_frame.users.height == len(objects.by_unique_id)


def test_an_odd_page_is_decoded_by_json_and_no_columns_are_kept() -> None:
    items: list[dict[str, Any]] = [
        {"_id": "u1", "mail": "a@acme.example", "job": True},
        {"_id": "u2", "mail": "b@acme.example"},
    ]

    reference, native = _both(_pages(items, 1), {"u1", "u2"}, None)

    job: Any = native.users[0].job  # the Python reader keeps the JSON value as it is
    assert native.users == reference.users and job is True
    assert _frame(native) is None


def test_a_clean_listing_keeps_its_users_in_columns_with_shared_values() -> None:
    items = [
        {"_id": f"u{n}", "mail": f"u{n}@acme.example", "job": "Engineer", "managers": ["u0"],
         "customFields": [{"customFieldId": "cf", "type": "string", "value": "Paris"}]}
        for n in range(3)
    ]  # fmt: skip

    read = pages._NativeRead(SnapshotValues(), UserFilter(set(), None, ADMIN)).read(_pages(items, 2))
    frame = _frame(read)

    first, second, third = read.users
    assert first.job is second.job and first.custom_fields is third.custom_fields
    assert first.managers is second.managers and first.managers[0] is first.id
    assert frame is not None and frame["id"].to_list() == ["u0", "u1", "u2"]


def test_a_small_listing_never_loads_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("polars decoded a listing of a few pages")

    monkeypatch.setattr(pages._NativeRead, "read", refuse)
    listing = _pages([{"_id": f"u{n}", "mail": "x@acme.example"} for n in range(20)], 5)

    read = read_users(listing, SnapshotValues(), UserFilter(set(), None, ADMIN))

    assert len(read.users) == 20 and _frame(read) is None


def test_without_polars_a_big_listing_is_read_the_json_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    listing = _pages([{"_id": f"u{n}", "mail": "x@acme.example"} for n in range(40)], 2)

    read = read_users(listing, SnapshotValues(), UserFilter(set(), None, ADMIN))

    assert [user.id for user in read.users] == [f"u{n}" for n in range(40)] and _frame(read) is None


def test_a_page_that_is_not_json_says_so() -> None:
    with pytest.raises(TargetError, match="not JSON"):
        pages._NativeRead(SnapshotValues(), UserFilter(set(), None, ADMIN)).read([b"[{oops"])


def test_a_page_in_doubt_that_reads_alike_both_ways_keeps_its_columns() -> None:
    items: list[dict[str, Any]] = [
        {"_id": 77, "mail": "a@acme.example", "customFields": [{"customFieldId": "cf", "value": "1234"}]},
        {"_id": "u2", "mail": "b@acme.example", "job": "007"},  # text that looks like a number
    ]

    reference, native = _both(_pages(items, 1), set(), None)
    frame = _frame(native)

    assert native.users == reference.users and native.users[0].id == "77"
    assert frame is not None and frame["id"].to_list() == ["77", "u2"]


def test_an_escaped_lone_surrogate_is_read_the_json_way() -> None:
    page = b'[{"_id": "u1", "mail": "a@acme.example", "firstName": "\\ud800x"}]'

    reference, native = _both([page], set(), None)

    assert native.users == reference.users and native.users[0].first_name == "\ud800x"
    assert _frame(native) is None
