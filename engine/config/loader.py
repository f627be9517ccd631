"""The public way in: customer files (or texts from a git revision) to typed configurations.

Every part that reads a customer file goes through here: ``lmsync validate``, the
pull-request review (``load_config_text`` on a file read from a revision) and the runner
(``load_config``). A file passes four layers -- safe YAML loading, the JSON Schema, the
semantic checks, the pydantic models -- and their findings are merged so each mistake is
reported once, by the layer that says it most clearly: the models only speak about what the
first three did not already point at. A file the models accept then gets the offline checks
of its ``cornerstone.sso`` section (certificates, IdP metadata; no network).

This module must never resolve a secret, and never let a secret's value reach a message:
as a last guard, any inline value of a secret-named key is masked in every diagnostic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from engine.config.diagnostics import (
    Diagnostic,
    DocPath,
    InvalidConfigError,
    finalize,
    format_path,
    has_errors,
)
from engine.config.document import MAX_FILE_BYTES, LoadedDocument, decode, load_document
from engine.config.models import LMS_LANGUAGES, SECRET_REF_PATTERN, CustomerConfig
from engine.config.secrets import reference_mistake
from engine.config.semantics import document_findings
from engine.config.structural import structural_diagnostics
from engine.cornerstone.sso_check import DATED_CODES, check_sso

#: Keys whose values are credentials: never echoed, even by accident.
SECRET_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "password",
        "private_key",
        "private_key_passphrase",
        "passphrase",
        "secret",
    }
)
_SECRET_REF = re.compile(SECRET_REF_PATTERN)
CUSTOMER_FILE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CheckedFile:
    """The outcome of checking one file: a configuration when no error was found."""

    name: str
    config: CustomerConfig | None
    diagnostics: list[Diagnostic]

    @property
    def valid(self) -> bool:
        return self.config is not None


def _expected_slug(name: str) -> str | None:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.stem if path.suffix in CUSTOMER_FILE_SUFFIXES else None


def _related(a: str, b: str) -> bool:
    """Whether one dotted path equals, contains or lies under the other."""
    if a == b or not a or not b:
        return True
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return long.startswith(short) and long[len(short)] in ".["


def _document_path(loc: Sequence[Any], data: Any, *, missing: bool) -> DocPath:
    """Map a pydantic ``loc`` onto the document, dropping union tags pydantic inserts."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        inside_mapping = isinstance(node, dict) and part in node
        inside_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if inside_mapping or inside_list:
            node = node[part]
            path.append(part)
        elif missing and isinstance(node, dict) and isinstance(part, str) and index == len(loc) - 1:
            path.append(part)  # a missing key: located at its mapping's key
    return tuple(path)


def _model_diagnostics(
    error: ValidationError, document: LoadedDocument, known: Sequence[Diagnostic]
) -> Iterator[Diagnostic]:
    for item in error.errors(include_url=False, include_input=False):
        path = _document_path(item["loc"], document.data, missing=item["type"] == "missing")
        dotted = format_path(path)
        if any(_related(dotted, d.path) for d in known):
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        at_key = item["type"] in {"missing", "extra_forbidden"}
        yield document.diagnostic(path, message, code=f"model-{item['type']}", at_key=at_key)


def _inline_secrets(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SECRET_KEYS and isinstance(value, str | int | float) and not isinstance(value, bool):
                text = str(value)
                # A mistyped reference (ENV:NAME, $NAME) is no secret: its fix quotes it.
                if len(text) >= 3 and not _SECRET_REF.match(text) and reference_mistake(text) is None:
                    yield text
            else:
                yield from _inline_secrets(value)
    elif isinstance(data, list):
        for item in data:
            yield from _inline_secrets(item)


def _masked(diagnostics: list[Diagnostic], data: Any) -> list[Diagnostic]:
    secrets = sorted(set(_inline_secrets(data)), key=len, reverse=True)
    if not secrets:
        return diagnostics
    masked = []
    for d in diagnostics:
        message = d.message
        for secret in secrets:
            message = message.replace(secret, "***")
        masked.append(
            d
            if message == d.message
            else Diagnostic(d.file, d.line, d.column, d.path, message, d.severity, d.code)
        )
    return masked


def _sso_diagnostics(config: CustomerConfig, document: LoadedDocument, *, dated: bool) -> list[Diagnostic]:
    """The offline checks of ``cornerstone.sso`` (certificates, metadata), at the offending key."""
    return [
        replace(document.diagnostic(f.path, f.message, code=f.code, at_key=True), severity=f.severity)
        for f in check_sso(config)
        if dated or f.code not in DATED_CODES
    ]


def check_bytes(raw: bytes, name: str, *, dated_checks: bool = True) -> CheckedFile:
    """Check one customer file's content; ``name`` (e.g. customers/acme.yaml) names the slug.

    ``dated_checks=False`` leaves out what depends on today's date (an SSO certificate
    expired or expiring): a file loaded for a run must not stop working because the calendar
    moved -- ``lmsync validate`` in CI and the login itself judge the certificate.
    """
    text, found = decode(raw, name)
    if text is None:
        return CheckedFile(name, None, found)
    return check_text(text, name, dated_checks=dated_checks)


def check_text(text: str, name: str, *, dated_checks: bool = True) -> CheckedFile:
    """Like ``check_bytes`` for text already decoded (e.g. read from a git revision)."""
    if len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return CheckedFile(name, None, decode(text.encode("utf-8", "surrogatepass"), name)[1])
    document, found = load_document(text, name)
    if document is None:
        return CheckedFile(name, None, finalize(found))
    # A key the YAML layer already refused (bad tag, duplicate) is not reported again.
    loading = {d.path for d in found}
    structural = [d for d in structural_diagnostics(document) if d.path not in loading]
    paths = loading | {d.path for d in structural}
    semantic = [
        document.diagnostic(f.path, f.message, code=f.code, at_key=f.at_key)
        for f in document_findings(document.data, _expected_slug(name), LMS_LANGUAGES)
    ]
    found += structural + [d for d in semantic if d.path not in paths]
    config: CustomerConfig | None = None
    try:
        config = CustomerConfig.model_validate(document.data)
    except ValidationError as error:
        found += list(_model_diagnostics(error, document, found))
    if config is not None:
        found += _sso_diagnostics(config, document, dated=dated_checks)
    found = finalize(_masked(found, document.data))
    if has_errors(found):
        config = None
    elif config is None:  # cannot happen while the layers agree; never report a bad file valid
        found.append(Diagnostic(name, 1, 1, "", "the configuration is invalid", code="invalid"))
    return CheckedFile(name, config, found)


# --- files and folders ---------------------------------------------------------------------


def customer_files(paths: Sequence[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Files named directly, plus ``*.yaml``/``*.yml`` under folders (recursive, sorted)."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in CUSTOMER_FILE_SUFFIXES and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            problems.append(Diagnostic(str(path), 1, 1, "", "no such file or folder", code="not-found"))
    return files, problems


def check_file(path: Path, *, dated_checks: bool = True) -> CheckedFile:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return CheckedFile(
            name, None, [Diagnostic(name, 1, 1, "", f"cannot read the file: {reason}", code="io-error")]
        )
    return check_bytes(raw, name, dated_checks=dated_checks)


def validate_paths(paths: list[Path]) -> list[Diagnostic]:
    """Every diagnostic of every customer file under ``paths``, sorted by file and position."""
    files, found = customer_files(paths)
    for path in files:
        found += check_file(path).diagnostics
    return finalize(found)


def load_config(path: Path) -> CustomerConfig:
    """The configuration in ``path``; raises ``InvalidConfigError`` (a ConfigError) listing every
    diagnostic when the file is unreadable or invalid. Date-dependent checks are left to
    ``lmsync validate`` (see ``check_bytes``)."""
    checked = check_file(path, dated_checks=False)
    if checked.config is None:
        raise InvalidConfigError(checked.name, checked.diagnostics)
    return checked.config


def load_config_text(text: str, name: str) -> CustomerConfig:
    """The configuration in ``text`` (e.g. a file at a git revision); ``name`` is its path."""
    checked = check_text(text, name, dated_checks=False)
    if checked.config is None:
        raise InvalidConfigError(checked.name, checked.diagnostics)
    return checked.config
