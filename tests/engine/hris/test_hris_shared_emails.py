"""Rows of different uniqueIds asking for one e-mail: the planner decides who may have it.

The LMS gives an address to one user only, so a plan creating (or moving an address to) two
users with one e-mail would be refused halfway. The row linked to the LMS user already
holding the address proceeds and the others are skipped (``email_in_use``); when no row
is, every row is skipped (``duplicated_email``). Each case is planned twice: through the
bulk path (``build_desired``'s column-backed users, settled in bulk where the LMS matches)
and through the per-user reference (a plain dict of users); both must agree.
"""

from __future__ import annotations

import dataclasses
import json

from engine.hris import LmsUser, Plan, Snapshot, plan_sync, plan_to_json
from engine.hris.actions import CreateUser, LinkExternalId, UpdateProfile, UserRef
from engine.hris.snapshot import UserStatus

from .factories import ROOT_ID, action_types, desired_from, hris_config, snapshot

HEAD = "uniqueId,status,email,firstName"
CONFIG = hris_config(fields={"firstName": "first_name"}, missing_users="delete")


def both_paths(text: str, snap: Snapshot) -> Plan:
    """The plan, after checking the bulk path and the per-user reference agree on it."""
    desired = desired_from(text, CONFIG)
    bulk = plan_sync(desired, snap, CONFIG)
    one_by_one = plan_sync(dataclasses.replace(desired, users=dict(desired.users)), snap, CONFIG)
    assert (bulk.actions, bulk.changes, bulk.summary, bulk.problems, bulk.guard) == (
        one_by_one.actions,
        one_by_one.changes,
        one_by_one.summary,
        one_by_one.problems,
        one_by_one.guard,
    )
    return bulk


def codes(plan: Plan) -> list[tuple[int, str | None, str]]:
    return [(p.line, p.unique_id, p.code) for p in plan.problems]


def user(user_id: str, mail: str, first_name: str = "Ada", *, status: UserStatus = "active") -> LmsUser:
    return LmsUser(user_id, mail, status=status, first_name=first_name)


def test_two_new_rows_sharing_an_email_are_both_skipped_and_nothing_is_created() -> None:
    text = f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Active,same@acme.example,Bob\n"
    text += "3,Active,own@acme.example,C\n"
    plan = both_paths(text, snapshot())
    assert codes(plan) == [(2, "1", "duplicated_email"), (3, "2", "duplicated_email")]
    assert plan.problems[0].message == (
        "e-mail shared by lines 2, 3: all of them are skipped until each row has its own"
    )
    assert all("same@" not in p.message and not p.synced for p in plan.problems)
    assert [a.unique_id for a in plan.actions if isinstance(a, CreateUser)] == ["3"]
    assert plan.summary.create == 1 and plan.summary.ignored == 2 and plan.summary.duplicated == 0


def test_an_email_is_compared_trimmed_and_lower_cased() -> None:
    text = f"{HEAD}\n1,Active,  Same@ACME.example ,Ada\n2,Active,same@acme.example,Bob\n"
    assert codes(both_paths(text, snapshot())) == [(2, "1", "duplicated_email"), (3, "2", "duplicated_email")]


def test_the_row_linked_to_the_holder_keeps_the_email_the_others_are_skipped() -> None:
    snap = snapshot((user("u1", "same@acme.example"),), links={"1": "u1"}, learners={ROOT_ID: {"u1"}})
    # Row 1 matches the LMS (settled in bulk), rows 2 and 4 are new: they are the ones skipped.
    text = (
        f"{HEAD}\n2,Active,same@acme.example,Bob\n1,Active,same@acme.example,Ada\n"
        "4,Active,SAME@acme.example,Dan\n"
    )
    plan = both_paths(text, snap)
    assert codes(plan) == [(2, "2", "email_in_use"), (4, "4", "email_in_use")]
    assert plan.problems[0].message == (
        "the e-mail is also on line(s) 3, 4, and the LMS user holding it is linked to uniqueId 1, "
        "whose row keeps it; this row is skipped until it has its own"
    )
    assert plan.is_empty and plan.summary.unchanged == 1 and plan.summary.ignored == 2


def test_the_holder_row_is_still_updated_when_it_changes() -> None:
    snap = snapshot((user("u1", "same@acme.example"),), links={"1": "u1"}, learners={ROOT_ID: {"u1"}})
    text = f"{HEAD}\n1,Active,same@acme.example,Adele\n2,Active,same@acme.example,Bob\n"
    plan = both_paths(text, snap)
    assert plan.actions == (UpdateProfile(UserRef("1", "u1"), (("firstName", "Adele"),)),)
    assert codes(plan) == [(3, "2", "email_in_use")]


def test_a_managed_user_moving_to_an_email_another_row_keeps_is_skipped_whole() -> None:
    # User 2 exists with its own address; its row now asks for user 1's address (and a new
    # first name): the row is skipped, nothing of it is written.
    snap = snapshot(
        (user("u1", "same@acme.example"), user("u2", "bob@acme.example", "Bob")),
        links={"1": "u1", "2": "u2"},
        learners={ROOT_ID: {"u1", "u2"}},
    )
    text = f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Active,same@acme.example,Robert\n"
    plan = both_paths(text, snap)
    assert plan.is_empty and codes(plan) == [(3, "2", "email_in_use")]
    assert plan.summary.unchanged == 1 and plan.summary.update == 0


def test_an_email_held_by_a_user_of_no_sharing_row_skips_them_all() -> None:
    # The holder is managed under uniqueId 9, which is not among the rows sharing it.
    snap = snapshot((user("u9", "same@acme.example"),), links={"9": "u9"}, learners={ROOT_ID: {"u9"}})
    text = f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Active,same@acme.example,Bob\n"
    text += "9,Active,nine@acme.example,Ada\n"
    plan = both_paths(text, snap)
    assert codes(plan) == [(2, "1", "duplicated_email"), (3, "2", "duplicated_email")]
    assert action_types(plan) == ["UpdateProfile"]  # only 9's own e-mail change


def test_an_unlinked_holder_is_not_adopted_by_either_row() -> None:
    snap = snapshot((user("u5", "same@acme.example"),), learners={ROOT_ID: {"u5"}})
    text = f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Active,same@acme.example,Bob\n"
    plan = both_paths(text, snap)
    assert plan.is_empty and codes(plan) == [(2, "1", "duplicated_email"), (3, "2", "duplicated_email")]


def test_skipped_rows_keep_their_users_from_being_deleted_as_missing() -> None:
    snap = snapshot(
        (user("u1", "one@acme.example"), user("u2", "two@acme.example")),
        links={"1": "u1", "2": "u2"},
        learners={ROOT_ID: {"u1", "u2"}},
    )
    text = f"{HEAD}\n1,Active,new@acme.example,Ada\n2,Active,new@acme.example,Ada\n"
    plan = both_paths(text, snap)
    assert plan.is_empty and plan.summary.delete == 0
    assert codes(plan) == [(2, "1", "duplicated_email"), (3, "2", "duplicated_email")]


def test_leavers_filtered_and_invalid_rows_do_not_share_an_email() -> None:
    config = hris_config(fields={"firstName": "first_name"}, filter={"firstName": ["Ada"]})
    text = (
        f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Inactive,same@acme.example,Ada\n"
        "3,Active,same@acme.example,Bob\n1,Active,other@acme.example,Ada\n"
    )
    # Row 1 is duplicated (uniqueId twice), 2 leaves, 3 is filtered out: nobody shares.
    plan = plan_sync(desired_from(text, config), snapshot(), config)
    assert {p.code for p in plan.problems} == {"duplicated"}


def test_two_users_the_lms_holds_with_one_email_settled_rows_included() -> None:
    # Data the LMS should refuse but a real instance may hold: two linked users, one address,
    # both rows matching their user exactly. The live one's row keeps it; the other, settled
    # in bulk at first, is skipped after all, its manager left alone.
    snap = snapshot(
        (user("u1", "same@acme.example"), user("u2", "same@acme.example")),
        links={"1": "u1", "2": "u2"},
        learners={ROOT_ID: {"u1", "u2"}},
    )
    head = "uniqueId,status,email,firstName,managerId"
    config = hris_config(fields={"firstName": "first_name", "managerId": "manager"})
    text = f"{head}\n1,Active,same@acme.example,Ada,\n2,Active,same@acme.example,Ada,1\n"
    desired = desired_from(text, config)
    bulk = plan_sync(desired, snap, config)
    one_by_one = plan_sync(dataclasses.replace(desired, users=dict(desired.users)), snap, config)
    assert bulk == one_by_one
    assert codes(bulk) == [(3, "2", "email_in_use")]
    assert bulk.is_empty and bulk.summary.unchanged == 1 and bulk.summary.ignored == 1


def test_a_new_row_and_a_restored_user_sharing_an_email() -> None:
    # The deleted managed user 1 held the address: its row restores it, the new row waits.
    snap = snapshot((user("u1", "same@acme.example", status="deleted"),), links={"1": "u1"})
    text = f"{HEAD}\n1,Active,same@acme.example,Ada\n2,Active,same@acme.example,Bob\n"
    plan = both_paths(text, snap)
    assert action_types(plan) == ["RestoreUser", "LinkExternalId"]
    assert plan.actions[1] == LinkExternalId(UserRef("1", None), "lmsync-hris")
    assert codes(plan) == [(3, "2", "email_in_use")] and plan.summary.restore == 1


def test_plan_json_with_shared_emails_is_deterministic() -> None:
    text = (
        f"{HEAD}\n5,Active,b@acme.example,E\n1,Active,a@acme.example,A\n"
        "3,Active,b@acme.example,C\n2,Active,a@acme.example,B\n"
    )
    first = json.dumps(plan_to_json(both_paths(text, snapshot())), sort_keys=True)
    second = json.dumps(plan_to_json(both_paths(text, snapshot())), sort_keys=True)
    assert first == second
    assert [p["line"] for p in json.loads(first)["problems"]] == [2, 3, 4, 5]
