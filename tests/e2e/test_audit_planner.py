"""Planner bugs found by the audit, for the owner of ``engine/hris`` to fix.

Each test states the rule the plan breaks and is marked ``xfail(strict=True)``: it fails
today, and the day the planner is fixed it passes, so pytest reports XPASS as a failure and
the mark must be removed in the same change.
"""

from __future__ import annotations

import pytest

from tests.engine.apply.world import ApplyWorld, csv, row

pytestmark = pytest.mark.integration


@pytest.mark.xfail(
    strict=True,
    reason="planner: two new rows sharing an e-mail are both planned as creations; the LMS then "
    "refuses the second (mailAlreadyUsed), so the dry run and the run disagree",
)
def test_two_new_rows_with_the_same_email_are_reported_by_the_plan_not_refused_by_the_lms(
    world: ApplyWorld,
) -> None:
    text = csv(row("1", email="same@acme.example"), row("2", email="same@acme.example"))

    plan = world.plan(text)
    outcome = world.apply(text)

    # The plan sees the clash: at most one creation, the other row(s) reported with a code.
    assert plan.summary.create <= 1
    assert {p.code for p in plan.problems} & {"email_in_use", "duplicated"}
    # And what it promised is what happens: no action fails at the LMS.
    assert outcome.status == "succeeded", outcome.problems
    assert all(r["code"] != "mailAlreadyUsed" for r in outcome.report)


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
