"""Loads every fixture plugin under tests/fixtures/, so each peer's fixture lives in its own file,
and marks ``integration`` every test that asks for a real local server, whether or not its
module says so: ``-m "not integration"`` must mean "no server started"."""

from pathlib import Path

import pytest

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if not path.name.startswith("_")
)

#: Fixtures that start (or need) a server: the sandbox LMS, sshd, gpg, PostgreSQL, SMTP, the
#: Cornerstone sandbox, and the worlds built on them.
SERVER_FIXTURES = frozenset(
    {
        "sandbox",
        "make_sandbox",
        "sshd",
        "sftp_folder",
        "gpg_keys",
        "postgres_server",
        "postgres_url",
        "smtp_server",
        "cornerstone_lms",
        "cornerstone_sandbox",
        "cornerstone_catalog",
        "world",
        "sync_world",
        "deploy_root",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
