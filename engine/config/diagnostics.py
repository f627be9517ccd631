"""One finding about a customer file, and the three ways ``lmsync validate`` prints them.

Every layer of validation (YAML loading, the JSON Schema, the semantic checks, the models)
speaks in ``Diagnostic`` values, so they can be merged, de-duplicated and sorted by position
before a person sees them. Formatting lives here too, so the text, JSON and GitHub outputs
can never disagree on what was found.

Nothing in this module may put a configuration value into a message: messages are built by
the layers that know whether a value is a secret, and are only formatted here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from engine.errors import ConfigError

Severity = Literal["error", "warning"]
PathPart = str | int
DocPath = tuple[PathPart, ...]

#: Diagnostic codes a caller may branch on (the message text is for people, not code).
IO_CODES: frozenset[str] = frozenset({"io-error", "not-found"})

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Sequence[PathPart]) -> str:
    """``("hris", "schedule", "times", 1)`` -> ``hris.schedule.times[1]`` (odd keys quoted)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _PLAIN_KEY.match(part) else json.dumps(part, ensure_ascii=False)
            text += f".{key}" if text else key
    return text


@dataclass(frozen=True, order=True)
class Diagnostic:
    """What is wrong, where: ``file:line:column: path: message``.

    ``line`` and ``column`` are 1-based; ``path`` is the dotted path in the document
    (empty for the file as a whole); ``code`` is a stable identifier of the kind of mistake.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        if self.path:
            return f"{where}: {self.path}: {prefix}{self.message}"
        return f"{where}: {prefix}{self.message}"


class InvalidConfigError(ConfigError):
    """A customer file failed validation; ``diagnostics`` holds every finding, sorted."""

    def __init__(self, name: str, diagnostics: Sequence[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        first = str(errors[0]) if errors else name
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            f"{first}{more}",
            hint=f"run 'lmsync validate {name}' to see every error",
        )
        self.name = name
        self.diagnostics: list[Diagnostic] = list(diagnostics)


def finalize(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """De-duplicate (same place, same message) and sort by file, position, then path."""
    unique = {(d.file, d.line, d.column, d.path, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=lambda d: (d.file, d.line, d.column, d.path, d.message))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


# --- output formats ------------------------------------------------------------------------


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    return "".join(f"{d}\n" for d in diagnostics)


def render_json(diagnostics: Sequence[Diagnostic], files: Sequence[str]) -> str:
    failing = sorted({d.file for d in diagnostics if d.severity == "error"})
    document = {
        "valid": not failing,
        "files": list(files),
        "invalid_files": failing,
        "diagnostics": [asdict(d) for d in diagnostics],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    # GitHub's workflow-command escaping: the message part may not hold raw newlines or '%'.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """Workflow annotations, shown by GitHub on the pull request's diff."""
    lines = []
    for d in diagnostics:
        title = f"lmsync validate: {d.path}" if d.path else "lmsync validate"
        props = ",".join(
            [
                f"file={_escape_property(d.file)}",
                f"line={d.line}",
                f"col={d.column}",
                f"title={_escape_property(title)}",
            ]
        )
        lines.append(f"::{d.severity} {props}::{_escape_data(d.message)}\n")
    return "".join(lines)
