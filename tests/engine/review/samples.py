"""Customer files, HRIS files and snapshots the review tests share (synthetic people only)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from engine.config.loader import load_config_text
from engine.config.models import CustomerConfig
from engine.hris import CustomFieldDefinition, CustomValue, ExternalId, LmsGroup, LmsUser, Snapshot

GROUP = "5f1c0ffee0ddba11"
RULE_GROUP = "64aa0c0ffee"
LOCATION_ID = "cf0c0ffee"

#: Names and addresses that must never appear in a review (see the golden-file privacy test).
FIRST_NAMES = ("Ada", "Karen", "Annie", "Grace", "Katherine", "Dorothy", "Mary", "Hedy")
LAST_NAMES = ("Lovelace", "Jones", "Easley", "Hopper", "Johnson", "Vaughan", "Jackson", "Lamarr")

BASE_YAML = f"""\
version: 1
customer: acme
environments:
  test:
    lms:
      url: "http://127.0.0.1:8360"
      client_id: "env:ACME_TEST_ID"
      client_secret: "env:ACME_TEST_SECRET"
hris:
  source: {{type: folder, path: ../data}}
  group: "{GROUP}"
  admin: sa@acme.example
  fields:
    firstName: first_name
    lastName: last_name
  custom_fields:
    location: Location
  filter: {{location: [Paris]}}
  safety: {{max_deletions: 2}}
"""


def config(text: str = BASE_YAML, name: str = "customers/acme.yaml") -> CustomerConfig:
    return load_config_text(text, name)


def edited(*replacements: tuple[str, str], text: str = BASE_YAML) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def person(i: int) -> tuple[str, str, str]:
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    last = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return first, last, f"{first.lower()}.{last.lower()}{i}@example.org"


def hris_csv(path: Path, count: int, *, inactive: Collection[int] = frozenset(), lyon_every: int = 4) -> Path:
    """``count`` employees; one in ``lyon_every`` works in Lyon, the rest in Paris."""
    lines = ["uniqueId,status,email,firstName,lastName,location,title"]
    for i in range(count):
        first, last, mail = person(i)
        site = "Lyon" if i % lyon_every == lyon_every - 1 else "Paris"
        status = "Inactive" if i in inactive else "Active"
        lines.append(f"E{i:05d},{status},{mail},{first},{last},{site},Engineer {i % 3}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def managed_instance(count: int, *, lyon_every: int = 4, with_location: bool = False) -> Snapshot:
    """A test instance where the first ``count`` employees already exist, linked to the connector;
    ``with_location``: they hold the "Location" custom field value ``hris_csv`` gives them."""
    users, links = [], []
    for i in range(count):
        first, last, mail = person(i)
        site = "Lyon" if i % lyon_every == lyon_every - 1 else "Paris"
        values = (CustomValue(LOCATION_ID, "string", site),) if with_location else ()
        users.append(LmsUser(id=f"lms{i}", mail=mail, first_name=first, last_name=last, custom_fields=values))
        links.append(ExternalId(user_id=f"lms{i}", value=f"E{i:05d}"))
    members = frozenset(u.id for u in users)
    return Snapshot(
        users=tuple(users),
        external_ids=tuple(links),
        custom_fields=(CustomFieldDefinition(LOCATION_ID, "Location"),) if with_location else (),
        groups=(LmsGroup(GROUP, "synchronized group"),),
        learners={GROUP: members},
    )
