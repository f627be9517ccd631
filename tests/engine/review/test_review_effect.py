"""The data effect (head plan against base plan) and the pull request's deletion allowance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ConfigError
from engine.review.effect import Allowance, allowance_from_event, compare_plans, read_event


def _plan(
    changes: list[dict[str, Any]] | None = None, guard: tuple[int, int, bool] = (0, 10, False), **summary: int
) -> dict[str, Any]:
    deletions, allowed, tripped = guard
    return {
        "version": 1,
        "summary": summary,
        "changes": changes or [],
        "problems": [],
        "guard": {"deletions": deletions, "allowed": allowed, "tripped": tripped},
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, None),
        ({"pull_request": {"labels": [{"name": "bug"}], "body": "no allowance"}}, None),
        (
            {"pull_request": {"labels": [{"name": "allow-deletions:12"}]}},
            Allowance(12, "label allow-deletions:12"),
        ),
        (
            {"pull_request": {"labels": [{"name": "allow-deletions:3"}, {"name": "allow-deletions:40"}]}},
            Allowance(40, "label allow-deletions:40"),
        ),
        (
            {"pull_request": {"body": "Moves Lyon.\n\nlmsync: allow-deletions=7\n"}},
            Allowance(7, "pull request body (lmsync: allow-deletions=N)"),
        ),
        ({"pull_request": {"body": "we discussed lmsync: allow-deletions=7 in the call"}}, None),
        (
            {
                "pull_request": {
                    "labels": [{"name": "allow-deletions:2"}],
                    "body": "lmsync: allow-deletions=90",
                }
            },
            Allowance(2, "label allow-deletions:2"),
        ),
        ({"pull_request": {"labels": [{"name": "allow-deletions:many"}], "body": None}}, None),
    ],
)
def test_allowance_is_read_from_labels_then_body(event: dict[str, Any], expected: Allowance | None) -> None:
    assert allowance_from_event(event) == expected


def test_the_event_file_is_read_and_a_broken_one_is_a_config_error(tmp_path: Path) -> None:
    good = tmp_path / "event.json"
    good.write_text(json.dumps({"pull_request": {"number": 4, "labels": [{"name": "allow-deletions:1"}]}}))
    assert allowance_from_event(read_event(good)) == Allowance(1, "label allow-deletions:1")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match=r"broken\.json"):
        read_event(broken)


def test_the_effect_is_the_difference_between_the_two_plans() -> None:
    same = {"action": "update", "unique_id": "E1", "fields": {"job": {"from": "a", "to": "b"}}, "groups": {}}
    changed_before = {"action": "update", "unique_id": "E2", "fields": {}, "groups": {"add": ["A"]}}
    changed_after = {"action": "update", "unique_id": "E2", "fields": {}, "groups": {"add": ["B"]}}
    gone = {"action": "create", "unique_id": "E3", "fields": {}, "groups": {}}
    new = {"action": "create", "unique_id": "E4", "fields": {}, "groups": {}}
    base = _plan([same, changed_before, gone], create=1, update=2, filtered_out=300)
    head = _plan([same, changed_after, new], create=213, update=2, filtered_out=88)
    effect = compare_plans(base, head, None)
    assert effect.phrases == ("+212 users now pass the filter", "212 more creations", "0 deletions")
    assert [c["unique_id"] for c in effect.new_changes] == ["E2", "E4"]
    assert [c["unique_id"] for c in effect.gone_changes] == ["E3"]
    assert effect.delta["create"] == 212 and effect.head["update"] == 2


@pytest.mark.parametrize(
    ("allowance", "blocked"),
    [
        (None, True),
        (Allowance(2, "label allow-deletions:2"), True),
        (Allowance(3, "label allow-deletions:3"), False),
    ],
)
def test_a_tripped_guard_blocks_unless_the_pull_request_allows_enough(
    allowance: Allowance | None, blocked: bool
) -> None:
    head = _plan(guard=(3, 1, True), delete=3)
    effect = compare_plans(_plan(), head, allowance)
    assert effect.guard.tripped
    assert effect.guard.blocked is blocked
    assert "+3 deletions (3 in all)" in effect.phrases


def test_a_new_customer_is_told_by_its_head_plan() -> None:
    effect = compare_plans(None, _plan(create=5, filtered_out=1), None)
    assert not effect.compared
    assert effect.phrases == (
        "5 users created",
        "0 users updated (or adopted)",
        "1 row filtered out",
        "0 deletions",
    )
