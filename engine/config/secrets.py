"""Resolving secret references (``env:NAME``, ``file:PATH``) at run time, and only then.

A configuration holds references; this module turns one into a ``SecretStr`` when a run
needs it. It also tells a mistyped reference (``ENV:NAME``, ``env: NAME``, ``$NAME``) from a
pasted secret, so nobody is sent to rotate a credential that never leaked.

It must never log, print or put a secret's value in an exception message: a text is echoed
only when its shape is unmistakably a reference (a prefix and a variable-like name).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from engine.errors import SecretError

_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"^(env:{_ENV_NAME}|file:\S.*)$")
# "env:NAME" with the wrong case or stray spaces around the colon.
_NEAR_ENV = re.compile(rf"^\s*env\s*:\s*({_ENV_NAME})\s*$", re.IGNORECASE)
_NEAR_FILE = re.compile(r"^\s*file\s*:\s*(\S.*?)\s*$", re.IGNORECASE)
_EMPTY = re.compile(r"^\s*(env|file)\s*:\s*$", re.IGNORECASE)
_ENV_PREFIX = re.compile(r"^\s*env\s*:", re.IGNORECASE)
# Shell and CI spellings of a variable. A bare "$" prefix counts only with an upper-case
# name: "$ecretPass1" is far more likely a pasted password than a variable.
_SHELL_VARIABLE = re.compile(r"^\s*\$(?:([A-Z_][A-Z0-9_]*)|\{(" + _ENV_NAME + r")\})\s*$")
_CI_EXPRESSION = re.compile(r"^\s*\$\{\{\s*(?:secrets|env|vars)\.(" + _ENV_NAME + r")\s*\}\}\s*$")
# A path we may repeat in a message: no spaces, only the characters paths are made of.
_PLAIN_PATH = re.compile(r"^[\w./~+-]+$")


def is_reference(text: str) -> bool:
    """Whether ``text`` is a well-formed ``env:NAME`` or ``file:PATH`` reference."""
    return _REFERENCE.match(text) is not None


def nested_reference(value: object) -> str | None:
    """The reference meant by ``{env: NAME}`` (or ``{file: PATH}``): what YAML makes of
    ``env: NAME`` written on its own line under the key. None for any other value."""
    if not (isinstance(value, dict) and len(value) == 1):
        return None
    ((key, inner),) = value.items()
    if not (isinstance(key, str) and isinstance(inner, str)):
        return None
    if (match := _NEAR_ENV.match(f"{key}:{inner}")) is not None:
        return f"env:{match.group(1)}"
    if (match := _NEAR_FILE.match(f"{key}:{inner}")) is not None and _PLAIN_PATH.match(match.group(1)):
        return f"file:{match.group(1)}"
    return None


def reference_mistake(text: str) -> str | None:
    """Why ``text`` is a mistyped reference, with the corrected form when it can be derived.

    None for a well-formed reference and for anything that does not look like a reference
    at all (which the caller must treat as a pasted secret and never repeat).
    """
    if is_reference(text):
        return None
    if match := _CI_EXPRESSION.match(text):
        name = match.group(1)
        return (
            f"`{text.strip()}` is not a secret reference: CI expressions are not expanded in a "
            f"customer file; write `env:{name}` and set {name} in the job's environment"
        )
    if match := _SHELL_VARIABLE.match(text):
        name = match.group(1) or match.group(2)
        return (
            f"`{text.strip()}` is not a secret reference: lmsync does not expand shell variables; "
            f"write `env:{name}`"
        )
    if match := _NEAR_ENV.match(text):
        return f"`{text}` is not a secret reference: write `env:{match.group(1)}` (lower case, no space)"
    if match := _EMPTY.match(text):
        kind = match.group(1).lower()
        what = "environment variable" if kind == "env" else "file"
        example = "env:NAME" if kind == "env" else "file:PATH"
        return f"`{text.strip()}` names no {what}: write `{example}`"
    if _ENV_PREFIX.match(text):
        # An env: prefix is intent enough, but the rest is no variable name: do not repeat it.
        return (
            "not a secret reference: after `env:` comes an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    if match := _NEAR_FILE.match(text):
        path = match.group(1)
        if _PLAIN_PATH.match(path):
            return f"`{text}` is not a secret reference: write `file:{path}` (lower case, no space)"
        return "not a secret reference: write `file:PATH` (lower case, no space after the colon)"
    return None


def resolve_secret(
    reference: str,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    what: str = "secret",
) -> SecretStr:
    """Return the value behind ``reference``; ``what`` names the field for the error message."""
    env = os.environ if environ is None else environ
    if not is_reference(reference):
        mistake = reference_mistake(reference)
        if mistake is not None:
            raise SecretError(f"{what}: {mistake}")
        raise SecretError(f"{what}: not a secret reference", hint="write it as env:NAME or file:PATH")
    if reference.startswith("env:"):
        name = reference[4:]
        if name not in env:
            raise SecretError(
                f"{what}: environment variable {name} is not set",
                hint=f"export {name}=... (or add it to the repository's secrets in CI)",
            )
        return SecretStr(env[name])
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
