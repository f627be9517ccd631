"""The Cornerstone section of a configuration change, told in the connector's words.

A reviewer of "subjects.sales: [Sales] → [Sales & Marketing]" needs to read "Cornerstone
catalog: subject mapping `sales` now → `Sales & Marketing`", and of a new JWT secret
reference "SSO secret changed" -- never the reference, let alone the secret. Each function
takes one part of the ``cornerstone`` section on both sides (plain JSON values from the
models, None where absent) and returns phrases; ``engine.review.wording`` calls them for
its ``cornerstone`` paths and for the Cornerstone portal of an environment.

Pure: no I/O, no clock. It must never show a secret reference's value; other values go
through the caller's ``quote`` (which masks e-mails and shortens long values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.cornerstone.saml_xml import certificate_expiry

Quote = Callable[[Any], str]

_AUTH_NAMES = {"basic": "HTTP Basic", "oauth2": "OAuth2 client credentials"}
_SSO_NAMES = {"jwt": "JWT", "saml": "SAML"}
_CLAIM_NAMES = {"email": "e-mail", "first_name": "first name", "last_name": "last name"}
#: Catalog keys that shape every course's feed item.
_ITEM_KEYS = ("launch_url", "subjects", "default_subjects", "partners")
#: Said once after a change of those: the feed moves each affected course's LastModifiedUTC.
_NEXT_PULL = "Cornerstone catalog: the courses this changes are updated in Cornerstone at its next pull"


def _listed(values: list[Any] | None, quote: Quote) -> str:
    return ", ".join(f"`{quote(v)}`" for v in values) if values else "none"


def _toggle(part: str, after: Any) -> str:
    return f"{part} {'enabled' if after else 'disabled: the runner stops it'}"


# --- catalog --------------------------------------------------------------------------------


def _auth_phrases(before: Mapping[str, Any], after: Mapping[str, Any], quote: Quote) -> list[str]:
    if before.get("type") != after.get("type"):
        return [
            f"Cornerstone catalog: feed authentication {_AUTH_NAMES[before['type']]} → "
            f"{_AUTH_NAMES[after['type']]} (give Cornerstone the new credentials before its next pull)"
        ]
    said = []
    if before.get("username") != after.get("username"):
        said.append(
            f"Cornerstone catalog: feed Basic username `{quote(before['username'])}` → "
            f"`{quote(after['username'])}`"
        )
    for key, name in (
        ("password", "password"),
        ("client_id", "client id"),
        ("client_secret", "client secret"),
    ):
        if before.get(key) != after.get(key):
            said.append(
                f"Cornerstone catalog: feed {name} changed (reference only; give Cornerstone the new one)"
            )
    return said


def catalog_phrases(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, quote: Quote
) -> list[str]:
    """The course-list feed: added or removed, its mapping, its authentication."""
    if before is None and after is not None:
        return [
            f"Cornerstone catalog feed added ({_AUTH_NAMES[after['auth']['type']]}; launch URL "
            f"`{quote(after['launch_url'])}`): the runner serves it at `/cornerstone/<customer>/courses`"
        ]
    if after is None and before is not None:
        return [
            "Cornerstone catalog feed removed: the runner stops serving it and Cornerstone's pulls fail; "
            "courses stay in Cornerstone's catalog until retired there"
        ]
    if before is None or after is None:
        return []
    said: list[str] = []
    if before["enabled"] != after["enabled"]:
        said.append(_toggle("Cornerstone catalog feed", after["enabled"]))
    if before["launch_url"] != after["launch_url"]:
        old_url, new_url = quote(before["launch_url"]), quote(after["launch_url"])
        said.append(f"Cornerstone catalog: launch URL `{old_url}` → `{new_url}`")
    old, new = before["subjects"], after["subjects"]
    for tag in sorted(set(old) | set(new)):
        if tag not in old:
            said.append(
                f"Cornerstone catalog: subject mapping `{quote(tag)}` → {_listed(new[tag], quote)} added"
            )
        elif tag not in new:
            said.append(
                f"Cornerstone catalog: subject mapping `{quote(tag)}` → {_listed(old[tag], quote)} removed "
                "(those courses get the default subjects)"
            )
        elif old[tag] != new[tag]:
            said.append(
                f"Cornerstone catalog: subject mapping `{quote(tag)}` now → {_listed(new[tag], quote)} "
                f"(was {_listed(old[tag], quote)})"
            )
    for key, name in (("default_subjects", "default subjects"), ("partners", "partners")):
        if before[key] != after[key]:
            said.append(
                f"Cornerstone catalog: {name} {_listed(before[key], quote)} → {_listed(after[key], quote)}"
            )
    if after["enabled"] and any(before[k] != after[k] for k in _ITEM_KEYS):
        said.append(_NEXT_PULL)
    return said + _auth_phrases(before["auth"], after["auth"], quote)


# --- completions ----------------------------------------------------------------------------


def _when(section: Mapping[str, Any]) -> str:
    return f"{section['time']} {section['timezone']}"


def completions_phrases(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, quote: Quote
) -> list[str]:
    """The daily push of completions to transcripts: when, what, matched how."""
    if before is None and after is not None:
        also = " and in-progress updates" if after["in_progress"] else ""
        return [
            f"Cornerstone daily completions added: the previous local day's completions{also} pushed at "
            f"{_when(after)}, learners matched by their external id under `{quote(after['platform'])}`"
        ]
    if after is None and before is not None:
        return ["Cornerstone daily completions removed: the runner stops pushing completions to transcripts"]
    if before is None or after is None:
        return []
    said: list[str] = []
    if before["enabled"] != after["enabled"]:
        said.append(_toggle("Cornerstone daily completions", after["enabled"]))
    if _when(before) != _when(after):
        said.append(f"Cornerstone completions: daily push {_when(before)} → {_when(after)}")
    if before["in_progress"] != after["in_progress"]:
        said.append(
            "completions now also push in-progress (learning assignments set In Progress)"
            if after["in_progress"]
            else "completions no longer push in-progress (completions only)"
        )
    if before["platform"] != after["platform"]:
        said.append(
            f"Cornerstone completions: learners matched by external id under `{quote(before['platform'])}` → "
            f"`{quote(after['platform'])}`"
        )
    return said


# --- SSO ------------------------------------------------------------------------------------


def _certificate(pem: str | None) -> str:
    if not pem:
        return "none"
    try:
        return f"valid until {certificate_expiry(pem):%Y-%m-%d}"
    except ValueError:
        return "unreadable"


def _method(method: Mapping[str, Any], quote: Quote) -> str:
    if method["type"] == "jwt":
        return f"JWT ({method['algorithm']}, max age {method['max_age_seconds']} s)"
    source = "metadata URL" if method.get("metadata_url") else "inline metadata"
    pinned = f", certificate {_certificate(method['certificate'])}" if method.get("certificate") else ""
    return f"SAML 2.0 (entity id `{quote(method['entity_id'])}`, {source}{pinned})"


def _group(group: str | None, quote: Quote) -> str:
    return f"group `{quote(group)}`" if group else "hris.group"


def _jwt_phrases(before: Mapping[str, Any], after: Mapping[str, Any], quote: Quote) -> list[str]:
    said: list[str] = []
    if before["secret"] != after["secret"]:
        said.append("SSO secret changed (the IdP must sign with the new one)")
    if before["max_age_seconds"] != after["max_age_seconds"]:
        said.append(f"SSO: JWT max age {before['max_age_seconds']} s → {after['max_age_seconds']} s")
    said += _mapped_names("SSO: JWT claim", before["claims"], after["claims"], quote)
    return said


def _saml_phrases(before: Mapping[str, Any], after: Mapping[str, Any], quote: Quote) -> list[str]:
    said: list[str] = []
    if before["entity_id"] != after["entity_id"]:
        said.append(
            f"SSO: SAML entity id `{quote(before['entity_id'])}` → `{quote(after['entity_id'])}` "
            "(the audience the IdP's responses must name)"
        )
    old_url, new_url = before.get("metadata_url"), after.get("metadata_url")
    if old_url != new_url:
        if old_url and new_url:
            said.append(f"SSO: IdP metadata URL `{quote(old_url)}` → `{quote(new_url)}`")
        elif new_url:
            said.append(f"SSO: IdP metadata now from `{quote(new_url)}` (was inline)")
        else:
            said.append("SSO: IdP metadata now inline (was from a URL)")
    elif before.get("metadata_xml") != after.get("metadata_xml") and after.get("metadata_xml"):
        said.append("SSO: inline IdP metadata changed (check its signing certificate)")
    if before.get("certificate") != after.get("certificate"):
        if not after.get("certificate"):
            said.append("SSO: IdP signing certificate no longer pinned")
        elif not before.get("certificate"):
            said.append(f"SSO: IdP signing certificate pinned ({_certificate(after['certificate'])})")
        else:
            said.append(
                f"SSO: IdP signing certificate replaced ({_certificate(before['certificate'])} → "
                f"{_certificate(after['certificate'])})"
            )
    said += _mapped_names("SSO: SAML attribute", before["attributes"], after["attributes"], quote)
    return said


def _mapped_names(what: str, old: Mapping[str, str], new: Mapping[str, str], quote: Quote) -> list[str]:
    """One phrase per user field whose JWT claim or SAML attribute name changed."""

    def shown(names: Mapping[str, str], ours: str) -> str:
        return f"`{quote(names[ours])}`" if ours in names else "none"

    return [
        f"{what} for {_CLAIM_NAMES[ours]} {shown(old, ours)} → {shown(new, ours)}"
        for ours in sorted(set(old) | set(new))
        if old.get(ours) != new.get(ours)
    ]


def sso_phrases(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, quote: Quote) -> list[str]:
    """Single sign-on: the method, its parameters, where first logins are provisioned."""
    if before is None and after is not None:
        return [
            f"SSO added: {_method(after['method'], quote)}; first logins join "
            f"{_group(after['provision_group'], quote)} as learners"
        ]
    if after is None and before is not None:
        return ["SSO removed: logins through Cornerstone stop; users already provisioned stay"]
    if before is None or after is None:
        return []
    old, new = before["method"], after["method"]
    said: list[str] = []
    if old["type"] != new["type"]:
        was, now = _SSO_NAMES[old["type"]], _SSO_NAMES[new["type"]]
        said.append(
            f"SSO switched from {was} to {now}: {_method(new, quote)}; {was} logins are refused after deploy"
        )
    elif new["type"] == "jwt":
        said += _jwt_phrases(old, new, quote)
    else:
        said += _saml_phrases(old, new, quote)
    if before["provision_group"] != after["provision_group"]:
        said.append(
            f"SSO: first logins now join {_group(after['provision_group'], quote)} "
            f"(was {_group(before['provision_group'], quote)})"
        )
    return said


# --- the portal of an environment, and a new customer's facts --------------------------------


def portal_phrases(
    environment: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, quote: Quote
) -> list[str]:
    """``environments.<name>.cornerstone``: the portal completions are pushed to."""
    where = f"environment `{environment}`: Cornerstone portal"
    if before is None and after is not None:
        return [f"{where} added ({quote(after['url'])})"]
    if after is None and before is not None:
        return [f"{where} removed"]
    if before is None or after is None:
        return []
    said: list[str] = []
    if before["url"] != after["url"]:
        said.append(f"{where} `{quote(before['url'])}` → `{quote(after['url'])}`")
    if before["scope"] != after["scope"]:
        said.append(f"{where} API scopes `{quote(before['scope'])}` → `{quote(after['scope'])}`")
    for key, name in (("client_id", "client id"), ("client_secret", "client secret")):
        if before[key] != after[key]:
            said.append(f"{where} {name} changed (reference only)")
    return said


def cornerstone_facts(section: Mapping[str, Any], quote: Quote) -> list[str]:
    """What a reviewer checks first in a new customer's ``cornerstone`` section."""
    facts: list[str] = []
    catalog, completions, sso = section.get("catalog"), section.get("completions"), section.get("sso")
    if catalog is not None:
        facts += catalog_phrases(None, catalog, quote)
    if completions is not None:
        facts += completions_phrases(None, completions, quote)
    if sso is not None:
        facts += sso_phrases(None, sso, quote)
    return facts or ["Cornerstone connector: nothing enabled"]
