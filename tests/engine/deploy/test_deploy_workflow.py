"""The shipped deploy workflow calls ``lmsync deploy`` with options the command has."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from engine.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "workflow", [".github/workflows/deploy.yml", "examples/.github/workflows/deploy.yml"]
)
def test_the_deploy_step_parses_and_passes_the_key_by_reference(workflow: str) -> None:
    document = YAML(typ="safe").load((ROOT / workflow).read_text())
    steps = [step for job in document["jobs"].values() for step in job["steps"]]
    [script] = [step["run"] for step in steps if "lmsync deploy" in step.get("run", "")]
    [command] = [line for line in script.replace("\\\n", " ").splitlines() if "lmsync deploy" in line]
    environ = {
        "LMSYNC_RUNNER_HOST": "deploy@runner.example.com",
        "GITHUB_SHA": "a" * 40,
        "RUNNER_TEMP": "/tmp",
    }
    argv = shlex.split(command)
    for name, value in environ.items():
        argv = [word.replace(f"${name}", value) for word in argv]
    assert argv[:2] == ["lmsync", "deploy"]
    args = build_parser().parse_args(argv[1:])  # an unknown option exits here
    assert args.host == ["deploy@runner.example.com"] and args.sha == "a" * 40
    assert args.identity == "env:LMSYNC_DEPLOY_KEY"
    assert args.known_hosts == Path("/tmp/known_hosts") and args.configs == Path("customers")
