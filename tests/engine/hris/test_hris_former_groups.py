"""Groups the connector managed before and no longer does: the learner roles it gave go back.

An SA removes a group rule, or shortens the hierarchy: the current customer file no longer
names those groups, so only the memory of earlier runs (``Snapshot.previous_groups``) says
the connector gave learner roles there. The planner removes the learner role from synced
users it manages in those groups, and nothing else: never in a group it never managed, never
from a user it does not manage, never from a row it does not sync. Each case is planned
through the bulk path and the per-user reference; both must agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from engine.config.models import Hris
from engine.hris import CustomFieldDefinition, LmsGroup, LmsUser, Plan, Snapshot, plan_sync
from engine.hris.actions import AddLearners, GroupRef, LinkExternalId, RemoveLearners, UserRef
from engine.hris.groups import deployed_memory

from .factories import ROOT, ROOT_ID, desired_from, hris_config, snapshot

HEAD = "uniqueId,status,email,country,site,department"
GROUPS = (
    ROOT,
    LmsGroup("g-fr", "France", ROOT_ID),
    LmsGroup("g-paris", "Paris", "g-fr"),
    LmsGroup("g-sales", "Sales team", None),
    LmsGroup("g-club", "Book club", None),
    LmsGroup("g-biz", "Business", "g-club", public=True),
    LmsGroup("g-platform", "Platform", None),
)
ROOT_IN_PLATFORM = dataclasses.replace(ROOT, parent_id="g-platform")


def config(**groups: Any) -> Hris:
    return hris_config(groups=groups)


def ada(user_id: str = "u1", mail: str = "ada@acme.example") -> LmsUser:
    return LmsUser(user_id, mail)


def world(learners: dict[str, set[str]], previous: Collection[str], **extra: Any) -> Snapshot:
    users = extra.pop("users", (ada(),))
    return snapshot(
        users,
        links=extra.pop("links", {"1": "u1"}),
        groups=extra.pop("groups", GROUPS),
        learners=learners,
        previous_groups=frozenset(previous),
        **extra,
    )


def both_paths(text: str, snap: Snapshot, hris: Hris) -> Plan:
    desired = desired_from(text, hris)
    bulk = plan_sync(desired, snap, hris)
    one_by_one = plan_sync(dataclasses.replace(desired, users=dict(desired.users)), snap, hris)
    assert bulk == one_by_one
    return bulk


ADA = f"{HEAD}\n1,Active,ada@acme.example,France,Paris,Sales\n"


def test_a_rule_removed_from_the_customer_file_takes_back_its_learner_roles() -> None:
    snap = world({ROOT_ID: {"u1"}, "g-sales": {"u1"}}, {ROOT_ID, "g-sales"})
    plan = both_paths(ADA, snap, config())
    assert plan.actions == (RemoveLearners(GroupRef("g-sales", ()), (UserRef("1", "u1"),)),)
    assert plan.changes[0].groups_remove == ("Sales team",) and plan.summary.update == 1


def test_without_memory_nothing_is_taken_back() -> None:
    snap = world({ROOT_ID: {"u1"}, "g-sales": {"u1"}}, set())
    assert both_paths(ADA, snap, config()).is_empty


def test_a_shorter_hierarchy_moves_the_user_up_to_the_level_that_remains() -> None:
    snap = world({ROOT_ID: {"u1"}, "g-paris": {"u1"}}, {ROOT_ID, "g-fr", "g-paris"})
    plan = both_paths(ADA, snap, config(hierarchy=["country"]))
    assert plan.actions == (
        RemoveLearners(GroupRef("g-paris", ()), (UserRef("1", "u1"),)),
        AddLearners(GroupRef("g-fr", ()), (UserRef("1", "u1"),)),
    )
    assert plan.changes[0].groups_remove == ("Acme › France › Paris",)


def test_a_group_still_in_scope_is_not_taken_back() -> None:
    rule = [{"when": {"department": ["Sales"]}, "group": "g-sales"}]
    snap = world({ROOT_ID: {"u1"}, "g-sales": {"u1"}}, {ROOT_ID, "g-sales"})
    assert both_paths(ADA, snap, config(rules=rule)).is_empty


def test_groups_the_connector_never_managed_are_never_touched() -> None:
    snap = world({ROOT_ID: {"u1"}, "g-sales": {"u1"}, "g-club": {"u1"}}, {ROOT_ID, "g-sales"})
    plan = both_paths(ADA, snap, config())
    assert [a.group.group_id for a in plan.actions if isinstance(a, RemoveLearners)] == ["g-sales"]


def test_users_the_connector_does_not_manage_keep_their_roles() -> None:
    # u9 is learner of the former group but linked to nobody; u5 is adopted by this plan:
    # the connector gave neither of them that role.
    snap = world(
        {ROOT_ID: {"u1", "u5", "u9"}, "g-sales": {"u1", "u5", "u9"}},
        {ROOT_ID, "g-sales"},
        users=(ada(), ada("u5", "bea@acme.example"), ada("u9", "cy@acme.example")),
    )
    text = ADA + "5,Active,bea@acme.example,France,Paris,Sales\n"
    plan = both_paths(text, snap, config())
    assert plan.actions == (
        LinkExternalId(UserRef("5", "u5"), "lmsync-hris"),
        RemoveLearners(GroupRef("g-sales", ()), (UserRef("1", "u1"),)),
    )


def test_rows_not_synced_leave_their_users_roles_alone() -> None:
    # 2 is filtered out, 3 invalid, 4 missing from the file: managed, but not synced now.
    users = (ada(), *(ada(f"u{n}", f"user{n}@acme.example") for n in (2, 3, 4)))
    everyone = {"u1", "u2", "u3", "u4"}
    snap = world(
        {ROOT_ID: everyone, "g-sales": everyone},
        {ROOT_ID, "g-sales"},
        users=users,
        links={"1": "u1", "2": "u2", "3": "u3", "4": "u4"},
    )
    text = ADA + "2,Active,user2@acme.example,Spain,Madrid,Sales\n3,Active,not-an-email,France,Paris,\n"
    plan = both_paths(text, snap, hris_config(filter={"country": ["France"]}))
    assert plan.actions == (RemoveLearners(GroupRef("g-sales", ()), (UserRef("1", "u1"),)),)


def test_a_former_synchronized_group_holding_the_current_one_is_left() -> None:
    # The sync moved from the platform group down to Acme: leaving the platform group would
    # take users out of everything below it, so its roles stay.
    groups = (ROOT_IN_PLATFORM, *GROUPS[1:])
    snap = world({ROOT_ID: {"u1"}, "g-platform": {"u1"}}, {"g-platform"}, groups=groups)
    assert both_paths(ADA, snap, config()).is_empty


def test_a_former_group_deleted_from_the_lms_is_skipped() -> None:
    snap = world({ROOT_ID: {"u1"}}, {ROOT_ID, "g-gone"})
    assert both_paths(ADA, snap, config()).is_empty


def test_leaving_a_former_group_gives_back_a_wanted_public_subgroup_after_the_removal() -> None:
    # The rule moved from Book club to its public subgroup Business: leaving Book club also
    # leaves Business, so Business is added again after the removal.
    rule = [{"when": {"department": ["Sales"]}, "group": "g-biz"}]
    snap = world({ROOT_ID: {"u1"}, "g-club": {"u1"}, "g-biz": {"u1"}}, {ROOT_ID, "g-club", "g-biz"})
    plan = both_paths(ADA, snap, config(rules=rule))
    assert plan.actions == (
        RemoveLearners(GroupRef("g-club", ()), (UserRef("1", "u1"),)),
        AddLearners(GroupRef("g-biz", ()), (UserRef("1", "u1"),)),
    )
    assert plan.changes[0].groups_remove == ("Book club",) and plan.changes[0].groups_add == ()


def test_many_settled_users_and_one_in_a_former_group() -> None:
    # Users the LMS matches are settled in bulk; the one still learner of a former group
    # must not be, or its role would stay.
    count = 50
    users = tuple(ada(f"u{n}", f"user{n}@acme.example") for n in range(count))
    rows = "".join(f"{n},Active,user{n}@acme.example,France,Paris,Sales\n" for n in range(count))
    snap = world(
        {ROOT_ID: {u.id for u in users}, "g-sales": {"u7"}},
        {ROOT_ID, "g-sales"},
        users=users,
        links={str(n): f"u{n}" for n in range(count)},
    )
    plan = both_paths(HEAD + "\n" + rows, snap, config())
    assert plan.actions == (RemoveLearners(GroupRef("g-sales", ()), (UserRef("7", "u7"),)),)
    assert plan.summary.unchanged == count - 1 and plan.summary.update == 1


# --- the deployed configuration's memory (the review's stand-in for the run history) ---------


def test_deployed_memory_is_what_an_apply_of_that_configuration_records() -> None:
    deployed = hris_config(
        custom_fields={"location": "Location", "hired": {"title": "Hire date", "type": "date"}},
        groups={"hierarchy": ["country"], "rules": [{"when": {"department": ["Sales"]}, "group": "g-sales"}]},
    )
    definitions = (
        CustomFieldDefinition("cf-9", "Location"),
        CustomFieldDefinition("cf-2", "Location"),  # two of one name: the planner feeds the smaller id
        CustomFieldDefinition("cf-5", "Cost center"),  # the platform's, never ours
    )
    fed, managed = deployed_memory(deployed, GROUPS, definitions)
    assert fed == {"cf-2"}  # "Hire date" does not exist in the LMS: nothing was fed there
    # The root, the hierarchy down to its one level, the rule group; not Paris (level 2),
    # not the groups no rule names.
    assert managed == {ROOT_ID, "g-fr", "g-sales"}


def test_deployed_memory_skips_what_the_lms_no_longer_holds() -> None:
    deployed = hris_config(groups={"rules": [{"when": {"department": ["Sales"]}, "group": "g-gone"}]})
    assert deployed_memory(deployed, GROUPS, ()) == (frozenset(), frozenset({ROOT_ID}))
    assert deployed_memory(deployed, GROUPS[1:], ()) == (frozenset(), frozenset())  # no root: nothing synced


def test_a_rule_dropped_from_the_deployed_file_takes_back_its_roles_in_the_plan() -> None:
    # What the review plans: the head file (no rule) with the deployed file's memory.
    deployed = config(rules=[{"when": {"department": ["Sales"]}, "group": "g-sales"}])
    _, managed = deployed_memory(deployed, GROUPS, ())
    snap = world({ROOT_ID: {"u1"}, "g-sales": {"u1"}}, managed)
    plan = both_paths(ADA, snap, config())
    assert plan.actions == (RemoveLearners(GroupRef("g-sales", ()), (UserRef("1", "u1"),)),)
