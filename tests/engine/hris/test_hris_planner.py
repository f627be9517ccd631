"""Sync rules of the reference and DESIGN's "Sync semantics", one test per rule, at the core."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.errors import DeletionGuardError
from engine.hris import (
    CustomFieldDefinition,
    CustomValue,
    DeletionGuardTrippedError,
    LmsGroup,
    LmsUser,
    Snapshot,
    build_desired,
    plan_sync,
    plan_to_json,
    read_rows,
)
from engine.hris.actions import (
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    GroupRef,
    LinkExternalId,
    RemoveLearners,
    RemoveManager,
    RestoreUser,
    SetCustomValues,
    SetManager,
    UpdateProfile,
    UserRef,
)
from engine.hris.planner import deletion_limit

from .factories import ROOT, ROOT_ID, action_types, hris_config, plan_of, snapshot

HEAD = "uniqueId,status,email,firstName,title"
FIELDS = {"firstName": "first_name", "title": "title"}
CONFIG = hris_config(fields=FIELDS)


def ada(**changes: Any) -> LmsUser:
    base: dict[str, Any] = {"id": "u1", "mail": "ada@example.org", "first_name": "Ada", "job": "Engineer"}
    base.update(changes)
    return LmsUser(**base)


def linked_ada(**changes: Any) -> Snapshot:
    return snapshot((ada(**changes),), links={"1": "u1"}, learners={ROOT_ID: {"u1"}})


ADA_ROW = f"{HEAD}\n1,Active,ada@example.org,Ada,Engineer\n"


def test_a_snapshot_equal_to_the_file_plans_nothing() -> None:
    plan = plan_of(ADA_ROW, linked_ada(), CONFIG)
    assert plan.is_empty and plan.changes == ()
    assert plan.summary.unchanged == 1


def test_new_active_row_creates_user_in_synced_group_with_invitation_then_links_it() -> None:
    plan = plan_of(ADA_ROW, snapshot(), CONFIG)
    assert plan.actions == (
        CreateUser("1", "ada@example.org", (("firstName", "Ada"), ("job", "Engineer")), ROOT_ID, True),
        LinkExternalId(UserRef("1", None), "lmsync-hris"),
    )
    assert plan.summary.create == 1 and plan.changes[0].groups_add == ("Acme",)


def test_silent_creation_sends_no_invitation() -> None:
    plan = plan_of(ADA_ROW, snapshot(), hris_config(fields=FIELDS, silent=True))
    assert isinstance(plan.actions[0], CreateUser) and plan.actions[0].send_invitation is False


def test_update_patches_only_changed_fields_in_one_action() -> None:
    plan = plan_of(f"{HEAD}\n1,Active,ada@example.org,Ada,CTO\n", linked_ada(), CONFIG)
    assert plan.actions == (UpdateProfile(UserRef("1", "u1"), (("job", "CTO"),)),)
    assert plan_to_json(plan)["changes"][0]["fields"] == {"job": {"from": "Engineer", "to": "CTO"}}


def test_empty_cell_clears_the_field_absent_column_leaves_it() -> None:
    plan = plan_of("uniqueId,status,email,title\n1,Active,ada@example.org,\n", linked_ada(), CONFIG)
    assert plan.actions == (UpdateProfile(UserRef("1", "u1"), (("job", None),)),)


def test_changing_the_email_updates_the_same_user() -> None:
    plan = plan_of(f"{HEAD}\n1,Active,ada@new.example.org,Ada,Engineer\n", linked_ada(), CONFIG)
    assert plan.actions == (UpdateProfile(UserRef("1", "u1"), (("mail", "ada@new.example.org"),)),)


def test_unlinked_lms_user_with_the_same_email_is_adopted_not_duplicated() -> None:
    snap = snapshot((ada(job="Intern"),), learners={ROOT_ID: {"u1"}})
    plan = plan_of(ADA_ROW, snap, CONFIG)
    assert plan.actions == (
        LinkExternalId(UserRef("1", "u1"), "lmsync-hris"),
        UpdateProfile(UserRef("1", "u1"), (("job", "Engineer"),)),
    )
    assert plan.changes[0].action == "adopt" and plan.summary.update == 1


def test_email_held_by_a_user_linked_to_another_unique_id_is_a_problem_not_a_duplicate() -> None:
    plan = plan_of(f"{HEAD}\n2,Active,ada@example.org,Ada,Engineer\n", linked_ada(), CONFIG)
    assert plan.actions == () and [p.code for p in plan.problems] == ["email_in_use"]


def test_users_only_in_the_lms_are_never_touched() -> None:
    other = LmsUser("u9", "grace@example.org", first_name="Grace")
    snap = snapshot((other,), learners={ROOT_ID: {"u9"}})
    config = hris_config(fields=FIELDS, missing_users="delete")
    plan = plan_of(f"{HEAD}\n9,Inactive,grace@example.org,,\n", snap, config)
    assert plan.is_empty


def test_status_other_than_active_deletes_a_managed_user_last() -> None:
    snap = snapshot(
        (ada(), LmsUser("u2", "b@example.org")),
        links={"1": "u1", "2": "u2"},
        learners={ROOT_ID: {"u1", "u2"}},
    )
    plan = plan_of(f"{HEAD}\n1,Active,ada@example.org,Ada,CTO\n2,Left,,,\n", snap, CONFIG)
    assert action_types(plan) == ["UpdateProfile", "DeleteUser"]
    assert plan.actions[-1] == DeleteUser(UserRef("2", "u2"))
    assert [c.action for c in plan.changes] == ["update", "delete"]


def test_managed_user_deleted_in_the_lms_but_active_is_restored_with_its_groups() -> None:
    config = hris_config(fields=FIELDS, groups={"hierarchy": ["country"]})
    france = LmsGroup("g-fr", "France", ROOT_ID)
    snap = snapshot((ada(status="deleted"),), links={"1": "u1"}, groups=(ROOT, france))
    plan = plan_of(
        "uniqueId,status,email,firstName,country\n1,Active,ada@example.org,Ada,France\n", snap, config
    )
    assert plan.actions == (
        RestoreUser("1", "u1", "ada@example.org", (("firstName", "Ada"),), ROOT_ID, True),
        LinkExternalId(UserRef("1", None), "lmsync-hris"),
        AddLearners(GroupRef("g-fr", ()), (UserRef("1", None),)),
    )
    assert plan.summary.restore == 1 and plan.changes[0].groups_add == ("Acme", "Acme › France")


@pytest.mark.parametrize(("policy", "deleted"), [("keep", False), ("delete", True)])
def test_missing_users_policy(policy: str, deleted: bool) -> None:
    snap = snapshot(
        (ada(), LmsUser("u2", "b@example.org")),
        links={"1": "u1", "2": "u2"},
        learners={ROOT_ID: {"u1", "u2"}},
    )
    plan = plan_of(ADA_ROW, snap, hris_config(fields=FIELDS, missing_users=policy))
    assert (DeleteUser(UserRef("2", "u2")) in plan.actions) is deleted


# --- managers -------------------------------------------------------------------------


MANAGER_CONFIG = hris_config(fields={"managerId": "manager"})


def test_manager_by_another_rows_unique_id_is_set_after_users_exist() -> None:
    text = "uniqueId,status,email,managerId\n1,Active,ada@example.org,2\n2,Active,boss@example.org,\n"
    plan = plan_of(text, snapshot(), MANAGER_CONFIG)
    assert action_types(plan) == [
        "CreateUser",
        "CreateUser",
        "LinkExternalId",
        "LinkExternalId",
        "SetManager",
    ]
    assert plan.actions[-1] == SetManager(UserRef("1", None), UserRef("2", None))


def test_manager_can_be_a_managed_lms_user_absent_from_the_file() -> None:
    boss = LmsUser("u2", "boss@example.org")
    snap = snapshot((ada(), boss), links={"1": "u1", "2": "u2"}, learners={ROOT_ID: {"u1", "u2"}})
    plan = plan_of("uniqueId,status,email,managerId\n1,Active,ada@example.org,2\n", snap, MANAGER_CONFIG)
    assert plan.actions == (SetManager(UserRef("1", "u1"), UserRef("2", "u2")),)


def test_manager_change_sets_new_and_removes_old() -> None:
    users = (ada(managers=("u3",)), LmsUser("u2", "b@example.org"), LmsUser("u3", "c@example.org"))
    snap = snapshot(users, links={"1": "u1", "2": "u2", "3": "u3"}, learners={ROOT_ID: {"u1", "u2", "u3"}})
    plan = plan_of("uniqueId,status,email,managerId\n1,Active,ada@example.org,2\n", snap, MANAGER_CONFIG)
    assert plan.actions == (
        SetManager(UserRef("1", "u1"), UserRef("2", "u2")),
        RemoveManager(UserRef("1", "u1"), "u3"),
    )
    assert plan_to_json(plan)["changes"][0]["fields"] == {"manager": {"from": "3", "to": "2"}}


def test_unknown_manager_leaves_manager_unchanged_and_row_synced() -> None:
    snap = linked_ada(managers=("u7",), job="x")
    plan = plan_of(
        "uniqueId,status,email,managerId,title\n1,Active,ada@example.org,404,CTO\n",
        snap,
        hris_config(fields={"managerId": "manager", "title": "title"}),
    )
    assert action_types(plan) == ["UpdateProfile"]
    assert [(p.line, p.unique_id, p.code) for p in plan.problems] == [(2, "1", "unknown_manager")]


def test_empty_manager_cell_removes_the_manager() -> None:
    plan = plan_of(
        "uniqueId,status,email,managerId\n1,Active,ada@example.org,\n",
        linked_ada(managers=("u7",)),
        MANAGER_CONFIG,
    )
    assert plan.actions == (RemoveManager(UserRef("1", "u1"), "u7"),)


# --- custom fields --------------------------------------------------------------------

CF_CONFIG = hris_config(custom_fields={"location": "Location"})
LOCATION = CustomFieldDefinition("cf-loc", "Location")
CF_ROW = "uniqueId,status,email,location\n1,Active,ada@example.org,Paris\n"


def test_custom_value_removed_in_the_lms_is_added_back() -> None:
    snap = linked_ada(custom_fields=())
    plan = plan_of(
        CF_ROW,
        snapshot(snap.users, links={"1": "u1"}, learners={ROOT_ID: {"u1"}}, custom_fields=(LOCATION,)),
        CF_CONFIG,
    )
    assert [type(a) for a in plan.actions] == [SetCustomValues]
    action = plan.actions[0]
    assert isinstance(action, SetCustomValues)  # narrows the union for the checks below
    assert action.values[0].field_id == "cf-loc" and action.values[0].value == "Paris"


def test_custom_value_already_set_plans_nothing() -> None:
    user = ada(custom_fields=(CustomValue("cf-loc", "string", "Paris"),))
    plan = plan_of(
        CF_ROW,
        snapshot((user,), links={"1": "u1"}, learners={ROOT_ID: {"u1"}}, custom_fields=(LOCATION,)),
        CF_CONFIG,
    )
    assert plan.is_empty


def test_deleted_definition_is_recreated_and_values_set() -> None:
    plan = plan_of(CF_ROW, snapshot((ada(),), links={"1": "u1"}, learners={ROOT_ID: {"u1"}}), CF_CONFIG)
    assert plan.actions[0] == CreateCustomField("Location", "string")
    action = plan.actions[1]
    assert isinstance(action, SetCustomValues)  # the only action that carries values
    values = action.values
    assert [(v.field_id, v.title, v.value) for v in values] == [(None, "Location", "Paris")]


def test_renamed_definition_gets_a_new_field_and_the_renamed_one_leaves_synced_users() -> None:
    renamed = CustomFieldDefinition("cf-loc", "Site (old)")
    hobby = CustomFieldDefinition("cf-hobby", "Hobby")
    user = ada(
        custom_fields=(CustomValue("cf-loc", "string", "Paris"), CustomValue("cf-hobby", "string", "Chess"))
    )
    snap = snapshot(
        (user,),
        links={"1": "u1"},
        learners={ROOT_ID: {"u1"}},
        custom_fields=(renamed, hobby),
        previous_custom_fields=frozenset({"cf-loc"}),
    )
    plan = plan_of(CF_ROW, snap, CF_CONFIG)
    assert plan.actions[0] == CreateCustomField("Location", "string")
    action = plan.actions[1]
    assert isinstance(action, SetCustomValues)  # the only action that carries values
    values = action.values
    assert [(v.field_id, v.value) for v in values] == [("cf-hobby", "Chess"), (None, "Paris")]


def test_unmanaged_custom_values_are_kept_in_the_full_list() -> None:
    user = ada(
        custom_fields=(CustomValue("cf-hobby", "string", "Chess"), CustomValue("cf-loc", "string", "Lyon"))
    )
    defs = (LOCATION, CustomFieldDefinition("cf-hobby", "Hobby"))
    plan = plan_of(
        CF_ROW,
        snapshot((user,), links={"1": "u1"}, learners={ROOT_ID: {"u1"}}, custom_fields=defs),
        CF_CONFIG,
    )
    (action,) = plan.actions
    assert isinstance(action, SetCustomValues)
    assert [(v.field_id, v.value) for v in action.values] == [("cf-hobby", "Chess"), ("cf-loc", "Paris")]


# --- groups ---------------------------------------------------------------------------

H_CONFIG = hris_config(groups={"hierarchy": ["country", "site"]})
FRANCE = LmsGroup("g-fr", "France", ROOT_ID, public=True)
PARIS = LmsGroup("g-paris", "Paris", "g-fr", public=True)
LYON = LmsGroup("g-lyon", "Lyon", "g-fr")
H_HEAD = "uniqueId,status,email,country,site"


def test_hierarchy_creates_missing_nested_groups_and_adds_learner_at_the_leaf() -> None:
    plan = plan_of(f"{H_HEAD}\n1,Active,ada@example.org,Spain,Madrid\n", linked_ada(), H_CONFIG)
    assert plan.actions == (
        CreateGroup(("Spain",), "Spain", GroupRef(ROOT_ID, ())),
        CreateGroup(("Spain", "Madrid"), "Madrid", GroupRef(None, ("Spain",))),
        AddLearners(GroupRef(None, ("Spain", "Madrid")), (UserRef("1", "u1"),)),
    )
    assert plan.changes[0].groups_add == ("Acme › Spain › Madrid",)


def test_move_removes_only_the_learner_role_in_the_connectors_scope() -> None:
    outside = LmsGroup("g-club", "Book club", None)
    snap = snapshot(
        (ada(),),
        links={"1": "u1"},
        groups=(ROOT, FRANCE, PARIS, LYON, outside),
        learners={ROOT_ID: {"u1"}, "g-lyon": {"u1"}, "g-club": {"u1"}},
    )
    plan = plan_of(f"{H_HEAD}\n1,Active,ada@example.org,France,Paris\n", snap, H_CONFIG)
    assert plan.actions == (
        RemoveLearners(GroupRef("g-lyon", ()), (UserRef("1", "u1"),)),
        AddLearners(GroupRef("g-paris", ()), (UserRef("1", "u1"),)),
    )
    assert (plan.changes[0].groups_add, plan.changes[0].groups_remove) == (
        ("Acme › France › Paris",),
        ("Acme › France › Lyon",),
    )


def test_removal_from_a_parent_re_adds_a_wanted_public_subgroup_after_it() -> None:
    snap = snapshot(
        (ada(),),
        links={"1": "u1"},
        groups=(ROOT, FRANCE, PARIS),
        learners={ROOT_ID: {"u1"}, "g-fr": {"u1"}, "g-paris": {"u1"}},
    )
    plan = plan_of(f"{H_HEAD}\n1,Active,ada@example.org,France,Paris\n", snap, H_CONFIG)
    assert plan.actions == (
        RemoveLearners(GroupRef("g-fr", ()), (UserRef("1", "u1"),)),
        AddLearners(GroupRef("g-paris", ()), (UserRef("1", "u1"),)),
    )


def test_without_hierarchy_subgroups_are_outside_the_scope() -> None:
    snap = snapshot(
        (ada(),), links={"1": "u1"}, groups=(ROOT, FRANCE), learners={ROOT_ID: {"u1"}, "g-fr": {"u1"}}
    )
    assert plan_of(ADA_ROW, snap, CONFIG).is_empty


def test_rules_add_learner_and_users_matching_none_are_counted() -> None:
    sales = LmsGroup("g-sales", "Sales team", None)
    config = hris_config(groups={"rules": [{"when": {"department": ["Sales"]}, "group": "g-sales"}]})
    text = "uniqueId,status,email,department\n1,Active,ada@example.org,Sales\n2,Active,b@example.org,HR\n"
    plan = plan_of(text, snapshot(groups=(ROOT, sales)), config)
    assert AddLearners(GroupRef("g-sales", ()), (UserRef("1", None),)) in plan.actions
    assert plan.summary.no_group_rule == 1


def test_existing_user_missing_from_the_synced_group_is_added_as_learner() -> None:
    snap = snapshot((ada(),), links={"1": "u1"})
    plan = plan_of(ADA_ROW, snap, CONFIG)
    assert plan.actions == (AddLearners(GroupRef(ROOT_ID, ()), (UserRef("1", "u1"),)),)


def test_learner_additions_are_batched_by_group() -> None:
    text = "uniqueId,status,email,country,site\n" + "".join(
        f"{i},Active,u{i}@example.org,France,Paris\n" for i in range(3)
    )
    plan = plan_of(text, snapshot(groups=(ROOT, FRANCE, PARIS)), H_CONFIG)
    adds = [a for a in plan.actions if isinstance(a, AddLearners)]
    assert len(adds) == 1 and [u.unique_id for u in adds[0].users] == ["0", "1", "2"]


# --- safety and order -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "managed", "limit"), [(3, 10, 3), ("10%", 25, 2), ("50%", 3, 1), ("0%", 100, 0)]
)
def test_deletion_limit_is_a_count_or_a_share_rounded_down(
    setting: int | str, managed: int, limit: int
) -> None:
    assert deletion_limit(setting, managed) == limit


def _three_leavers() -> tuple[str, Snapshot]:
    users = tuple(LmsUser(f"u{i}", f"{i}@example.org") for i in range(10))
    snap = snapshot(
        users, links={str(i): f"u{i}" for i in range(10)}, learners={ROOT_ID: {u.id for u in users}}
    )
    text = "uniqueId,status,email\n" + "".join(
        f"{i},{'Inactive' if i < 3 else 'Active'},{i}@example.org\n" for i in range(10)
    )
    return text, snap


def test_deletion_guard_stops_the_plan_and_says_how_to_allow_it() -> None:
    text, snap = _three_leavers()
    with pytest.raises(DeletionGuardTrippedError) as caught:
        plan_of(text, snap, hris_config(safety={"max_deletions": "20%"}))
    assert caught.value.deletions == 3 and caught.value.allowed == 2
    assert "--allow-deletions 3" in str(caught.value)
    assert caught.value.plan.guard.tripped


@pytest.mark.parametrize(("allow", "passes"), [(None, False), (2, False), (3, True)])
def test_allow_deletions_lifts_the_guard_when_at_least_the_count(allow: int | None, passes: bool) -> None:
    text, snap = _three_leavers()
    config = hris_config(safety={"max_deletions": 2})
    if passes:
        plan = plan_of(text, snap, config, allow_deletions=allow)
        assert plan.guard.deletions == 3 and not plan.guard.tripped
    else:
        with pytest.raises(DeletionGuardError):
            plan_of(text, snap, config, allow_deletions=allow)


def test_plan_order_prerequisites_first_deletions_last() -> None:
    config = hris_config(
        fields={"managerId": "manager"},
        custom_fields={"location": "Location"},
        groups={"hierarchy": ["country"]},
    )
    users = (ada(), LmsUser("u2", "b@example.org"))
    snap = snapshot(users, links={"1": "u1", "2": "u2"}, learners={ROOT_ID: {"u1", "u2"}})
    text = (
        "uniqueId,status,email,managerId,location,country\n"
        "1,Active,ada@example.org,3,Paris,Spain\n2,Gone,,,,\n3,Active,c@example.org,,Lyon,\n"
    )
    order = action_types(plan_of(text, snap, config))
    assert order == [
        "CreateCustomField",
        "CreateGroup",
        "CreateUser",
        "LinkExternalId",
        "SetCustomValues",
        "SetCustomValues",
        "AddLearners",
        "SetManager",
        "DeleteUser",
    ]


def test_same_inputs_give_byte_identical_plan_json() -> None:
    config = hris_config(
        fields={**FIELDS, "managerId": "manager"},
        groups={"hierarchy": ["country", "site"]},
        custom_fields={"location": "Location"},
    )
    rows = "".join(
        f"{i},Active,u{i}@example.org,N{i},T,{(i + 1) % 50},{['FR', 'ES'][i % 2]},S{i % 5},L{i % 3}\n"
        for i in range(50)
    )
    text = "uniqueId,status,email,firstName,title,managerId,country,site,location\n" + rows
    snap = snapshot((ada(),), links={"7": "u1"})
    dumps = set()
    for _ in range(3):
        hris_file = read_rows(text.encode(), file_name="f.csv", naming=config.file)
        plan = plan_sync(build_desired(hris_file, config), snap, config)
        dumps.add(json.dumps(plan_to_json(plan), sort_keys=True))
    assert len(dumps) == 1
    assert json.loads(dumps.pop())["summary"]["create"] == 49
