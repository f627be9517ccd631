"""Planner bugs found by the audit, for the owner of ``engine/hris`` to fix.

Each test states the rule the plan breaks and is marked ``xfail(strict=True)``: it fails
today, and the day the planner is fixed it passes, so pytest reports XPASS as a failure and
the mark must be removed in the same change.
"""

from __future__ import annotations

import pytest

from tests.engine.apply.world import ApplyWorld, csv, row

pytestmark = pytest.mark.integration


def test_two_new_rows_with_the_same_email_are_reported_by_the_plan_not_refused_by_the_lms(
    world: ApplyWorld,
) -> None:
    text = csv(row("1", email="same@acme.example"), row("2", email="same@acme.example"))

    plan = world.plan(text)
    outcome = world.apply(text)

    # The plan sees the clash: at most one creation, the other row(s) reported with a code.
    assert plan.summary.create <= 1
    assert {p.code for p in plan.problems} & {"email_in_use", "duplicated", "duplicated_email"}
    # And what it promised is what happens: no action fails at the LMS.
    assert outcome.status == "succeeded", outcome.problems
    assert all(r["code"] != "mailAlreadyUsed" for r in outcome.report)
    assert world.managed() == {}
    assert [(r["unique_id"], r["action"], r["code"]) for r in outcome.report] == [
        ("1", "ignored", "duplicated_email"),
        ("2", "ignored", "duplicated_email"),
    ]


def test_a_row_asking_for_the_email_another_managed_user_keeps_is_skipped_whole(world: ApplyWorld) -> None:
    world.apply(csv(row("1"), row("2")))
    before = world.managed()

    # Row 2 now asks for user 1's address, and a new title: user 1 keeps both, 2 is untouched.
    text = csv(row("1"), row("2", title="CTO", email="user1@acme.example"))
    plan = world.plan(text)
    outcome = world.apply(text)

    assert plan.is_empty and [(p.line, p.code) for p in plan.problems] == [(3, "email_in_use")]
    assert outcome.status == "succeeded"
    assert world.managed() == before
    # The run log says the row was set aside, not synced with its e-mail left as is.
    assert [(r["unique_id"], r["action"], r["result"]) for r in outcome.report] == [
        ("2", "ignored", "ignored")
    ]


@pytest.mark.xfail(
    strict=True,
    reason="planner (and the pipeline's memory): the removal scope is computed from the current "
    "customer file only, so after an SA removes a group rule the learner roles that rule gave "
    "stay forever (the same for a hierarchy made shorter)",
)
def test_a_rule_removed_from_the_customer_file_takes_back_the_learner_roles_it_gave(
    world: ApplyWorld,
) -> None:
    sales = world.sandbox.admin.seed(
        groups=[{"name": "Sales academy", "parentId": world.sandbox.platform_group_id}]
    )
    sales_id = sales["groups"][0]["_id"]
    with_rule = world.config(groups={"rules": [{"when": {"title": ["Seller"]}, "group": sales_id}]})
    text = csv(row("1", title="Seller"))
    world.apply(text, with_rule)
    user = world.managed()["1"]["_id"]
    assert world.learner_groups(user) == {"Acme", "Sales academy"}

    world.apply(text, world.config(groups={}))

    assert world.learner_groups(user) == {"Acme"}
