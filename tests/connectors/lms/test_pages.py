"""``connectors.lms.pages``: API items → snapshot values, each repeated value held once."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.lms.pages import SnapshotValues, definition_of, group_of
from engine.hris.snapshot import CustomFieldDefinition, CustomValue, LmsGroup, LmsUser


def item(user_id: str, **fields: Any) -> dict[str, Any]:
    """A ``/api/v2/users`` item whose every string is a new object, as the JSON decoder makes them."""
    raw: dict[str, Any] = {"_id": "".join(user_id), "mail": f"{user_id}@acme.example"}
    raw.update(fields)
    return raw


def fresh(text: str) -> str:
    copy = "".join(list(text))
    assert copy == text and (len(text) < 2 or copy is not text)
    return copy


def test_a_user_item_becomes_the_user_the_planner_reads() -> None:
    raw = item(
        "u1",
        status="deleted",
        firstName="Ada",
        lastName=None,
        organization="",
        job="Engineer",
        lang="fr",
        customFields=[
            {"customFieldId": "cf-1", "type": "date", "value": "2020-01-02"},
            {"customFieldId": 7, "value": None},
        ],
        managers=["u2", 3],
    )

    user = SnapshotValues().user(raw)

    assert user == LmsUser(
        id="u1",
        mail="u1@acme.example",
        status="deleted",
        first_name="Ada",
        last_name=None,
        organization="",
        job="Engineer",
        lang="fr",
        custom_fields=(CustomValue("cf-1", "date", "2020-01-02"), CustomValue("7", "string", "")),
        managers=("u2", "3"),
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("invited", "invited"),
        ("deleted", "deleted"),
        ("active", "active"),
        (None, "active"),
        ("odd", "active"),
    ],
)
def test_a_status_the_connector_does_not_know_reads_as_active(status: str | None, expected: str) -> None:
    assert SnapshotValues().user(item("u1", status=status)).status == expected


def test_missing_lists_read_as_empty_tuples() -> None:
    user = SnapshotValues().user(item("u1", customFields=None, managers=None))

    assert user.custom_fields == () and user.managers == ()
    assert user.organization is None and user.job is None and user.lang is None


def test_values_repeated_across_users_are_one_object() -> None:
    values = SnapshotValues()

    def read(user_id: str, location: str) -> LmsUser:
        return values.user(
            item(
                user_id,
                organization=fresh("Acme Europe"),
                job=fresh("Sales engineer"),
                lang=fresh("fr"),
                customFields=[{"customFieldId": fresh("cf-loc"), "type": fresh("string"), "value": location}],
                managers=[fresh("u-boss")],
            )
        )

    first, second = read("u1", fresh("Paris office")), read("u2", fresh("Paris office"))
    other = read("u3", fresh("Lyon office"))

    assert first.organization is second.organization is other.organization
    assert first.job is second.job and first.lang is second.lang
    assert first.custom_fields is second.custom_fields  # the whole tuple, and its values
    assert first.custom_fields[0] is second.custom_fields[0]
    assert other.custom_fields == (CustomValue("cf-loc", "string", "Lyon office"),)
    assert first.managers is second.managers is other.managers

    # Names and e-mails are near-unique: read as they come, even when two users' are equal.
    namesakes = [
        values.user(item(f"u{n}", mail=fresh("ann@acme.example"), firstName=fresh("Ann"))) for n in (4, 5)
    ]
    assert namesakes[0].mail == namesakes[1].mail and namesakes[0].mail is not namesakes[1].mail
    assert namesakes[0].first_name == "Ann" and namesakes[0].first_name is not namesakes[1].first_name


def test_other_listings_name_a_user_with_the_users_own_id_string() -> None:
    values = SnapshotValues()
    user = values.user(item("u-42"))

    linked = values.user_id(fresh("u-42"))

    assert linked == "u-42" and linked is user.id
    assert values.user_id(17) == "17"  # an id never read as a user: as text, unchanged
    assert values.user_id("u-unknown") == "u-unknown"


def test_a_value_that_is_not_text_is_kept_as_it_is_not_remembered() -> None:
    # The LMS answers strings; should it send anything else, reading must not fail on it.
    user = SnapshotValues().user(item("u1", job=["not", "text"], organization=12))

    job: object = user.job
    organization: object = user.organization
    assert job == ["not", "text"] and organization == 12


def test_definitions_and_groups() -> None:
    assert definition_of({"_id": 5, "name": "Hire date", "type": "date"}) == CustomFieldDefinition(
        "5", "Hire date", "date"
    )
    assert definition_of({"_id": "cf", "name": "Site"}).type == "string"
    assert group_of({"_id": "g1", "name": "Paris", "parentId": "g0", "public": 1}) == LmsGroup(
        "g1", "Paris", "g0", True
    )
    assert group_of({"_id": "g0", "parentId": ""}) == LmsGroup("g0", "", None, False)
