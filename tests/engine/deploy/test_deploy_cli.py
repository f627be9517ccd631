"""``lmsync deploy`` refuses contradictory or incomplete options before contacting any host."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from tests.gitrepo import git

#: Stands for the committed folder's HEAD: --sha is checked against git before any host.
HEAD = "a" * 40


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rollback", "--sha", HEAD], "--sha has no meaning with --rollback"),
        (["--rollback", "--configs", "customers"], "--configs has no meaning with --rollback"),
        (["--keep", "0", "--sha", HEAD], "--keep 0: keep at least 1 release"),
        (["--sha", "main"], "--sha 'main' is not a commit id"),
        (["--identity", "ACME_KEY", "--sha", HEAD], "--identity: not a secret reference"),
        (["--identity", "env:LMSYNC_TEST_UNSET_KEY", "--sha", HEAD], "LMSYNC_TEST_UNSET_KEY is not set"),
    ],
)
def test_bad_options_are_refused_with_a_reason(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acme.yaml").write_text(
        "version: 1\ncustomer: acme\nenvironments:\n  test:\n    lms: {url: 'http://127.0.0.1:1', "
        "client_id: env:A, client_secret: env:B}\n"
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "acme")
    extra = [git(tmp_path, "rev-parse", "HEAD") if arg == HEAD else arg for arg in extra]
    configs = [] if "--rollback" in extra else ["--configs", str(tmp_path)]
    # Port 1 on loopback: nothing listens there, so reaching a host would fail differently.
    argv = ["deploy", "--host", "deploy@127.0.0.1:1", "--path", "/srv/lmsync", *configs, *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
