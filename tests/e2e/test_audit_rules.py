"""Rules of the reference that had no end-to-end test yet, each applied over HTTP to the sandbox.

Written during the audit of the HRIS sync against ``hris-connector.txt`` and DESIGN.md's "Sync
semantics": every test applies real files with ``apply_hris_file`` (what ``lmsync apply``
and ``lmsync sync`` run), reads the LMS back through the sandbox's admin surface, and where it
matters checks that the re-plan is empty and that a user the rule protects received no write.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.hris import DeletionGuardTrippedError
from tests.engine.apply.world import ROOT, ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def table(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def assert_converged(world: ApplyWorld, text: str, config: Any = None) -> None:
    """Re-planning finds nothing; applying again sends no write."""
    assert world.plan(text, config).is_empty
    world.sandbox.admin.reset_requests()
    assert world.apply(text, config).plan.is_empty
    assert world.writes() == []


def writes_to(world: ApplyWorld, user_id: str) -> list[dict[str, Any]]:
    return [w for w in world.writes() if user_id in w["path"]]


def group_id(world: ApplyWorld, name: str) -> str:
    return str(next(g["_id"] for g in world.state()["groups"] if g["name"] == name))


# --- status ---------------------------------------------------------------------------------


def test_status_active_is_trimmed_and_any_case_and_anything_else_deletes(world: ApplyWorld) -> None:
    first = csv(row("1", status=" active "), row("2", status="ACTIVE"), row("3", status="Active\t"))
    outcome = world.apply(first)
    assert outcome.counts["created"] == 3, outcome.problems

    leavers = csv(row("1", status=" active "), row("2", status="Terminated"), row("3", status="inactive"))
    outcome = world.apply(leavers)

    users = world.managed()
    assert outcome.counts["deleted"] == 2
    assert [users[uid]["status"] for uid in ("1", "2", "3")] == ["active", "deleted", "deleted"]
    assert_converged(world, leavers)


def test_a_deleting_row_never_touches_a_user_the_connector_does_not_manage(world: ApplyWorld) -> None:
    seeded = world.sandbox.admin.seed(
        users=[
            {"mail": "user7@acme.example", "job": "Auditor", "roles": [{"groupId": ROOT, "role": "learner"}]}
        ]
    )["users"][0]
    world.sandbox.admin.reset_requests()

    # Same e-mail as the LMS-only user, status "Left": no managed user has uniqueId 7.
    outcome = world.apply(csv(row("1"), row("7", status="Left")))

    assert outcome.counts["deleted"] == 0 and outcome.counts["created"] == 1
    kept = next(u for u in world.state()["users"] if u["_id"] == seeded["_id"])
    assert kept["status"] == "active" and kept["job"] == "Auditor"
    assert writes_to(world, seeded["_id"]) == []
    assert "7" not in world.managed()


# --- e-mail, language, dates ------------------------------------------------------------------


def test_email_is_stored_lower_case(world: ApplyWorld) -> None:
    text = csv(row("1", email="  Ada.LOVELACE@Acme.Example "))

    world.apply(text)

    assert world.managed()["1"]["mail"] == "ada.lovelace@acme.example"
    assert_converged(world, text)


def test_language_by_iso_code_any_case_and_by_configured_name(world: ApplyWorld) -> None:
    config = world.config(
        fields={"firstName": "first_name", "language": "language"},
        languages={"Français": "fr", "Deutsch": "de"},
        groups={},
    )
    text = table(
        "uniqueId,status,email,firstName,language",
        "1,Active,u1@acme.example,A,EN",
        "2,Active,u2@acme.example,B,français",
        "3,Active,u3@acme.example,C, Deutsch ",
        "4,Active,u4@acme.example,D,pt-br",
        "5,Active,u5@acme.example,E,Klingon",
    )

    outcome = world.apply(text, config)

    users = world.managed()
    assert {uid: users[uid]["lang"] for uid in ("1", "2", "3", "4")} == {
        "1": "en",
        "2": "fr",
        "3": "de",
        "4": "pt-BR",
    }
    assert "5" not in users
    assert [(r["line"], r["code"]) for r in outcome.report if r["result"] == "ignored"] == [
        (6, "unknown_language")
    ]
    assert_converged(world, text, config)


def test_date_custom_field_is_created_as_a_date_and_a_bad_date_is_ignored(world: ApplyWorld) -> None:
    config = world.config(
        custom_fields={"location": "Location", "hireDate": {"title": "Hire date", "type": "date"}},
        groups={},
    )
    text = table(
        "uniqueId,status,email,location,hireDate",
        "1,Active,u1@acme.example,HQ,2024-02-29",
        "2,Active,u2@acme.example,HQ,2023-02-29",
        "3,Active,u3@acme.example,HQ,31/01/2024",
        "4,Active,u4@acme.example,HQ,",
    )

    outcome = world.apply(text, config)

    hire = next(f for f in world.state()["customFields"] if f["name"] == "Hire date")
    assert hire["type"] == "date"
    users = world.managed()
    assert sorted(users) == ["1", "4"]
    assert {v["customFieldId"]: v["value"] for v in users["1"]["customFields"]}[hire["_id"]] == "2024-02-29"
    assert hire["_id"] not in {v["customFieldId"] for v in users["4"]["customFields"]}  # empty: no value
    assert sorted((r["line"], r["code"]) for r in outcome.report if r["result"] == "ignored") == [
        (3, "invalid_date"),
        (4, "invalid_date"),
    ]
    assert_converged(world, text, config)


# --- absent column versus empty cell ------------------------------------------------------------


FULL = "uniqueId,status,email,firstName,lastName,title,managerId,location,country,site"


def test_absent_columns_leave_fields_values_and_manager_alone(world: ApplyWorld) -> None:
    world.apply(csv(row("1", title="CEO"), row("2", title="Engineer", manager="1")))
    before = world.managed()
    world.sandbox.admin.reset_requests()

    # No title, managerId or location column: the LMS keeps what it has for those.
    narrow = table(
        "uniqueId,status,email,firstName,lastName,country,site",
        "1,Active,user1@acme.example,First1,Last1,France,Paris",
        "2,Active,user2@acme.example,First2,Last2,France,Paris",
    )
    outcome = world.apply(narrow)

    assert outcome.plan.is_empty, outcome.plan.changes
    assert world.writes() == []
    after = world.managed()
    assert after["2"]["job"] == "Engineer" and after["2"]["managers"] == [before["1"]["_id"]]
    assert after["2"]["customFields"] == before["2"]["customFields"]


def test_empty_cells_clear_the_field_the_custom_value_and_the_manager(world: ApplyWorld) -> None:
    badge = world.sandbox.client.create_custom_field("Badge")
    world.apply(csv(row("1", title="CEO"), row("2", title="Engineer", manager="1")))
    uid2 = world.managed()["2"]["_id"]
    location = next(f for f in world.state()["customFields"] if f["name"] == "Location")
    world.sandbox.client.put_custom_values(
        uid2,
        [{"customFieldId": location["_id"], "value": "HQ"}, {"customFieldId": badge["_id"], "value": "gold"}],
    )

    cleared = csv(row("1", title="CEO"), row("2", title="", manager="", location=""))
    outcome = world.apply(cleared)

    assert outcome.status == "succeeded", outcome.problems
    user = world.managed()["2"]
    assert user["job"] is None
    assert user["managers"] == []
    # The connector's value is gone; the value of a field it does not manage stays.
    assert [(v["customFieldId"], v["value"]) for v in user["customFields"]] == [(badge["_id"], "gold")]
    assert_converged(world, cleared)


# --- groups -------------------------------------------------------------------------------------


def test_hierarchy_with_empty_levels_stops_at_the_last_non_empty_level(world: ApplyWorld) -> None:
    text = csv(
        row("1", country="France", site="Paris"),
        row("2", country="France", site=""),
        row("3", country="", site=""),
        row("4", country="", site="Lyon"),
    )

    outcome = world.apply(text)

    assert outcome.status == "succeeded", outcome.problems
    users = world.managed()
    assert world.learner_groups(users["1"]["_id"]) == {"Acme", "Acme/France/Paris"}
    assert world.learner_groups(users["2"]["_id"]) == {"Acme", "Acme/France"}
    assert world.learner_groups(users["3"]["_id"]) == {"Acme"}
    assert world.learner_groups(users["4"]["_id"]) == {"Acme"}
    assert not any(g["name"] == "" for g in world.state()["groups"])
    assert_converged(world, text)


def test_a_move_removes_only_the_learner_role_and_keeps_a_coach_role(world: ApplyWorld) -> None:
    world.apply(csv(row("1", site="Paris")))
    user = world.managed()["1"]["_id"]
    paris = group_id(world, "Paris")
    world.sandbox.client.add_role(paris, "coach", user)

    moved = csv(row("1", site="Lyon"))
    world.apply(moved)

    roles = {(r["groupId"], r["role"]) for r in world.state()["roles"] if r["userId"] == user}
    assert (paris, "coach") in roles and (paris, "learner") not in roles
    assert world.learner_groups(user) == {"Acme", "Acme/France/Lyon"}
    assert_converged(world, moved)


def test_a_group_outside_the_connectors_reach_keeps_its_learners(world: ApplyWorld) -> None:
    other = world.sandbox.admin.seed(
        groups=[{"name": "Book club", "parentId": world.sandbox.platform_group_id}]
    )
    club = other["groups"][0]["_id"]
    world.apply(csv(row("1")))
    user = world.managed()["1"]["_id"]
    world.sandbox.client.add_role(club, "learner", user)

    moved = csv(row("1", country="Spain", site="Madrid"))
    world.apply(moved)

    assert world.learner_groups(user) == {"Acme", "Acme/Spain/Madrid", "Book club"}
    assert_converged(world, moved)


# --- filter -------------------------------------------------------------------------------------


def test_filter_is_and_across_columns_or_across_values_and_spares_filtered_users(world: ApplyWorld) -> None:
    config = world.config(filter={"country": ["France", "Spain"], "site": ["Paris", "Madrid"]})
    text = csv(
        row("1", country="France", site="Paris"),
        row("2", country="Spain", site="Madrid"),
        row("3", country="France", site="Lyon"),  # site not accepted
        row("4", country="Italy", site="Paris"),  # country not accepted
    )

    outcome = world.apply(text, config)

    assert sorted(world.managed()) == ["1", "2"]
    assert outcome.counts["filtered_out"] == 2
    # A user later filtered out is left alone, even when missing users are deleted.
    deleting = world.config(
        filter={"country": ["France", "Spain"], "site": ["Paris", "Madrid"]}, missing_users="delete"
    )
    world.sandbox.admin.reset_requests()
    again = world.apply(
        csv(row("1", country="France", site="Paris"), row("2", country="Spain", site="Lyon")), deleting
    )
    assert again.counts["deleted"] == 0 and again.counts["filtered_out"] == 1
    assert world.managed()["2"]["status"] == "active"
    assert writes_to(world, world.managed()["2"]["_id"]) == []


def test_a_leaver_leaves_even_when_the_filter_no_longer_names_them(world: ApplyWorld) -> None:
    # HRIS exports blank most cells of a leaver, the filter's column included: the filter
    # chooses whom to sync, it must not keep a leaver in the LMS.
    config = world.config(filter={"site": ["Paris"]})
    world.apply(csv(row("1"), row("2"), row("3")), config)
    assert sorted(world.managed()) == ["1", "2", "3"]
    leaving = csv(
        row("1"),
        row("2", status="Inactive", email="", firstName="", lastName="", title="", country="", site=""),
        row("3", status="Inactive", site="Lyon"),  # moved out of the filter, then left
        row("9", status="Inactive", site="Lyon"),  # never synced: nothing to delete
    )

    outcome = world.apply(leaving, config)

    assert outcome.counts["deleted"] == 2 and outcome.counts["filtered_out"] == 0
    assert {uid: user["status"] for uid, user in world.managed().items()} == {
        "1": "active",
        "2": "deleted",
        "3": "deleted",
    }


# --- deletion guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "deletions", "trips"),
    [(2, 2, False), (2, 3, True), ("10%", 2, False), ("10%", 3, True), ("0%", 1, True), (0, 1, True)],
)
def test_deletion_guard_in_count_and_percent_rounds_down(
    world: ApplyWorld, limit: int | str, deletions: int, trips: bool
) -> None:
    team = [row(f"{i:02}") for i in range(25)]
    world.apply(csv(*team))
    world.sandbox.admin.reset_requests()
    leaving = csv(*(row(f"{i:02}", status="Inactive") if i < deletions else team[i] for i in range(25)))
    config = world.config(safety={"max_deletions": limit})

    if trips:
        with pytest.raises(DeletionGuardTrippedError) as tripped:
            world.apply(leaving, config)
        assert tripped.value.deletions == deletions
        assert f"--allow-deletions {deletions}" in str(tripped.value)
        assert world.writes() == []
    else:
        assert world.apply(leaving, config).counts["deleted"] == deletions


def test_missing_users_delete_counts_toward_the_guard(world: ApplyWorld) -> None:
    world.apply(csv(*(row(str(i)) for i in range(10))))
    world.sandbox.admin.reset_requests()
    config = world.config(missing_users="delete", safety={"max_deletions": 1})

    with pytest.raises(DeletionGuardTrippedError) as tripped:
        world.apply(csv(row("0"), row("1")), config)

    assert tripped.value.deletions == 8
    assert world.writes() == []


# --- managers -------------------------------------------------------------------------------------


def test_an_unknown_manager_leaves_the_current_one_and_is_reported(world: ApplyWorld) -> None:
    world.apply(csv(row("1"), row("2", manager="1")))
    boss = world.managed()["1"]["_id"]

    text = csv(row("1"), row("2", manager="404"))
    outcome = world.apply(text)

    assert world.managed()["2"]["managers"] == [boss]
    assert [(r["unique_id"], r["code"]) for r in outcome.report] == [("2", "unknown_manager")]
    assert world.plan(text).changes == ()


def test_a_manager_known_only_in_the_lms_is_found_by_its_unique_id(world: ApplyWorld) -> None:
    world.apply(csv(row("1"), row("2")))
    boss = world.managed()["1"]["_id"]

    # 1 is no longer in the file (missing users are kept): it is still a managed user.
    text = csv(row("2", manager="1"))
    outcome = world.apply(text)

    assert outcome.status == "succeeded", outcome.problems
    assert world.managed()["2"]["managers"] == [boss]
    assert_converged(world, text)


def test_a_manager_who_leaves_in_the_same_file_converges(world: ApplyWorld) -> None:
    world.apply(csv(row("1"), row("2")))

    text = csv(row("1", status="Inactive"), row("2", manager="1"))
    world.apply(text)

    users = world.managed()
    assert users["1"]["status"] == "deleted"
    assert_converged(world, text)


# --- e-mails already taken ------------------------------------------------------------------------


def test_a_new_email_taken_by_an_lms_only_user_is_left_as_is_and_reported(world: ApplyWorld) -> None:
    outsider = world.sandbox.admin.seed(users=[{"mail": "taken@acme.example"}])["users"][0]
    world.apply(csv(row("1", title="CEO")))
    world.sandbox.admin.reset_requests()

    text = csv(row("1", title="Founder", email="taken@acme.example"))
    outcome = world.apply(text)

    user = world.managed()["1"]
    assert user["mail"] == "user1@acme.example" and user["job"] == "Founder"
    assert [(r["unique_id"], r["code"]) for r in outcome.report] == [("1", "email_in_use")]
    assert writes_to(world, outsider["_id"]) == []


def test_an_email_of_a_user_linked_to_another_unique_id_skips_the_row(world: ApplyWorld) -> None:
    world.apply(csv(row("1")))
    first = world.managed()["1"]["_id"]
    world.sandbox.admin.reset_requests()

    outcome = world.apply(csv(row("1"), row("9", email="user1@acme.example")))

    assert sorted(world.managed()) == ["1"]
    assert [(r["unique_id"], r["result"], r["code"]) for r in outcome.report] == [
        ("9", "ignored", "email_in_use")
    ]
    assert writes_to(world, first) == []


# --- the file's format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "separator", "bom"),
    [("auto", "\t", True), ("auto", ",", False), (";", ";", True), ("|", "|", False)],
    ids=["tsv-bom", "csv", "semicolon-bom", "pipe"],
)
def test_tabs_commas_and_a_configured_separator_with_or_without_bom(
    world: ApplyWorld, delimiter: str, separator: str, bom: bool
) -> None:
    config = world.config(
        file={"prefix": "hris", "extension": "tsv", "delimiter": delimiter},
        fields={"firstName": "first_name"},
        custom_fields={},
        groups={},
    )
    lines = ["uniqueId", "status", "email", "firstName"], ["1", "Active", "u1@acme.example", "Ada, Countess"]
    text = ("\ufeff" if bom else "") + "\n".join(separator.join(cells) for cells in lines) + "\n"
    if separator == ",":
        text = text.replace("Ada, Countess", '"Ada, Countess"')

    outcome = world.apply(text, config)

    assert outcome.status == "succeeded", outcome.problems
    assert world.managed()["1"]["firstName"] == "Ada, Countess"
    assert_converged(world, text, config)
