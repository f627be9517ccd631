"""Offline checks of a customer's ``cornerstone.sso`` section, for ``lmsync validate``.

The models already fix what a schema can (HS256 only, one of metadata URL or XML). What is
left needs parsing: the IdP certificate must be readable and not expire within 30 days (a
warning: logins stop the day it expires), inline metadata must be well-formed XML -- parsed
with entities, DTDs and the network off -- and describe an identity provider, and there must
be a group to provision first logins into.

Returns findings, never raises for a bad section; it never resolves a secret nor fetches a
``metadata_url`` (validation runs in CI without network or secrets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from engine.config.models import CustomerConfig, SamlSso
from engine.cornerstone.saml_xml import UnsafeXml, certificate_expiry, parse_idp_metadata

#: A certificate expiring sooner than this is flagged.
EXPIRY_WARNING = timedelta(days=30)

#: Findings that depend on today's date: a file loaded for a run skips them (the calendar
#: moving must not stop a customer's syncs); ``lmsync validate`` and the login judge them.
DATED_CODES: frozenset[str] = frozenset({"sso-certificate-expired", "sso-certificate-expiring"})

METHOD = ("cornerstone", "sso", "method")


@dataclass(frozen=True)
class SsoFinding:
    """A problem at ``path`` (from the document root), shaped like the config's findings.

    The validate command turns it into a ``Diagnostic`` with
    ``document.diagnostic(f.path, f.message, code=f.code)`` and this ``severity``.
    """

    path: tuple[str, ...]
    message: str
    code: str
    severity: Literal["error", "warning"] = "error"


def _certificate_findings(pem: str, path: tuple[str, ...], now: datetime) -> list[SsoFinding]:
    try:
        expires = certificate_expiry(pem)
    except ValueError:
        return [
            SsoFinding(
                path,
                "the certificate is not a readable PEM X.509 certificate: paste the IdP's "
                "signing certificate, BEGIN/END lines included",
                "sso-certificate",
            )
        ]
    if expires <= now:
        return [
            SsoFinding(
                path,
                f"the certificate expired on {expires:%Y-%m-%d}: logins are refused until the "
                "IdP's new signing certificate is configured",
                "sso-certificate-expired",
            )
        ]
    if expires - now < EXPIRY_WARNING:
        return [
            SsoFinding(
                path,
                f"the certificate expires on {expires:%Y-%m-%d} (in {(expires - now).days} "
                "days): ask the customer for the IdP's next signing certificate",
                "sso-certificate-expiring",
                "warning",
            )
        ]
    return []


def _saml_findings(method: SamlSso, now: datetime) -> list[SsoFinding]:
    found: list[SsoFinding] = []
    has_metadata_certificate = False
    metadata_readable = True
    if method.metadata_xml is not None:
        path = (*METHOD, "metadata_xml")
        try:
            metadata = parse_idp_metadata(method.metadata_xml)
        except UnsafeXml as exc:
            metadata_readable = False
            found.append(SsoFinding(path, f"the IdP metadata is refused: {exc}", "sso-metadata"))
        else:
            if not metadata.entity_id:
                found.append(SsoFinding(path, "the IdP metadata has no entityID", "sso-metadata"))
            for index, pem in enumerate(metadata.signing_certificates):
                has_metadata_certificate = True
                for finding in _certificate_findings(pem, path, now):
                    found.append(
                        SsoFinding(
                            finding.path,
                            f"signing certificate {index + 1} in the metadata: {finding.message}",
                            finding.code,
                            finding.severity,
                        )
                    )
    if method.certificate is not None:
        found += _certificate_findings(method.certificate, (*METHOD, "certificate"), now)
    elif method.metadata_xml is not None and metadata_readable and not has_metadata_certificate:
        found.append(
            SsoFinding(
                METHOD,
                "no signing certificate: set 'certificate' or use metadata with a signing "
                "KeyDescriptor, or every SAML login is refused",
                "sso-no-certificate",
            )
        )
    elif method.metadata_url is not None:
        found.append(
            SsoFinding(
                (*METHOD, "metadata_url"),
                "metadata_url is not fetched by lmsync validate (it runs without network), so "
                "the IdP's signing certificate is not checked here: also set 'certificate' to pin "
                "it and have its expiry checked",
                "sso-unpinned-certificate",
                "warning",
            )
        )
    return found


def check_sso(config: CustomerConfig, *, now: datetime | None = None) -> list[SsoFinding]:
    """Every finding about the SSO section (empty when there is none or all is well)."""
    sso = config.cornerstone.sso if config.cornerstone else None
    if sso is None:
        return []
    moment = now or datetime.now(UTC)
    found: list[SsoFinding] = []
    if sso.provision_group is None and config.hris is None:
        found.append(
            SsoFinding(
                ("cornerstone", "sso"),
                "first logins have no group to join: set provision_group "
                "(there is no hris.group to default to)",
                "sso-no-group",
            )
        )
    if isinstance(sso.method, SamlSso):
        found += _saml_findings(sso.method, moment)
    # JWT: the algorithm is fixed by the model (HS256) and the secret is a reference, checked
    # for length only when a login or a link resolves it -- validation never reads secrets.
    return found
