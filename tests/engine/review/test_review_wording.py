"""The configuration change in the product's words: one phrase per known path, a fallback for
every other path, and never a secret reference's value or an e-mail."""

from __future__ import annotations

import pytest

from engine.review.wording import describe_change, describe_new
from tests.engine.review import samples

CASES = [
    (
        "mapping added",
        [("    lastName: last_name\n", "    lastName: last_name\n    title: title\n")],
        ["mapping `title` → Title / Employment added"],
    ),
    (
        "mapping removed",
        [("    lastName: last_name\n", "")],
        ["mapping `lastName` → Last name removed (the field is no longer updated)"],
    ),
    (
        "mapping retargeted",
        [("lastName: last_name", "lastName: organization")],
        ["mapping `lastName` now → Organization (was Last name)"],
    ),
    ("filter widened", [("[Paris]", "[Paris, Lyon]")], ["filter `location` now also accepts Lyon"]),
    (
        "filter narrowed",
        [("[Paris]", "[Lyon]")],
        ["filter `location` now also accepts Lyon", "filter `location` no longer accepts Paris"],
    ),
    (
        "filter column added",
        [("filter: {location: [Paris]}", "filter: {location: [Paris], contract: [CDI]}")],
        ["filter on `contract` added: only CDI"],
    ),
    (
        "filter removed",
        [("  filter: {location: [Paris]}\n", "")],
        ["filter on `location` removed: every value of `location` is synced"],
    ),
    (
        "encryption required",
        [("  safety:", "  encryption: {required: true, private_key: env:K, passphrase: env:P}\n  safety:")],
        [
            "secret `hris.encryption.passphrase` reference added",
            "secret `hris.encryption.private_key` reference added",
            "encryption now required (only .pgp/.gpg files are processed)",
        ],
    ),
    (
        "schedule",
        [("  safety:", "  schedule: {times: ['07:00', '23:30']}\n  safety:")],
        ["schedule 06:30, 23:30 → 07:00, 23:30 Europe/Paris"],
    ),
    (
        "schedule timezone",
        [("  safety:", "  schedule: {timezone: Europe/London}\n  safety:")],
        ["schedule 06:30, 23:30 Europe/Paris → 06:30, 23:30 Europe/London"],
    ),
    (
        "secret changed",
        [("env:ACME_TEST_SECRET", "env:ACME_TEST_SECRET_V2")],
        ["secret `environments.test.lms.client_secret` reference changed"],
    ),
    (
        "custom field renamed",
        [("location: Location", "location: Site")],
        ["custom field `location` renamed Location → Site (a new custom field is created in the LMS)"],
    ),
    (
        "custom field typed",
        [
            (
                "    location: Location\n",
                "    location: Location\n    hireDate: {title: Hire date, type: date}\n",
            )
        ],
        ["custom field `hireDate` → Hire date (date) added"],
    ),
    (
        "same meaning, other spelling",
        [("location: Location", "location: {title: Location, type: string}")],
        [],
    ),
    (
        "group rule added",
        [("  safety:", "  groups: {rules: [{when: {department: [Sales]}, group: '64aa'}]}\n  safety:")],
        ["group rule added: when `department` is Sales → learner of group `64aa`"],
    ),
    (
        "hierarchy",
        [("  safety:", "  groups: {hierarchy: [country, site]}\n  safety:")],
        ["group hierarchy none → `country` › `site`"],
    ),
    (
        "safety",
        [("max_deletions: 2", "max_deletions: '5%'")],
        ["safety: deletions allowed per run 2 users → 5% of managed users"],
    ),
    (
        "admin masked",
        [("sa@acme.example", "ops@acme.example")],
        ["connector administrator changed (the inviter of created users)"],
    ),
    (
        "recap recipients counted",
        [("  safety:", "  notify: [hr@acme.example, it@acme.example]\n  safety:")],
        ["recap recipients changed: 2 added, 0 removed"],
    ),
    ("silent", [("  safety:", "  silent: true\n  safety:")], ["created users now get no invitation e-mail"]),
    (
        "missing users",
        [("  safety:", "  missing_users: delete\n  safety:")],
        ["managed users missing from the file are now deleted"],
    ),
    (
        "generic fallback",
        [("  safety:", "  file: {prefix: export}\n  safety:")],
        ["`hris.file.prefix` `hris` → `export`"],
    ),
    (
        "generic fallback, nested",
        [("  safety:", "  file: {settle_seconds: 30}\n  safety:")],
        ["`hris.file.settle_seconds` `5.0` → `30.0`"],
    ),
    (
        "environment added",
        [
            (
                "hris:\n",
                "  production:\n"
                "    lms: {url: 'https://app.example', client_id: env:A, client_secret: env:B}\nhris:\n",
            )
        ],
        ["environment `production` added (https://app.example)"],
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [(e, x) for _, e, x in CASES], ids=[c[0] for c in CASES])
def test_each_change_is_said_in_the_products_words(edits: list[tuple[str, str]], expected: list[str]) -> None:
    before = samples.config()
    after = samples.config(samples.edited(*edits))
    assert describe_change(before, after) == expected


def test_no_secret_reference_or_email_value_is_ever_shown() -> None:
    after = samples.config(
        samples.edited(
            ("env:ACME_TEST_ID", "env:OTHER_ID"),
            ("sa@acme.example", "boss@acme.example"),
            ("  safety:", "  notify: [hr@acme.example]\n  safety:"),
        )
    )
    said = "\n".join(describe_change(samples.config(), after))
    for value in ("OTHER_ID", "ACME_TEST_ID", "boss@", "hr@", "sa@"):
        assert value not in said


def test_emails_show_only_when_both_revisions_opt_in() -> None:
    opt_in = samples.BASE_YAML + "review: {show_personal_data: true}\n"
    before = samples.config(opt_in)
    after = samples.config(samples.edited(("sa@acme.example", "ops@acme.example"), text=opt_in))
    assert describe_change(before, after) == ["connector administrator sa@acme.example → ops@acme.example"]
    turning_on = describe_change(samples.config(), after)
    assert "reviews now show e-mails and names in clear (synthetic test data only)" in turning_on
    assert not any("@" in phrase for phrase in turning_on)


def test_a_new_customer_is_described_by_its_key_facts() -> None:
    facts = describe_new(samples.config())
    assert facts[0] == "new customer `acme`; environments: test"
    assert "filter: `location` is Paris" in facts
    assert "encryption not required" in facts
