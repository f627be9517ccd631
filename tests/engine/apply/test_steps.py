"""Journal keys and dependencies of plan steps: pure, no server."""

from __future__ import annotations

from engine.apply.steps import LEARNER_CHUNK, MAX_KEY, make_key, plan_steps
from engine.hris.actions import (
    Action,
    AddLearners,
    CreateCustomField,
    CreateGroup,
    CreateUser,
    DeleteUser,
    GroupRef,
    LinkExternalId,
    PlannedValue,
    RemoveManager,
    SetCustomValues,
    SetManager,
    UpdateProfile,
    UserRef,
)
from engine.hris.plan import Guard, Plan, Summary
from tests.engine.hris.factories import ROOT_ID, hris_config, plan_of, snapshot

NEW = UserRef("0042", None)
OLD = UserRef("0007", "u-7")


def plan(*actions: Action) -> Plan:
    return Plan(tuple(actions), Summary(), (), (), Guard(0, 0, False))


def test_keys_name_the_work_and_dependencies_follow_the_references() -> None:
    steps = plan_steps(
        plan(
            CreateCustomField("Location", "string"),
            CreateGroup(("France",), "France", GroupRef(ROOT_ID, ())),
            CreateGroup(("France", "Paris"), "Paris", GroupRef(None, ("France",))),
            CreateUser("0042", "a@x.example", (), ROOT_ID, False),
            LinkExternalId(NEW, "lmsync-hris"),
            UpdateProfile(OLD, (("job", "CTO"),)),
            SetCustomValues(NEW, (PlannedValue(None, "Location", "string", "Paris"),)),
            AddLearners(GroupRef(None, ("France", "Paris")), (OLD, NEW)),
            SetManager(OLD, NEW),
            RemoveManager(OLD, "u-9"),
            DeleteUser(UserRef("0001", "u-1")),
        )
    )

    by_key = {step.key: step for step in steps}
    assert [step.key for step in steps[:7]] == [
        "create_custom_field:Location",
        "create_group:France",
        "create_group:France › Paris",
        "create_user:0042",
        "link_external_id:0042",
        "update_profile:0007",
        "set_custom_values:0042",
    ]
    assert by_key["create_group:France › Paris"].deps == ("create_group:France",)
    assert by_key["link_external_id:0042"].deps == ("create_user:0042",)
    assert by_key["update_profile:0007"].deps == ()
    assert by_key["set_custom_values:0042"].deps == ("link_external_id:0042", "create_custom_field:Location")
    learners = steps[7]
    assert learners.key.startswith("add_learners:path:France › Paris:")
    assert learners.deps == ("create_group:France › Paris",)
    assert learners.user_deps == {"0042": ("link_external_id:0042",)}
    assert learners.users == ("0007", "0042")
    assert by_key["set_manager:0007"].deps == ("link_external_id:0042",)
    assert "remove_manager:0007:u-9" in by_key
    assert by_key["delete_user:0001"].deps == ()


def test_the_same_file_planned_twice_gives_the_same_keys() -> None:
    text = "uniqueId,status,email,site\n1,Active,a@x.example,Paris\n2,Active,b@x.example,Lyon\n"
    config = hris_config(groups={"hierarchy": ["site"]})

    first = [s.key for s in plan_steps(plan_of(text, snapshot(), config))]
    second = [s.key for s in plan_steps(plan_of(text, snapshot(), config))]

    assert first == second
    assert len(set(first)) == len(first)


def test_learner_batches_are_cut_into_chunks_keyed_by_their_users() -> None:
    users = tuple(UserRef(f"{i:05}", f"u{i}") for i in range(LEARNER_CHUNK + 3))

    steps = plan_steps(plan(AddLearners(GroupRef("g-1", ()), users)))

    assert [len(step.users) for step in steps] == [LEARNER_CHUNK, 3]
    assert steps[0].key != steps[1].key
    # The remainder planned again after the first chunk was applied is a different piece of work.
    rest = plan_steps(plan(AddLearners(GroupRef("g-1", ()), users[LEARNER_CHUNK:])))
    assert rest[0].key == steps[1].key
    fewer = plan_steps(plan(AddLearners(GroupRef("g-1", ()), users[LEARNER_CHUNK + 1 :])))
    assert fewer[0].key != steps[1].key


def test_overlong_keys_are_replaced_by_a_stable_digest() -> None:
    title = "T" * 150

    key = make_key("create_custom_field", title)

    assert len(key) <= MAX_KEY and key.startswith("create_custom_field:#")
    assert key == make_key("create_custom_field", title)
    assert make_key("create_user", "0042") == "create_user:0042"
