"""Resolving secret references (``env:NAME``, ``file:PATH``) at run time, and only then.

A configuration holds references; this module turns one into a ``SecretStr`` when a run
needs it. It must never log, print or put a secret's value in an exception message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from engine.errors import SecretError


def resolve_secret(
    reference: str,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    what: str = "secret",
) -> SecretStr:
    """Return the value behind ``reference``; ``what`` names the field for the error message."""
    env = os.environ if environ is None else environ
    if reference.startswith("env:"):
        name = reference[4:]
        if name not in env:
            raise SecretError(
                f"{what}: environment variable {name} is not set",
                hint=f"export {name}=... (or add it to the repository's secrets in CI)",
            )
        return SecretStr(env[name])
    if reference.startswith("file:"):
        path = Path(reference[5:]).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip("\n"))
        except OSError as exc:
            raise SecretError(
                f"{what}: cannot read secret file {path} ({exc.strerror})",
                hint="check the path and its permissions",
            ) from exc
    raise SecretError(f"{what}: not a secret reference", hint="write it as env:NAME or file:PATH")
