"""Per-user rows, counts, the run log files and the plan's Markdown: pure, no server."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from engine.apply import FileOutcome, write_run_log
from engine.apply.executor import Execution, UserOutcome
from engine.apply.markdown import render_plan_markdown
from engine.apply.outcome import COLUMNS, count_outcome, problem_lines, report_rows
from engine.hris import LmsUser, plan_to_json
from engine.state import JournalEntry
from tests.engine.hris.factories import desired_from, hris_config, plan_of, snapshot

TEXT = (
    "uniqueId,status,email,firstName,managerId\n"
    "1,Active,ada@x.example,Ada,\n"  # create, done
    "2,Active,bob@x.example,Bob,404\n"  # create, failed; unknown manager
    "3,Active,not-an-email,Cy,\n"  # ignored
    "4,Active,dee@x.example,Dee,\n"  # duplicated
    "4,Active,dee@x.example,Dee,\n"
    "5,Inactive,,,\n"  # delete, skipped
    "6,Active,eve@x.example,Eve,404\n"  # unchanged, unknown manager
)
CONFIG = hris_config(fields={"firstName": "first_name", "managerId": "manager"})
SNAPSHOT = snapshot(
    users=(LmsUser("u5", "fay@x.example"), LmsUser("u6", "eve@x.example", first_name="Eve")),
    links={"5": "u5", "6": "u6"},
    learners={"g-root": {"u5", "u6"}},
)


def rows_and_counts() -> tuple[list[dict[str, object]], dict[str, int], Execution]:
    plan = plan_of(TEXT, SNAPSHOT, CONFIG)
    execution = Execution(status="failed")
    execution.mark("1", UserOutcome("done"))
    execution.mark("2", UserOutcome("done"))
    execution.mark("2", UserOutcome("failed", "mailAlreadyUsed", "create_user: refused"))
    execution.mark("2", UserOutcome("done"))  # a later success does not hide the failure
    execution.mark("5", UserOutcome("skipped", "dependency_failed", "delete_user not attempted"))
    execution.failures.append("create_user for uniqueId 2 failed: mailAlreadyUsed")
    rows = report_rows(plan, desired_from(TEXT, CONFIG), SNAPSHOT, execution)
    return rows, count_outcome(plan, rows), execution


def test_one_row_per_user_changed_or_set_aside_with_its_fate() -> None:
    rows, counts, _ = rows_and_counts()

    assert [(r["line"], r["unique_id"], r["action"], r["result"], r["code"]) for r in rows] == [
        (2, "1", "create", "done", None),
        (3, "2", "create", "failed", "mailAlreadyUsed"),
        (4, "3", "ignored", "ignored", "invalid_email"),
        (5, "4", "duplicated", "duplicated", "duplicated"),
        (6, "4", "duplicated", "duplicated", "duplicated"),
        (7, "5", "delete", "skipped", "dependency_failed"),
        (8, "6", "unchanged", "unchanged", "unknown_manager"),
    ]
    assert counts == {
        "created": 1,
        "updated": 0,
        "deleted": 0,
        "restored": 0,
        "unchanged": 1,
        "duplicated": 2,
        "ignored": 1,
        "filtered_out": 0,
        "no_group_rule": 0,
        "failed": 2,
    }


def test_problem_lines_carry_no_cell_value() -> None:
    _, _, execution = rows_and_counts()
    lines = problem_lines(plan_of(TEXT, SNAPSHOT, CONFIG), execution)

    assert lines[-1] == "create_user for uniqueId 2 failed: mailAlreadyUsed"
    assert any(line.startswith("line 4 (uniqueId 3): invalid_email:") for line in lines)
    assert not any(value in line for line in lines for value in ("not-an-email", "x.example", "Ada", "Bob"))


def test_users_an_earlier_attempt_handled_are_listed_with_what_it_did() -> None:
    plan = plan_of(TEXT, SNAPSHOT, CONFIG)
    earlier = [
        JournalEntry("create_user:7", 1, "create_user", "7", status="done"),
        JournalEntry("link_external_id:7", 2, "link_external_id", "7", status="done"),
        JournalEntry("link_external_id:8", 3, "link_external_id", "8", status="done"),
        JournalEntry("update_profile:9", 4, "update_profile", "9", status="done"),
        JournalEntry("create_user:1", 5, "create_user", "1", status="done"),
    ]
    execution = Execution()

    rows = report_rows(plan, desired_from(TEXT, CONFIG), SNAPSHOT, execution, earlier)

    by_uid = {r["unique_id"]: r["action"] for r in rows}
    assert (by_uid["7"], by_uid["8"], by_uid["9"], by_uid["1"]) == ("create", "adopt", "update", "create")


def test_run_log_is_a_json_document_and_a_csv_of_the_rows(tmp_path: Path) -> None:
    rows, counts, execution = rows_and_counts()
    plan = plan_of(TEXT, SNAPSHOT, CONFIG)
    outcome = FileOutcome("failed", plan, counts, rows, problem_lines(plan, execution))

    json_path, csv_path = write_run_log(
        tmp_path / "runs",
        "20250101T000000Z-abc",
        outcome,
        customer="acme",
        environment="test",
        file_name="f.csv",
    )

    assert (json_path.name, csv_path.name) == ("20250101T000000Z-abc.json", "20250101T000000Z-abc.csv")
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["run_id"] == "20250101T000000Z-abc" and document["customer"] == "acme"
    assert document["status"] == "failed" and document["counts"] == counts
    assert document["summary"]["create"] == 2 and document["guard"]["tripped"] is False
    assert len(document["users"]) == len(rows)
    with csv_path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        assert [r["unique_id"] for r in reader] == ["1", "2", "3", "4", "4", "5", "6"]
    for path in (json_path, csv_path):
        assert "x.example" not in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [csv_path.name, json_path.name]


def test_an_empty_run_log_still_has_its_header(tmp_path: Path) -> None:
    plan = plan_of("uniqueId,status,email\n1,Active,not-an-email\n", snapshot())
    assert plan.is_empty
    outcome = FileOutcome("succeeded", plan, count_outcome(plan, []), [], [])

    _, csv_path = write_run_log(tmp_path, "r1", outcome)

    assert csv_path.read_text(encoding="utf-8") == ",".join(COLUMNS) + "\n"


def test_markdown_plan_masks_people_unless_asked() -> None:
    plan = plan_to_json(plan_of(TEXT, SNAPSHOT, CONFIG))

    masked = render_plan_markdown(plan, title="lmsync plan: acme (test)")
    shown = render_plan_markdown(
        plan_to_json(plan_of(TEXT, SNAPSHOT, CONFIG), show_personal_data=True),
        title="t",
        show_personal_data=True,
    )

    assert masked.startswith("## lmsync plan: acme (test)\n")
    assert "**+2 create · ~0 update · +0 restore · -1 delete** · 1 unchanged" in masked
    assert "| line | user | code | message |" in masked
    assert "x.example" not in masked and "Ada" not in masked and "`u:" in masked
    assert "ada@x.example" in shown and "| `1` | +create |" in shown
