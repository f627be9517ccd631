"""``lmsync validate`` and ``lmsync schema`` end to end: outputs, formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.config import check_file

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples" / "customers"
INVALID = HERE / "invalid"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _outside_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_valid_examples_exit_0_and_print_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(EXAMPLES))
    assert (code, out) == (0, "")
    assert "3 file(s) valid" in err


def test_invalid_file_exits_1_with_one_line_per_error(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "multiple-errors.yaml"
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[2] == f"{path}:22:3: hris.groupz: unknown key 'groupz' (did you mean 'group'?)"


def test_valid_and_invalid_together_exit_1_naming_the_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(EXAMPLES / "demo.yaml"), str(INVALID / "bad-timezone.yaml"))
    assert code == 1
    assert {line.split(":")[0] for line in out.splitlines()} == {str(INVALID / "bad-timezone.yaml")}


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "does-not-exist.yaml"],
        ["validate", str(EXAMPLES), "does-not-exist/"],
        ["validate", "--format", "xml", str(EXAMPLES)],
        ["validate"],
    ],
    ids=["missing-file", "missing-folder-beside-valid", "bad-format", "no-path"],
)
def test_usage_and_io_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    capsys.readouterr()
    assert code == 2


def test_unreadable_paths_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A directory named like a customer file cannot be read as one, even by root.
    unreadable = tmp_path / "acme.yaml"
    unreadable.mkdir()
    assert [d.code for d in check_file(unreadable).diagnostics] == ["io-error"]
    looping = tmp_path / "loop.yaml"
    looping.symlink_to(looping)
    code, out, _ = run(capsys, "validate", str(looping), str(EXAMPLES))
    assert code == 2
    assert out == f"{looping}:1:1: no such file or folder\n"


def test_a_folder_without_customer_files_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 2
    assert "no *.yaml" in err


def test_folders_are_searched_recursively_for_yaml_and_yml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a.yml").write_text("version: 1\n")
    (tmp_path / "b" / "deep" / "c.yaml").write_text("version: 1\n")
    (tmp_path / "b" / "ignored.json").write_text("{}")
    code, out, _ = run(capsys, "validate", "--format", "json", str(tmp_path))
    document = json.loads(out)
    assert code == 1
    assert document["files"] == [str(tmp_path / "a.yml"), str(tmp_path / "b" / "deep" / "c.yaml")]
    assert document["invalid_files"] == document["files"]


def test_json_format_lists_every_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "bad-schedule-time.yaml"
    code, out, _ = run(capsys, "validate", "--format", "json", str(path))
    document = json.loads(out)
    assert code == 1
    assert document["valid"] is False
    assert [(d["line"], d["column"], d["path"], d["code"]) for d in document["diagnostics"]] == [
        (24, 13, "hris.schedule.times[0]", "pattern"),
        (24, 21, "hris.schedule.times[1]", "pattern"),
    ]
    fields = {"file", "line", "column", "path", "message", "severity", "code"}
    assert set(document["diagnostics"][0]) == fields


def test_github_format_prints_workflow_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "max-deletions.yaml"
    code, out, _ = run(capsys, "validate", "--format", "github", str(path))
    assert code == 1
    assert out == (
        f"::error file={path},line=22,col=27,title=lmsync validate%3A hris.safety.max_deletions::"
        "'150%25' is not a count or a share between 0%25 and 100%25, e.g. '10%25'\n"
    )


def test_github_format_is_chosen_under_github_actions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run(capsys, "validate", str(INVALID / "bad-timezone.yaml"))
    assert code == 1
    assert out.startswith("::error file=")
    code, out, _ = run(capsys, "validate", "--format", "text", str(INVALID / "bad-timezone.yaml"))
    assert not out.startswith("::error")


@pytest.mark.parametrize("output", ["text", "json", "github"])
def test_no_format_ever_prints_an_inline_secret(capsys: pytest.CaptureFixture[str], output: str) -> None:
    code, out, err = run(
        capsys,
        "validate",
        "--format",
        output,
        str(INVALID / "inline-secret.yaml"),
        str(INVALID / "inline-secret-number.yaml"),
    )
    assert code == 1
    assert "secret" in out
    for secret in ("Zq8!kV3p-tD9x", "90210443", "correct horse battery"):
        assert secret not in out + err


def test_the_installed_command_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "validate", str(INVALID / "unknown-key.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "GITHUB_ACTIONS": "false"},
    )
    assert result.returncode == 1
    assert result.stdout == (
        f"{INVALID / 'unknown-key.yaml'}:22:3: hris.silnet: unknown key 'silnet' (did you mean 'silent'?)\n"
    )
