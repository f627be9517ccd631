"""The rules about meaning that a JSON Schema cannot say, each pointing at its exact node.

A schema knows that ``fields`` maps strings to profile fields; it cannot know that mapping two
columns to ``manager`` is a mistake, that ``Europe/Pariss`` is no time zone, or that the slug
must equal the file name. These checks run over the plain loaded data with paths, so each
finding lands on the precise node (the second ``manager`` mapping, the duplicate custom-field
title) rather than on its parent. The pydantic models call the same functions in their
validators, so the models and ``lmsync validate`` can never disagree on a rule.

Every check tolerates data of the wrong shape (the schema reports shape); none does I/O or
puts a secret in a message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from engine.config.diagnostics import DocPath

#: Columns every HRIS file carries, read by the connector itself.
RESERVED_COLUMNS: tuple[str, ...] = ("uniqueId", "status", "email")
#: Profile fields whose column has a meaning of its own: a filter or group on it is a mistake.
_LINK_FIELDS = frozenset({"manager", "language"})
#: One value per user: a group level on them makes one group per employee.
_PER_USER_COLUMNS = frozenset({"uniqueId", "email"})


@dataclass(frozen=True)
class Finding:
    """A semantic problem at ``path`` (relative to the object checked)."""

    path: DocPath
    message: str
    code: str
    at_key: bool = False

    def under(self, prefix: DocPath) -> Finding:
        return Finding((*prefix, *self.path), self.message, self.code, self.at_key)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def timezone_problem(value: Any) -> str | None:
    """Why ``value`` is not an IANA time zone, or None when it is one."""
    if not isinstance(value, str):
        return None  # the schema reports the type
    try:
        ZoneInfo(value)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    near = difflib.get_close_matches(value, _zones(), n=1, cutoff=0.6)
    if not near:
        tail = value.lower().split("/")[-1]
        near = [z for z in _zones() if z.lower().endswith("/" + tail)][:1]
    fix = f"did you mean '{near[0]}'?" if near else "use an IANA name such as 'Europe/Paris'"
    return f"unknown time zone '{value}' ({fix})"


def schedule_findings(schedule: Any) -> Iterator[Finding]:
    schedule = _mapping(schedule)
    problem = timezone_problem(schedule.get("timezone"))
    if problem:
        yield Finding(("timezone",), problem, "timezone")
    seen: dict[str, int] = {}
    for index, time in enumerate(_items(schedule.get("times"))):
        if isinstance(time, str) and time in seen:
            yield Finding(
                ("times", index),
                f"time '{time}' is listed twice (also item {seen[time] + 1})",
                "duplicate-time",
            )
        elif isinstance(time, str):
            seen[time] = index


def completions_findings(completions: Any) -> Iterator[Finding]:
    problem = timezone_problem(_mapping(completions).get("timezone"))
    if problem:
        yield Finding(("timezone",), problem, "timezone")


def sftp_findings(source: Any) -> Iterator[Finding]:
    source = _mapping(source)
    if source.get("type") != "sftp":
        return
    password, key = source.get("password"), source.get("private_key")
    if password is None and key is None:
        yield Finding(
            (), "no credential: set 'password' or 'private_key' (as env:NAME)", "credential", at_key=True
        )
    elif password is not None and key is not None:
        yield Finding(
            ("private_key",), "both 'password' and 'private_key' are set: keep one", "credential", at_key=True
        )
    if source.get("private_key_passphrase") is not None and key is None:
        yield Finding(
            ("private_key_passphrase",),
            "'private_key_passphrase' is set but 'private_key' is not",
            "credential",
            at_key=True,
        )


def encryption_findings(encryption: Any) -> Iterator[Finding]:
    encryption = _mapping(encryption)
    if encryption.get("required") is True and encryption.get("private_key") is None:
        yield Finding(
            ("required",),
            "encryption is required but no 'private_key' is set (add "
            "private_key: env:NAME holding the armored PGP key)",
            "encryption",
            at_key=True,
        )


def groups_findings(groups: Any) -> Iterator[Finding]:
    groups = _mapping(groups)
    seen: set[str] = set()
    for index, column in enumerate(_items(groups.get("hierarchy"))):
        if isinstance(column, str) and column in seen:
            yield Finding(
                ("hierarchy", index), f"column '{column}' is used twice in the hierarchy", "duplicate-level"
            )
        elif isinstance(column, str):
            seen.add(column)
    for index, rule in enumerate(_items(groups.get("rules"))):
        for column, values in _mapping(_mapping(rule).get("when")).items():
            if isinstance(values, list) and not values:
                yield Finding(
                    ("rules", index, "when", column),
                    f"rule on '{column}' lists no values: list the values that put a user in the group",
                    "empty-values",
                )


def _title_of(spec: Any) -> tuple[str | None, DocPath]:
    if isinstance(spec, str):
        return spec, ()
    title = _mapping(spec).get("title")
    return (title, ("title",)) if isinstance(title, str) else (None, ())


def mapping_findings(hris: Any) -> Iterator[Finding]:
    """Columns and fields: no reserved column mapped, nothing mapped twice, no conflicting use."""
    hris = _mapping(hris)
    fields = _mapping(hris.get("fields"))
    reserved = RESERVED_COLUMNS
    mapped_by: dict[str, str] = {}
    for column, target in fields.items():
        if column in reserved:
            yield Finding(
                ("fields", column),
                f"column '{column}' is built in (it is always read) and cannot be mapped: remove this line",
                "reserved-column",
                at_key=True,
            )
            continue
        if isinstance(target, str) and target in mapped_by:
            yield Finding(
                ("fields", column),
                f"profile field '{target}' is mapped twice (column "
                f"'{mapped_by[target]}' already maps to it): keep one",
                "mapped-twice",
            )
        elif isinstance(target, str):
            mapped_by[target] = column
    titles: dict[str, str] = {}
    for column, spec in _mapping(hris.get("custom_fields")).items():
        if column in reserved:
            yield Finding(
                ("custom_fields", column),
                f"column '{column}' is built in and cannot be a custom field",
                "reserved-column",
                at_key=True,
            )
        if column in fields:
            yield Finding(
                ("custom_fields", column),
                f"column '{column}' is already mapped to profile "
                f"field '{fields[column]}': map it to one or the other",
                "mapped-twice",
                at_key=True,
            )
        title, title_path = _title_of(spec)
        if title is None:
            continue
        if title.casefold() in titles:
            yield Finding(
                ("custom_fields", column, *title_path),
                f"custom field title '{title}' is "
                f"used twice (also by column '{titles[title.casefold()]}'): titles must be "
                "unique",
                "duplicate-title",
            )
        else:
            titles[title.casefold()] = column
    uses: list[tuple[DocPath, str, bool]] = [(("filter", c), c, True) for c in _mapping(hris.get("filter"))]
    groups = _mapping(hris.get("groups"))
    uses += [
        (("groups", "hierarchy", i), c, False)
        for i, c in enumerate(_items(groups.get("hierarchy")))
        if isinstance(c, str)
    ]
    for index, rule in enumerate(_items(groups.get("rules"))):
        when = _mapping(_mapping(rule).get("when"))
        uses += [(("groups", "rules", index, "when", c), c, True) for c in when]
    for path, column, at_key in uses:
        meaning = fields.get(column)
        if meaning in _LINK_FIELDS:
            yield Finding(
                path,
                f"column '{column}' is the {meaning} column (fields.{column}: {meaning}): "
                "its values are links, not categories; filter or group on another column",
                "conflicting-column",
                at_key=at_key,
            )
        elif column in _PER_USER_COLUMNS and path[0] == "groups":
            yield Finding(
                path,
                f"column '{column}' is unique per user: grouping on it makes one group per employee",
                "conflicting-column",
                at_key=at_key,
            )


def hris_findings(hris: Any, known_languages: frozenset[str]) -> Iterator[Finding]:
    """Checks on the ``hris`` mapping itself (its nested objects have their own functions)."""
    hris = _mapping(hris)
    yield from mapping_findings(hris)
    for name, code in _mapping(hris.get("languages")).items():
        if isinstance(code, str) and code not in known_languages:
            near = difflib.get_close_matches(code, sorted(known_languages), n=1, cutoff=0.5)
            fix = f"did you mean '{near[0]}'?" if near else "use an ISO 639-1 code such as 'fr'"
            yield Finding(
                ("languages", name), f"'{code}' is not a language code of the LMS ({fix})", "language"
            )
    for column, values in _mapping(hris.get("filter")).items():
        if isinstance(values, list) and not values:
            yield Finding(
                ("filter", column),
                f"filter on '{column}' lists no values, so it would "
                "drop every row: remove it or list the accepted values",
                "empty-values",
            )
    max_deletions = _mapping(hris.get("safety")).get("max_deletions")
    if isinstance(max_deletions, int) and not isinstance(max_deletions, bool) and max_deletions < 0:
        yield Finding(("safety", "max_deletions"), "max_deletions must be 0 or more", "minimum")


def catalog_findings(catalog: Any) -> Iterator[Finding]:
    url = _mapping(catalog).get("launch_url")
    if isinstance(url, str) and ("{course_id}" not in url or not url.startswith(("http://", "https://"))):
        yield Finding(
            ("launch_url",),
            "launch_url must be an http(s) URL containing '{course_id}', e.g. "
            "'https://acme.360learning.com/course/{course_id}'",
            "launch-url",
        )


def saml_findings(method: Any) -> Iterator[Finding]:
    method = _mapping(method)
    if method.get("type") != "saml":
        return
    if (method.get("metadata_url") is None) == (method.get("metadata_xml") is None):
        yield Finding((), "set exactly one of 'metadata_url' or 'metadata_xml'", "saml-metadata", at_key=True)


def customer_findings(data: Any, expected_slug: str | None) -> Iterator[Finding]:
    """File-level rules: the slug names the file, `test` exists, endpoints the connectors need."""
    data = _mapping(data)
    slug = data.get("customer")
    if expected_slug is not None and isinstance(slug, str) and slug != expected_slug:
        yield Finding(
            ("customer",),
            f"customer '{slug}' does not match the file name "
            f"'{expected_slug}': rename the file to {slug}.yaml or set customer: {expected_slug}",
            "slug-mismatch",
        )
    environments = data.get("environments")
    if isinstance(environments, Mapping) and environments and "test" not in environments:
        yield Finding(
            ("environments",),
            "environment 'test' is missing: CI plans every change against it (add environments.test.lms)",
            "missing-environment",
            at_key=True,
        )
    completions = _mapping(data.get("cornerstone")).get("completions")
    if isinstance(completions, Mapping) and isinstance(environments, Mapping):
        for name, environment in environments.items():
            if isinstance(environment, Mapping) and environment.get("cornerstone") is None:
                yield Finding(
                    ("environments", name),
                    f"environment '{name}' has no 'cornerstone' endpoint, "
                    "which cornerstone.completions needs",
                    "missing-endpoint",
                    at_key=True,
                )


def document_findings(data: Any, expected_slug: str | None, known_languages: frozenset[str]) -> list[Finding]:
    """Every semantic finding in a loaded customer file, with paths from its root."""
    data = _mapping(data)
    found = list(customer_findings(data, expected_slug))
    hris = data.get("hris")
    if isinstance(hris, Mapping):
        found += [f.under(("hris",)) for f in hris_findings(hris, known_languages)]
        found += [f.under(("hris", "source")) for f in sftp_findings(hris.get("source"))]
        found += [f.under(("hris", "encryption")) for f in encryption_findings(hris.get("encryption"))]
        found += [f.under(("hris", "groups")) for f in groups_findings(hris.get("groups"))]
        found += [f.under(("hris", "schedule")) for f in schedule_findings(hris.get("schedule"))]
    cornerstone = _mapping(data.get("cornerstone"))
    found += [f.under(("cornerstone", "catalog")) for f in catalog_findings(cornerstone.get("catalog"))]
    found += [
        f.under(("cornerstone", "completions")) for f in completions_findings(cornerstone.get("completions"))
    ]
    found += [
        f.under(("cornerstone", "sso", "method"))
        for f in saml_findings(_mapping(cornerstone.get("sso")).get("method"))
    ]
    return found
