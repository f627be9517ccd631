"""The Cornerstone section of a pull request, said in the connector's words: catalog mapping,
completions, SSO and the portal -- and never a secret reference."""

from __future__ import annotations

import pytest

from engine.review.wording import describe_change, describe_new
from tests.engine.review import samples
from tests.engine.review.cornerstone_samples import (
    CORNERSTONE_ONLY,
    EXPIRES_2031,
    EXPIRES_2033,
    SAML_METHOD,
    certificate,
    pinned,
)
from tests.fixtures.cornerstone import SigningIdentity, idp_metadata

JWT_METHOD = "    method: {type: jwt, secret: env:ACME_SSO_SECRET}\n"
NEXT_PULL = "Cornerstone catalog: the courses this changes are updated in Cornerstone at its next pull"

CASES = [
    (
        "subject mapping added",
        [("subjects: {sales: [Sales]}", "subjects: {sales: [Sales], marketing: [Sales & Marketing]}")],
        ["Cornerstone catalog: subject mapping `marketing` → `Sales & Marketing` added", NEXT_PULL],
    ),
    (
        "subject mapping retargeted",
        [("subjects: {sales: [Sales]}", "subjects: {sales: [Sales & Marketing, Negotiation]}")],
        [
            "Cornerstone catalog: subject mapping `sales` now → `Sales & Marketing`, `Negotiation` "
            "(was `Sales`)",
            NEXT_PULL,
        ],
    ),
    (
        "subject mapping removed",
        [("subjects: {sales: [Sales]}", "subjects: {}")],
        [
            "Cornerstone catalog: subject mapping `sales` → `Sales` removed (those courses get the "
            "default subjects)",
            NEXT_PULL,
        ],
    ),
    (
        "default subjects and partners",
        [("default_subjects: [General]", "default_subjects: [360Learning]\n    partners: [Acme Academy]")],
        [
            "Cornerstone catalog: default subjects `General` → `360Learning`",
            "Cornerstone catalog: partners none → `Acme Academy`",
            NEXT_PULL,
        ],
    ),
    (
        "launch URL",
        [("acme.360learning.com/course/", "learn.acme.example/course/")],
        [
            "Cornerstone catalog: launch URL `https://acme.360learning.com/course/{course_id}` → "
            "`https://learn.acme.example/course/{course_id}`",
            NEXT_PULL,
        ],
    ),
    (
        "feed disabled",
        [("  catalog:\n", "  catalog:\n    enabled: false\n")],
        ["Cornerstone catalog feed disabled: the runner stops it"],
    ),
    (
        "feed authentication switched",
        [
            (
                "auth: {type: basic, username: csod, password: env:ACME_FEED_PASSWORD}",
                "auth: {type: oauth2, client_id: env:ACME_FEED_ID, client_secret: env:ACME_FEED_SECRET}",
            )
        ],
        [
            "Cornerstone catalog: feed authentication HTTP Basic → OAuth2 client credentials (give "
            "Cornerstone the new credentials before its next pull)"
        ],
    ),
    (
        "feed password rotated",
        [("env:ACME_FEED_PASSWORD", "env:ACME_FEED_PASSWORD_2025")],
        ["Cornerstone catalog: feed password changed (reference only; give Cornerstone the new one)"],
    ),
    (
        "completions time and in-progress",
        [
            (
                '{time: "02:00", timezone: Europe/Paris}',
                '{time: "03:30", timezone: Europe/Paris, in_progress: true}',
            )
        ],
        [
            "Cornerstone completions: daily push 02:00 Europe/Paris → 03:30 Europe/Paris",
            "completions now also push in-progress (learning assignments set In Progress)",
        ],
    ),
    (
        "completions platform",
        [("timezone: Europe/Paris}", "timezone: Europe/Paris, platform: workday}")],
        ["Cornerstone completions: learners matched by external id under `lmsync-hris` → `workday`"],
    ),
    (
        "completions removed",
        [('  completions: {time: "02:00", timezone: Europe/Paris}\n', "")],
        ["Cornerstone daily completions removed: the runner stops pushing completions to transcripts"],
    ),
    (
        "JWT max age",
        [("secret: env:ACME_SSO_SECRET}", "secret: env:ACME_SSO_SECRET, max_age_seconds: 120}")],
        ["SSO: JWT max age 300 s → 120 s"],
    ),
    (
        "SSO secret rotated",
        [("env:ACME_SSO_SECRET", "env:ACME_SSO_SECRET_V2")],
        ["SSO secret changed (the IdP must sign with the new one)"],
    ),
    (
        "JWT claim renamed",
        [("secret: env:ACME_SSO_SECRET}", "secret: env:ACME_SSO_SECRET, claims: {email: mail}}")],
        [
            "SSO: JWT claim for e-mail `email` → `mail`",
            "SSO: JWT claim for first name `firstName` → none",
            "SSO: JWT claim for last name `lastName` → none",
        ],
    ),
    (
        "SSO switched to SAML",
        [(JWT_METHOD, SAML_METHOD)],
        [
            "SSO switched from JWT to SAML: SAML 2.0 (entity id `https://acme.360learning.com/saml`, "
            "metadata URL); JWT logins are refused after deploy"
        ],
    ),
    (
        "provision group",
        [('provision_group: "g-sso"', 'provision_group: "g-cornerstone"')],
        ["SSO: first logins now join group `g-cornerstone` (was group `g-sso`)"],
    ),
    (
        "SSO removed",
        [(f'  sso:\n{JWT_METHOD}    provision_group: "g-sso"\n', "")],
        ["SSO removed: logins through Cornerstone stop; users already provisioned stay"],
    ),
    (
        "portal moved to production",
        [("https://acme-pilot.csod.com", "https://acme.csod.com")],
        ["environment `test`: Cornerstone portal `https://acme-pilot.csod.com` → `https://acme.csod.com`"],
    ),
    (
        "portal scopes and secret",
        [
            ("client_secret: env:ACME_CSOD_SECRET}", "client_secret: env:CSOD_V2, scope: 'employee:read'}"),
        ],
        [
            "environment `test`: Cornerstone portal API scopes `employee:read transcript:read "
            "transcript:update` → `employee:read`",
            "environment `test`: Cornerstone portal client secret changed (reference only)",
        ],
    ),
]


@pytest.mark.parametrize(("edits", "expected"), [(e, x) for _, e, x in CASES], ids=[c[0] for c in CASES])
def test_each_cornerstone_change_is_said_in_the_connectors_words(
    edits: list[tuple[str, str]], expected: list[str]
) -> None:
    before = samples.config(CORNERSTONE_ONLY)
    after = samples.config(samples.edited(*edits, text=CORNERSTONE_ONLY))
    assert describe_change(before, after) == expected


def test_renamed_saml_attributes_are_said_like_jwt_claims() -> None:
    saml = samples.edited((JWT_METHOD, SAML_METHOD), text=CORNERSTONE_ONLY)
    renamed = samples.edited(
        ("attributes: {first_name: givenName}", "attributes: {last_name: sn}"), text=saml
    )
    assert describe_change(samples.config(saml), samples.config(renamed)) == [
        "SSO: SAML attribute for first name `givenName` → none",
        "SSO: SAML attribute for last name none → `sn`",
    ]


def test_the_saml_certificate_is_described_by_its_expiry_never_its_text() -> None:
    first, second = certificate(EXPIRES_2031), certificate(EXPIRES_2033)
    jwt = samples.config(CORNERSTONE_ONLY)
    saml = samples.edited((JWT_METHOD, SAML_METHOD), text=CORNERSTONE_ONLY)
    with_first = samples.edited((SAML_METHOD, SAML_METHOD + pinned(first)), text=saml)
    with_second = samples.edited((SAML_METHOD, SAML_METHOD + pinned(second)), text=saml)
    assert describe_change(samples.config(saml), samples.config(with_first)) == [
        "SSO: IdP signing certificate pinned (valid until 2031-05-01)"
    ]
    assert describe_change(samples.config(with_first), samples.config(with_second)) == [
        "SSO: IdP signing certificate replaced (valid until 2031-05-01 → valid until 2033-09-30)"
    ]
    switched = describe_change(jwt, samples.config(with_second))
    assert switched == [
        "SSO switched from JWT to SAML: SAML 2.0 (entity id `https://acme.360learning.com/saml`, "
        "metadata URL, certificate valid until 2033-09-30); JWT logins are refused after deploy"
    ]
    metadata = idp_metadata(SigningIdentity(b"", first.encode()))
    inline = samples.edited(
        (
            '      metadata_url: "https://idp.acme.example/metadata.xml"\n',
            "      metadata_xml: |\n" + "".join(f"        {line}\n" for line in metadata.splitlines()),
        ),
        text=saml,
    )
    assert describe_change(samples.config(saml), samples.config(inline)) == [
        "SSO: IdP metadata now inline (was from a URL)",
    ]
    said = "\n".join(switched)
    assert "BEGIN CERTIFICATE" not in said and first.splitlines()[1] not in said


def test_no_cornerstone_secret_reference_is_ever_shown() -> None:
    after = samples.config(
        samples.edited(
            ("env:ACME_FEED_PASSWORD", "env:FEED_PASSWORD_ROTATED"),
            ("env:ACME_SSO_SECRET", "env:SSO_SECRET_ROTATED"),
            ("env:ACME_CSOD_ID", "env:CSOD_ID_ROTATED"),
            text=CORNERSTONE_ONLY,
        )
    )
    said = describe_change(samples.config(CORNERSTONE_ONLY), after)
    assert len(said) == 3
    for reference in ("ACME_FEED_PASSWORD", "FEED_PASSWORD_ROTATED", "SSO_SECRET", "CSOD_ID"):
        assert reference not in "\n".join(said)


def test_adding_the_connector_and_a_new_customer_say_each_part() -> None:
    hris_only = samples.config()
    with_cornerstone = samples.config(
        samples.edited(
            (
                "hris:\n",
                "    cornerstone: {url: 'https://acme-pilot.csod.com', client_id: env:A, "
                "client_secret: env:B}\nhris:\n",
            )
        )
        + CORNERSTONE_ONLY[CORNERSTONE_ONLY.index("cornerstone:\n  catalog") :]
    )
    added = describe_change(hris_only, with_cornerstone)
    assert added == [
        "Cornerstone connector added",
        "environment `test`: Cornerstone portal added (https://acme-pilot.csod.com)",
    ]
    facts = describe_new(samples.config(CORNERSTONE_ONLY))
    assert facts[1:] == [
        "Cornerstone catalog feed added (HTTP Basic; launch URL "
        "`https://acme.360learning.com/course/{course_id}`): the runner serves it at "
        "`/cornerstone/<customer>/courses`",
        "Cornerstone daily completions added: the previous local day's completions pushed at 02:00 "
        "Europe/Paris, learners matched by their external id under `lmsync-hris`",
        "SSO added: JWT (HS256, max age 300 s); first logins join group `g-sso` as learners",
    ]
