"""The engine asks polars' allocator to give freed memory back quickly, unless told otherwise
(``engine/__init__.py``: a big run would otherwise keep its snapshot read's garbage)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SHOW = "import engine, os; print(os.environ['_RJEM_MALLOC_CONF'])"


def _setting(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", _SHOW], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, "dirty_decay_ms:100,muzzy_decay_ms:100"), ("dirty_decay_ms:5000", "dirty_decay_ms:5000")],
)
def test_the_engine_sets_the_allocator_unless_the_user_did(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    assert _setting(env) == expected
