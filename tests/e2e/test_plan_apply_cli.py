"""``lmsync plan`` and ``lmsync apply`` as a user runs them: arguments, outputs, exit codes.

The commands run in-process through ``engine.cli.main.main`` against the sandbox over HTTP,
with a customer file on disk and a SQLite state in ``tmp_path``. The plan JSON is checked
key by key against the README's contract; nothing printed may show an e-mail or a name.
"""

from __future__ import annotations

import csv as csvlib
import json
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.engine.apply.world import ApplyWorld, csv, row
from tests.fixtures.gpg import GpgKeys

pytestmark = pytest.mark.integration

TEAM = csv(
    row("1", title="CEO"), row("2", manager="1"), row("3", manager="1", site="Lyon"), row("3b", email="bad")
)
SUMMARY_KEYS = {
    "create",
    "update",
    "delete",
    "restore",
    "unchanged",
    "duplicated",
    "ignored",
    "filtered_out",
    "no_group_rule",
}


def write_input(world: ApplyWorld, text: str, name: str = "hris-test.csv") -> Path:
    path = world.tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def lmsync(world: ApplyWorld, command: str, text: str, *args: str, **hris: object) -> int:
    config = world.write_config(**hris)
    return main(
        [
            command,
            str(config),
            "--env",
            "test",
            "--input",
            str(write_input(world, text)),
            "--state",
            world.state_url,
            *args,
        ]
    )


def test_plan_json_follows_the_contract_and_writes_nothing(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code = lmsync(world, "plan", TEAM, "--format", "json")

    out = capsys.readouterr().out
    plan = json.loads(out)
    assert code == 2
    assert set(plan) == {"version", "summary", "changes", "problems", "guard"}
    assert set(plan["summary"]) == SUMMARY_KEYS and all(isinstance(v, int) for v in plan["summary"].values())
    assert plan["summary"]["create"] == 3 and plan["summary"]["ignored"] == 1
    for change in plan["changes"]:
        assert set(change) == {"action", "unique_id", "fields", "groups"}
        assert set(change["groups"]) == {"add", "remove"}
        assert all(set(value) == {"from", "to"} for value in change["fields"].values())
    assert [c["unique_id"] for c in plan["changes"]] == ["1", "2", "3"]
    assert plan["problems"] == [
        {"line": 5, "unique_id": "3b", "code": "invalid_email", "message": plan["problems"][0]["message"]}
    ]
    assert set(plan["guard"]) == {"deletions", "allowed", "tripped"}
    assert "acme.example" not in out and "First1" not in out
    assert plan["changes"][0]["fields"]["mail"]["to"].startswith("<masked:")
    assert world.writes() == []
    assert not (world.tmp / "state").exists() or not list((world.tmp / "state").glob("runs/*"))


def test_plan_exits_0_once_applied(world: ApplyWorld, capsys: pytest.CaptureFixture[str]) -> None:
    assert lmsync(world, "apply", TEAM) == 0
    capsys.readouterr()

    assert lmsync(world, "plan", TEAM) == 0
    assert "No changes" in capsys.readouterr().out


def test_plan_text_and_markdown_mask_personal_data(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lmsync(world, "plan", TEAM, "--format", "markdown") == 2
    markdown = capsys.readouterr().out
    assert lmsync(world, "plan", TEAM, "--format", "text") == 2
    text = capsys.readouterr().out

    assert "| user | action | what changes |" in markdown and "+create" in markdown
    assert "`u:" in markdown  # uniqueIds hashed, as in the pull-request comment
    assert "+ create 1" in text
    for shown in (markdown, text):
        assert (
            "acme.example" not in shown and "First2" not in shown and "<masked:" in shown.replace("&lt;", "<")
        )


def test_plan_shows_personal_data_when_the_customer_file_opts_in(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    config = world.write_config()
    data = json.loads(config.read_text())
    data["review"] = {"show_personal_data": True}
    config.write_text(json.dumps(data))
    path = write_input(world, TEAM)

    assert (
        main(["plan", str(config), "--input", str(path), "--state", world.state_url, "--format", "json"]) == 2
    )

    assert "user1@acme.example" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uniqueId,status\n1,Active\n", "hris-test.csv:1: required column(s) missing: email (add the column"),
        ("", "hris-test.csv:1: the file is empty"),
    ],
)
def test_plan_of_an_unusable_file_exits_1_with_where_and_how(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    assert lmsync(world, "plan", text) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}")
    assert world.writes() == []


def test_plan_of_a_missing_file_exits_1(world: ApplyWorld, capsys: pytest.CaptureFixture[str]) -> None:
    config = world.write_config()
    assert (
        main(["plan", str(config), "--input", str(world.tmp / "nope.csv"), "--state", world.state_url]) == 1
    )
    assert "cannot read the input file" in capsys.readouterr().err


def test_plan_with_an_unknown_environment_exits_1(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    config = world.write_config()
    path = write_input(world, TEAM)
    assert (
        main(["plan", str(config), "--env", "production", "--input", str(path), "--state", world.state_url])
        == 1
    )
    assert "no environment 'production'" in capsys.readouterr().err


def test_plan_whose_guard_trips_still_prints_the_plan_and_exits_1(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lmsync(world, "apply", csv(row("1"), row("2"))) == 0
    capsys.readouterr()

    code = lmsync(
        world,
        "plan",
        csv(row("1", status="Gone"), row("2", status="Gone")),
        "--format",
        "json",
        safety={"max_deletions": 1},
    )

    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["guard"] == {"deletions": 2, "allowed": 1, "tripped": True}
    assert "--allow-deletions 2" in captured.err


def test_apply_prints_the_summary_and_writes_the_run_log(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    good = csv(
        row("1", title="CEO"),
        row("2", manager="1"),
        row("3", manager="1", site="Lyon"),
        row("4", email="bad"),
    )

    code = lmsync(world, "apply", good)

    captured = capsys.readouterr()
    assert code == 0  # an ignored row is reported, it is not a failed action
    assert "3 created, 0 updated, 0 restored, 0 deleted, 0 unchanged, 0 failed" in captured.out
    assert "1 ignored" in captured.out
    logs = sorted((world.tmp / "state" / "runs").iterdir())
    assert [p.suffix for p in logs] == [".csv", ".json"]
    run_id = logs[0].stem
    assert run_id in captured.out
    with logs[0].open(encoding="utf-8") as handle:
        rows = list(csvlib.DictReader(handle))
    assert [(r["line"], r["unique_id"], r["action"], r["result"], r["code"]) for r in rows] == [
        ("2", "1", "create", "done", ""),
        ("3", "2", "create", "done", ""),
        ("4", "3", "create", "done", ""),
        ("5", "4", "ignored", "ignored", "invalid_email"),
    ]
    document = json.loads(logs[1].read_text(encoding="utf-8"))
    assert document["run_id"] == run_id and document["status"] == "succeeded"
    assert document["counts"]["created"] == 3 and document["file"] == "hris-test.csv"
    for text in (captured.out, captured.err, logs[0].read_text(), logs[1].read_text()):
        assert "acme.example" not in text and "First1" not in text
    assert main(["runs", "acme", "--state", world.state_url, "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["id"], r["status"], r["counts"]["created"]) for r in runs] == [(run_id, "succeeded", 3)]


def test_apply_whose_guard_trips_exits_3_and_writes_nothing(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lmsync(world, "apply", csv(row("1"), row("2"), row("3"))) == 0
    world.sandbox.admin.reset_requests()
    capsys.readouterr()
    leavers = csv(row("1", status="Inactive"), row("2", status="Inactive"), row("3"))

    code = lmsync(world, "apply", leavers, safety={"max_deletions": "10%"})

    err = capsys.readouterr().err
    assert code == 3
    assert "deletes 2 managed user(s)" in err and "--allow-deletions 2" in err
    assert world.writes() == []
    assert lmsync(world, "apply", leavers, "--allow-deletions", "2", safety={"max_deletions": "10%"}) == 0
    assert [u["status"] for _, u in sorted(world.managed().items())] == ["deleted", "deleted", "active"]


def test_apply_with_a_failed_action_exits_1_and_names_the_code(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    # An LMS administrator made "Location" a date field: our text values are refused.
    world.sandbox.client.create_custom_field("Location", "date")

    code = lmsync(world, "apply", csv(row("1", location="2024-01-31"), row("2", location="HQ")))

    captured = capsys.readouterr()
    assert code == 1
    assert "1 created" in captured.out and "1 failed" in captured.out  # user 2 only partly
    assert "set_custom_values for uniqueId 2 failed: customValueInvalid" in captured.err
    log = sorted((world.tmp / "state" / "runs").glob("*.csv"))[-1].read_text()
    assert "3,2,create,failed,customValueInvalid," in log
    assert "2,1,create,done,," in log
    assert sorted(world.managed()) == ["1", "2"]  # the independent writes went through


def test_plan_decrypts_a_pgp_input_with_the_configured_key(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str], gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PGP_KEY", gpg_keys.runner.private_key)
    monkeypatch.setenv("ACME_PGP_PASS", gpg_keys.runner.passphrase or "")
    config = world.write_config(
        encryption={"required": True, "private_key": "env:ACME_PGP_KEY", "passphrase": "env:ACME_PGP_PASS"}
    )
    encrypted = world.tmp / "hris-test.csv.pgp"
    encrypted.write_bytes(gpg_keys.encrypt(TEAM.encode()))

    code = main(
        ["plan", str(config), "--input", str(encrypted), "--state", world.state_url, "--format", "json"]
    )

    plan = json.loads(capsys.readouterr().out)
    assert code == 2 and plan["summary"]["create"] == 3
    assert plan["problems"][0]["line"] == 5  # lines of the decrypted file


def test_plan_of_a_pgp_input_encrypted_to_another_key_exits_1(
    world: ApplyWorld, capsys: pytest.CaptureFixture[str], gpg_keys: GpgKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PGP_KEY", gpg_keys.runner.private_key)
    monkeypatch.setenv("ACME_PGP_PASS", gpg_keys.runner.passphrase or "")
    config = world.write_config(
        encryption={"required": True, "private_key": "env:ACME_PGP_KEY", "passphrase": "env:ACME_PGP_PASS"}
    )
    encrypted = world.tmp / "hris-test.csv.gpg"
    encrypted.write_bytes(gpg_keys.encrypt(TEAM.encode(), to=gpg_keys.other))

    assert main(["plan", str(config), "--input", str(encrypted), "--state", world.state_url]) == 1
    assert "hris-test.csv" in capsys.readouterr().err
