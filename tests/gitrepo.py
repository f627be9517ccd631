"""git for tests that build a customers repository: one identity, no user or system config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: Commits made by tests carry this identity, whatever the machine's git configuration says.
_ENV = {
    "GIT_AUTHOR_NAME": "lmsync test",
    "GIT_AUTHOR_EMAIL": "test@lmsync.invalid",
    "GIT_COMMITTER_NAME": "lmsync test",
    "GIT_COMMITTER_EMAIL": "test@lmsync.invalid",
}


def git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS``; its stdout, stripped. Raises on a non-zero exit."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **_ENV},
    )
    return done.stdout.strip()
