"""A configuration change told in the product's words, for the reviewer of a pull request.

A YAML text diff says which lines moved; a reviewer needs to know what the connector will do
differently: "mapping `title` → Title / Employment added", "filter `location` now also
accepts Lyon", "encryption now required". This module compares two ``CustomerConfig`` values
structurally (defaults included, so writing a default explicitly changes nothing) and says
each difference with a phrase written for its path. Any path without its own phrase gets a
generic one, so no change ever passes silently.

This module must never show a secret reference's value (only that it was added, changed or
removed), and never an e-mail address unless the customer file opts in with
``review.show_personal_data``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engine.config.models import CustomerConfig
from engine.review import cornerstone_wording

#: Keys whose values are credentials (or references to them): never shown.
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
#: Profile fields by the titles the LMS shows them under.
PROFILE_FIELD_TITLES: Mapping[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "organization": "Organization",
    "title": "Title / Employment",
    "manager": "Manager",
    "language": "Language",
}
_EMAIL = re.compile(r"[^@\s`\"',;<>]+@[^@\s`\"',;<>]+\.[A-Za-z]{2,}")
_ABSENT: Any = object()
_MAX_VALUE = 80

Path_ = tuple[str, ...]


def _dump(config: CustomerConfig) -> dict[str, Any]:
    data = config.model_dump(mode="json")
    hris = data.get("hris")
    if hris:
        # A custom field may be written as a title or as {title, type}; compare the meaning.
        hris["custom_fields"] = {
            col: spec if isinstance(spec, dict) else {"title": spec, "type": "string"}
            for col, spec in hris["custom_fields"].items()
        }
    return data


def _value(value: Any, show_personal_data: bool) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    if not show_personal_data:
        text = _EMAIL.sub("<e-mail>", text)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 1] + "…"
    return text


def _dotted(path: Path_) -> str:
    return ".".join(path)


def _changed_keys(before: Any, after: Any) -> Iterator[tuple[str, Any, Any]]:
    """``(key, old, new)`` of a mapping section whose value differs, in key order; a side
    where the key (or the whole section) is absent gives None."""
    before, after = before or {}, after or {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            yield key, old, new


def _listed(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


class _Describer:
    def __init__(self, show_personal_data: bool) -> None:
        self.show = show_personal_data
        self.phrases: list[str] = []

    # --- the generic walk: every difference is said, by a specific phrase or the fallback ---

    def walk(self, path: Path_, before: Any, after: Any) -> None:
        if before == after:
            return
        handler = SECTIONS.get(path)
        if handler is not None:
            handler(self, path, before, after)
            return
        if path and path[-1] in SECRET_KEYS:
            self.secret(path, before, after)
            return
        if isinstance(before, dict) and isinstance(after, dict):
            for key in sorted(set(before) | set(after)):
                self.walk((*path, key), before.get(key, _ABSENT), after.get(key, _ABSENT))
            return
        self.generic(path, before, after)

    def generic(self, path: Path_, before: Any, after: Any) -> None:
        name = f"`{_dotted(path)}`"
        if before is _ABSENT or before is None:
            if isinstance(after, dict):
                self.phrases.append(f"{name} added")
            else:
                self.phrases.append(f"{name} set to `{_value(after, self.show)}`")
        elif after is _ABSENT or after is None:
            self.phrases.append(f"{name} removed (was `{_value(before, self.show)}`)")
        else:
            self.phrases.append(f"{name} `{_value(before, self.show)}` → `{_value(after, self.show)}`")

    def secret(self, path: Path_, before: Any, after: Any) -> None:
        name = f"secret `{_dotted(path)}` reference"
        if before in (_ABSENT, None):
            self.phrases.append(f"{name} added")
        elif after in (_ABSENT, None):
            self.phrases.append(f"{name} removed")
        else:
            self.phrases.append(f"{name} changed")

    # --- phrases for known paths ------------------------------------------------------------

    def mapping(self, path: Path_, before: Any, after: Any) -> None:
        for column, old, new in _changed_keys(before, after):
            if old is None:
                self.phrases.append(f"mapping `{column}` → {PROFILE_FIELD_TITLES[new]} added")
            elif new is None:
                self.phrases.append(
                    f"mapping `{column}` → {PROFILE_FIELD_TITLES[old]} removed "
                    f"(the field is no longer updated)"
                )
            else:
                self.phrases.append(
                    f"mapping `{column}` now → {PROFILE_FIELD_TITLES[new]} (was {PROFILE_FIELD_TITLES[old]})"
                )

    def custom_fields(self, path: Path_, before: Any, after: Any) -> None:
        for column, old, new in _changed_keys(before, after):
            if old is None:
                self.phrases.append(f"custom field `{column}` → {new['title']} ({new['type']}) added")
            elif new is None:
                self.phrases.append(
                    f"custom field `{column}` → {old['title']} removed "
                    "(its values are removed from the synced users at the next sync)"
                )
            else:
                if old["title"] != new["title"]:
                    self.phrases.append(
                        f"custom field `{column}` renamed {old['title']} → {new['title']} "
                        "(a new custom field is created in the LMS)"
                    )
                if old["type"] != new["type"]:
                    self.phrases.append(f"custom field `{column}` type {old['type']} → {new['type']}")

    def filter(self, path: Path_, before: Any, after: Any) -> None:
        for column, old, new in _changed_keys(before, after):
            if old is None:
                self.phrases.append(f"filter on `{column}` added: only {_listed(new)}")
            elif new is None:
                self.phrases.append(f"filter on `{column}` removed: every value of `{column}` is synced")
            else:
                added = [v for v in new if v not in old]
                removed = [v for v in old if v not in new]
                if added:
                    self.phrases.append(f"filter `{column}` now also accepts {_listed(added)}")
                if removed:
                    self.phrases.append(f"filter `{column}` no longer accepts {_listed(removed)}")

    def encryption_required(self, path: Path_, before: Any, after: Any) -> None:
        if after:
            self.phrases.append("encryption now required (only .pgp/.gpg files are processed)")
        else:
            self.phrases.append("encryption no longer required (plain files are processed)")

    def schedule(self, path: Path_, before: Any, after: Any) -> None:
        before, after = before or {}, after or {}
        old_times, new_times = _listed(before.get("times", [])), _listed(after.get("times", []))
        old_zone, new_zone = before.get("timezone"), after.get("timezone")
        if old_zone == new_zone:
            self.phrases.append(f"schedule {old_times} → {new_times} {new_zone}")
        else:
            self.phrases.append(f"schedule {old_times} {old_zone} → {new_times} {new_zone}")

    def group_rules(self, path: Path_, before: Any, after: Any) -> None:
        def said(rule: dict[str, Any]) -> str:
            when = " and ".join(
                f"`{col}` is {' or '.join(vals)}" for col, vals in sorted(rule["when"].items())
            )
            return f"when {when} → learner of group `{rule['group']}`"

        old = [said(r) for r in before or []]
        new = [said(r) for r in after or []]
        self.phrases += [f"group rule added: {r}" for r in new if r not in old]
        self.phrases += [
            f"group rule removed: {r} (the learner roles it gave are taken back at the next sync)"
            for r in old
            if r not in new
        ]
        if sorted(old) == sorted(new):
            self.phrases.append("group rules reordered")

    def hierarchy(self, path: Path_, before: Any, after: Any) -> None:
        def said(levels: list[str] | None) -> str:
            return " › ".join(f"`{c}`" for c in levels) if levels else "none"

        self.phrases.append(f"group hierarchy {said(before)} → {said(after)}")

    def max_deletions(self, path: Path_, before: Any, after: Any) -> None:
        def said(value: Any) -> str:
            return f"{value} of managed users" if isinstance(value, str) else f"{value} users"

        self.phrases.append(f"safety: deletions allowed per run {said(before)} → {said(after)}")

    def admin(self, path: Path_, before: Any, after: Any) -> None:
        if self.show:
            self.phrases.append(f"connector administrator {before} → {after}")
        else:
            self.phrases.append("connector administrator changed (the inviter of created users)")

    def notify(self, path: Path_, before: Any, after: Any) -> None:
        old, new = set(before or []), set(after or [])
        if self.show:
            added, removed = sorted(new - old), sorted(old - new)
            parts = [f"+{a}" for a in added] + [f"-{r}" for r in removed]
            self.phrases.append(f"recap recipients changed: {', '.join(parts)}")
        else:
            self.phrases.append(f"recap recipients changed: {len(new - old)} added, {len(old - new)} removed")

    def silent(self, path: Path_, before: Any, after: Any) -> None:
        self.phrases.append(
            "created users now get no invitation e-mail"
            if after
            else "created users now get an invitation e-mail"
        )

    def missing_users(self, path: Path_, before: Any, after: Any) -> None:
        self.phrases.append(
            f"managed users missing from the file are now {'deleted' if after == 'delete' else 'kept'}"
        )

    def languages(self, path: Path_, before: Any, after: Any) -> None:
        for name, old, new in _changed_keys(before, after):
            if old is None:
                self.phrases.append(f"language `{name}` → {new} added")
            elif new is None:
                self.phrases.append(f"language `{name}` → {old} removed")
            else:
                self.phrases.append(f"language `{name}` now → {new} (was {old})")

    def environments(self, path: Path_, before: Any, after: Any) -> None:
        before, after = before or {}, after or {}
        for name in sorted(set(before) | set(after)):
            if name not in before:
                self.phrases.append(f"environment `{name}` added ({after[name]['lms']['url']})")
            elif name not in after:
                self.phrases.append(f"environment `{name}` removed")
            else:
                old, new = before[name], after[name]
                self.walk((*path, name, "lms"), old.get("lms", _ABSENT), new.get("lms", _ABSENT))
                self.phrases += cornerstone_wording.portal_phrases(
                    name, old.get("cornerstone"), new.get("cornerstone"), self.quote
                )

    def quote(self, value: Any) -> str:
        return _value(value, self.show)

    def cornerstone_part(self, path: Path_, before: Any, after: Any) -> None:
        said = {
            "catalog": cornerstone_wording.catalog_phrases,
            "completions": cornerstone_wording.completions_phrases,
            "sso": cornerstone_wording.sso_phrases,
        }[path[-1]]
        self.phrases += said(_present(before), _present(after), self.quote)

    def section_toggle(self, path: Path_, before: Any, after: Any) -> None:
        what = {"hris": "HRIS user sync", "cornerstone": "Cornerstone connector"}[path[-1]]
        if before in (_ABSENT, None):
            self.phrases.append(f"{what} added")
        elif after in (_ABSENT, None):
            self.phrases.append(f"{what} removed: the runner stops it after deploy")
        else:
            for key in sorted(set(before) | set(after)):
                self.walk((*path, key), before.get(key, _ABSENT), after.get(key, _ABSENT))

    def personal_data(self, path: Path_, before: Any, after: Any) -> None:
        self.phrases.append(
            "reviews now show e-mails and names in clear (synthetic test data only)"
            if after
            else "reviews now mask e-mails and names"
        )


def _present(value: Any) -> Any:
    return None if value is _ABSENT else value


_Handler = Callable[[_Describer, Path_, Any, Any], None]
SECTIONS: dict[Path_, _Handler] = {
    ("environments",): _Describer.environments,
    ("hris",): _Describer.section_toggle,
    ("cornerstone",): _Describer.section_toggle,
    ("cornerstone", "catalog"): _Describer.cornerstone_part,
    ("cornerstone", "completions"): _Describer.cornerstone_part,
    ("cornerstone", "sso"): _Describer.cornerstone_part,
    ("hris", "fields"): _Describer.mapping,
    ("hris", "custom_fields"): _Describer.custom_fields,
    ("hris", "filter"): _Describer.filter,
    ("hris", "encryption", "required"): _Describer.encryption_required,
    ("hris", "schedule"): _Describer.schedule,
    ("hris", "groups", "rules"): _Describer.group_rules,
    ("hris", "groups", "hierarchy"): _Describer.hierarchy,
    ("hris", "safety", "max_deletions"): _Describer.max_deletions,
    ("hris", "admin"): _Describer.admin,
    ("hris", "notify"): _Describer.notify,
    ("hris", "silent"): _Describer.silent,
    ("hris", "missing_users"): _Describer.missing_users,
    ("hris", "languages"): _Describer.languages,
    ("review", "show_personal_data"): _Describer.personal_data,
}


def describe_change(before: CustomerConfig, after: CustomerConfig) -> list[str]:
    """Every difference from ``before`` to ``after``, one phrase each, in a stable order
    (sections in their fixed order, keys within a section sorted).

    E-mails stay masked unless *both* revisions opt in with ``review.show_personal_data``:
    a pull request that turns the flag on must not itself reveal anything.
    """
    show = before.review.show_personal_data and after.review.show_personal_data
    describer = _Describer(show)
    describer.walk((), _dump(before), _dump(after))
    return describer.phrases


def describe_new(config: CustomerConfig) -> list[str]:
    """The facts a reviewer checks first on a new customer file."""
    facts = [f"new customer `{config.customer}`; environments: {_listed(sorted(config.environments))}"]
    hris = config.hris
    if hris is not None:
        facts.append(
            f"HRIS user sync from a {hris.source.type} source into group `{hris.group}`, "
            f"{len(hris.fields)} mapped field(s), {len(hris.custom_fields)} custom field(s)"
        )
        if hris.filter:
            facts.append(
                "filter: " + "; ".join(f"`{c}` is {' or '.join(v)}" for c, v in sorted(hris.filter.items()))
            )
        facts.append(f"encryption {'required' if hris.encryption.required else 'not required'}")
        facts.append(f"schedule {_listed(hris.schedule.times)} {hris.schedule.timezone}")
        facts.append(f"safety: deletions allowed per run {hris.safety.max_deletions}")
    if config.cornerstone is not None:
        show = config.review.show_personal_data
        facts += cornerstone_wording.cornerstone_facts(
            config.cornerstone.model_dump(mode="json"), lambda value: _value(value, show)
        )
    return facts
