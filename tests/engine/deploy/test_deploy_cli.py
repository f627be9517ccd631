"""``lmsync deploy`` refuses contradictory or incomplete options before contacting any host."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rollback", "--sha", "a" * 40], "--sha has no meaning with --rollback"),
        (["--rollback", "--configs", "customers"], "--configs has no meaning with --rollback"),
        (["--keep", "0", "--sha", "a" * 40], "--keep 0: keep at least 1 release"),
        (["--sha", "main"], "--sha 'main' is not a commit id"),
        (["--identity", "ACME_KEY", "--sha", "a" * 40], "--identity: not a secret reference"),
        (["--identity", "env:LMSYNC_TEST_UNSET_KEY", "--sha", "a" * 40], "LMSYNC_TEST_UNSET_KEY is not set"),
    ],
)
def test_bad_options_are_refused_with_a_reason(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acme.yaml").write_text(
        "version: 1\ncustomer: acme\nenvironments:\n  test:\n    lms: {url: 'http://127.0.0.1:1', "
        "client_id: env:A, client_secret: env:B}\n"
    )
    configs = [] if "--rollback" in extra else ["--configs", str(tmp_path)]
    # Port 1 on loopback: nothing listens there, so reaching a host would fail differently.
    argv = ["deploy", "--host", "deploy@127.0.0.1:1", "--path", "/srv/lmsync", *configs, *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
