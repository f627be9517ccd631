"""The plan JSON contract and personal-data masking, as CI and reviewers consume them."""

from __future__ import annotations

import json

from engine.hris import LmsUser, plan_to_json, render_text
from engine.hris.privacy import mask

from .factories import ROOT_ID, hris_config, plan_of, snapshot

CONFIG = hris_config(fields={"firstName": "first_name", "lastName": "last_name", "title": "title"})
TEXT = (
    "uniqueId,status,email,firstName,lastName,title\n"
    "2,Active,ada@example.org,Ada,Lovelace,CTO\n"
    "1,Active,grace@example.org,Grace,Hopper,Admiral\n"
    "1,Active,dup@example.org,X,Y,Z\n"
    "3,Active,not-an-email,Ann,Easley,Engineer\n"
)


def test_plan_json_has_the_contract_keys_and_integer_counts() -> None:
    document = plan_to_json(plan_of(TEXT, snapshot(), CONFIG))
    assert set(document) == {"version", "summary", "changes", "problems", "guard"}
    assert document["version"] == 1
    assert set(document["summary"]) == {
        "create", "update", "delete", "restore", "unchanged",
        "duplicated", "ignored", "filtered_out", "no_group_rule",
    }  # fmt: skip
    assert all(type(v) is int for v in document["summary"].values())
    assert document["summary"] == {
        "create": 1, "update": 0, "delete": 0, "restore": 0, "unchanged": 0,
        "duplicated": 2, "ignored": 1, "filtered_out": 0, "no_group_rule": 0,
    }  # fmt: skip
    assert document["guard"] == {"deletions": 0, "allowed": 1000, "tripped": False}
    (change,) = document["changes"]
    assert set(change) == {"action", "unique_id", "fields", "groups"}
    assert change["groups"] == {"add": ["Acme"], "remove": []}
    assert [set(p) for p in document["problems"]] == [{"line", "unique_id", "code", "message"}] * 3


def test_changes_are_sorted_by_unique_id() -> None:
    text = "uniqueId,status,email\n" + "".join(f"{u},Active,{u}@example.org\n" for u in ["b", "c", "a"])
    assert [c["unique_id"] for c in plan_to_json(plan_of(text, snapshot()))["changes"]] == ["a", "b", "c"]


def test_emails_and_names_are_masked_by_default_with_a_stable_short_hash() -> None:
    document = plan_to_json(plan_of(TEXT, snapshot(), CONFIG))
    fields = document["changes"][0]["fields"]
    assert fields["mail"]["to"] == mask("ada@example.org") == "<masked:" + mask("ada@example.org")[8:14] + ">"
    assert fields["firstName"]["to"].startswith("<masked:") and fields["lastName"]["to"].startswith(
        "<masked:"
    )
    assert fields["job"]["to"] == "CTO"
    dumped = json.dumps(document) + render_text(plan_of(TEXT, snapshot(), CONFIG))
    for secret in ["ada@", "Ada", "Lovelace", "grace", "Grace", "Hopper", "not-an-email", "Easley"]:
        assert secret not in dumped


def test_a_changed_personal_value_shows_as_a_different_hash() -> None:
    snap = snapshot((LmsUser("u1", "ada@old.example.org", first_name="Ada"),), links={"2": "u1"},
                    learners={ROOT_ID: {"u1"}})  # fmt: skip
    fields = plan_to_json(plan_of(TEXT, snap, CONFIG))["changes"][0]["fields"]
    assert fields["mail"]["from"] != fields["mail"]["to"]
    assert "firstName" not in fields


def test_show_personal_data_shows_values_in_clear() -> None:
    document = plan_to_json(plan_of(TEXT, snapshot(), CONFIG), show_personal_data=True)
    assert document["changes"][0]["fields"]["mail"] == {"from": None, "to": "ada@example.org"}


def test_text_rendering_lists_counts_changes_problems_and_guard() -> None:
    text = render_text(plan_of(TEXT, snapshot(), CONFIG))
    assert text.startswith("Plan: 1 to create, 0 to update, 0 to restore, 0 to delete, 0 unchanged.")
    assert "+ create 2" in text and '    job: "CTO"' in text and "group + Acme" in text
    assert "line 3 (uniqueId 1): duplicated" in text and "line 5 (uniqueId 3): invalid_email" in text
    assert "Deletion guard: 0 deletion(s), at most 1000 allowed." in text


def test_an_empty_plan_says_so() -> None:
    snap = snapshot((LmsUser("u1", "a@example.org"),), links={"1": "u1"}, learners={ROOT_ID: {"u1"}})
    assert "No changes" in render_text(plan_of("uniqueId,status,email\n1,Active,a@example.org\n", snap))
