"""SAML 2.0 single sign-on: verifying a signed response posted to our ACS.

The signature is checked with signxml against the configured IdP certificate (from the
section's ``certificate`` or its inline metadata) -- never against a certificate the
response brings along. Everything read afterwards is read from the element signxml says
was signed, so a response wrapping a forged assertion around a signed one (XML signature
wrapping) cannot smuggle an identity in. Then: the audience is our ``entity_id``, the issuer
is the IdP's entity id when known, ``NotBefore``/``NotOnOrAfter`` hold, the NameID is an
e-mail, and the assertion ID has not been used before.

Nothing here logs or fetches; refusals carry a reason code, never the e-mail.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from lxml import etree
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from engine.config.models import SamlSso
from engine.cornerstone.replay import ReplayCache
from engine.cornerstone.saml_xml import (
    NS,
    UnsafeXml,
    certificate_expiry,
    decode_saml_response,
    parse_idp_metadata,
    parse_xml_safely,
)
from engine.cornerstone.sso_jwt import SsoIdentity, SsoRefused, normalised_email

LEEWAY = timedelta(seconds=60)
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EMAIL_FORMATS = {
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}


def idp_certificates(config: SamlSso) -> list[str]:
    """PEM certificates a response may be signed with: the configured one, else the metadata's."""
    if config.certificate:
        return [config.certificate]
    if config.metadata_xml:
        return list(parse_idp_metadata(config.metadata_xml).signing_certificates)
    return []


def idp_entity_id(config: SamlSso) -> str | None:
    return parse_idp_metadata(config.metadata_xml).entity_id or None if config.metadata_xml else None


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SsoRefused("malformed", f"the SAML {what} is not an ISO 8601 time") from exc


def _unexpired(certificates: list[str], now: datetime) -> list[str]:
    """The trusted certificates still valid at ``now``: an expired IdP key signs nothing.

    Loading a customer file for a run skips the expiry check (``lmsync validate`` does it),
    so the login is where an expired certificate is finally refused.
    """
    usable: list[str] = []
    for pem in certificates:
        try:
            if certificate_expiry(pem) > now:
                usable.append(pem)
        except ValueError:
            continue  # unreadable: validate reports it; it can verify nothing here
    if not usable:
        raise SsoRefused(
            "certificate_expired",
            "the configured IdP signing certificate has expired (or is unreadable): configure the "
            "IdP's current certificate in cornerstone.sso.method",
        )
    return usable


def _signed_element(root: etree._Element, certificates: list[str]) -> etree._Element:
    """The element whose signature verifies with one of ``certificates`` (Response or Assertion)."""
    if root.find("ds:Signature", NS) is not None:
        candidate = root
    else:
        signed = [a for a in root.findall("saml:Assertion", NS) if a.find("ds:Signature", NS) is not None]
        if not signed:
            raise SsoRefused("unsigned", "the SAML response carries no signature: refused")
        if len(signed) > 1:
            raise SsoRefused("malformed", "the SAML response holds more than one signed assertion")
        candidate = copy.deepcopy(signed[0])
    failure: Exception | None = None
    for pem in certificates:
        try:
            result = XMLVerifier().verify(
                candidate, x509_cert=pem, expect_config=SignatureConfiguration(location="./")
            )
        except SignXMLException as exc:
            failure = exc
            continue
        verified = result[0] if isinstance(result, list) else result
        element: etree._Element = verified.signed_xml
        return element
    raise SsoRefused(
        "bad_signature", "the SAML response's signature does not verify with the configured IdP certificate"
    ) from failure


def verify_saml_response(
    saml_response: str | bytes,
    config: SamlSso,
    *,
    replay: ReplayCache,
    now: datetime,
    certificates: list[str] | None = None,
) -> SsoIdentity:
    """The identity of a base64 ``SAMLResponse``, or ``SsoRefused``.

    ``certificates`` overrides the configured ones (e.g. fetched from ``metadata_url``).
    """
    try:
        root = parse_xml_safely(decode_saml_response(saml_response))
    except UnsafeXml as exc:
        raise SsoRefused("malformed", f"the SAML response is refused: {exc}") from exc
    if root.tag != f"{{{NS['samlp']}}}Response":
        raise SsoRefused("malformed", "the document is not a samlp:Response")
    trusted = certificates if certificates is not None else idp_certificates(config)
    if not trusted:
        raise SsoRefused(
            "no_certificate", "no IdP certificate is configured: set cornerstone.sso.method.certificate"
        )
    signed = _signed_element(root, _unexpired(trusted, now))
    if signed.tag == f"{{{NS['samlp']}}}Response":
        status = signed.find("samlp:Status/samlp:StatusCode", NS)
        if status is None or status.get("Value") != SUCCESS:
            raise SsoRefused("idp_refused", "the identity provider did not report a successful login")
        assertions = signed.findall("saml:Assertion", NS)
        if len(assertions) != 1:
            raise SsoRefused("malformed", "the signed SAML response must hold exactly one assertion")
        assertion = assertions[0]
    else:
        status = root.find("samlp:Status/samlp:StatusCode", NS)
        if status is not None and status.get("Value") != SUCCESS:
            raise SsoRefused("idp_refused", "the identity provider did not report a successful login")
        assertion = signed
    return _identity(assertion, config, replay=replay, now=now)


def _identity(
    assertion: etree._Element, config: SamlSso, *, replay: ReplayCache, now: datetime
) -> SsoIdentity:
    issuer = assertion.findtext("saml:Issuer", namespaces=NS)
    expected_issuer = idp_entity_id(config)
    if expected_issuer and (issuer or "").strip() != expected_issuer:
        raise SsoRefused("wrong_issuer", "the SAML assertion comes from another identity provider")

    conditions = assertion.find("saml:Conditions", NS)
    if conditions is None:
        raise SsoRefused("malformed", "the SAML assertion has no Conditions")
    not_before = _time(conditions.get("NotBefore"), "NotBefore")
    not_after = _time(conditions.get("NotOnOrAfter"), "NotOnOrAfter")
    if not_after is None:
        raise SsoRefused("malformed", "the SAML assertion has no NotOnOrAfter")
    if not_before is not None and now + LEEWAY < not_before:
        raise SsoRefused("not_yet_valid", "the SAML assertion is not valid yet: check the IdP's clock")
    if now - LEEWAY >= not_after:
        raise SsoRefused("expired", "the SAML assertion has expired")
    audiences = [a.text.strip() for a in conditions.findall(".//saml:Audience", NS) if a.text]
    if config.entity_id not in audiences:
        raise SsoRefused("wrong_audience", f"the SAML assertion is not addressed to {config.entity_id}")
    for data in assertion.findall("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS):
        limit = _time(data.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter")
        if limit is not None and now - LEEWAY >= limit:
            raise SsoRefused("expired", "the SAML subject confirmation has expired")

    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    if name_id is None:
        raise SsoRefused("bad_email", "the SAML assertion has no NameID")
    if name_id.get("Format") is not None and name_id.get("Format") not in EMAIL_FORMATS:
        raise SsoRefused("bad_email", "the SAML NameID format is not emailAddress")
    email = normalised_email(name_id.text)

    attributes: dict[str, str] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
        value = attribute.findtext("saml:AttributeValue", namespaces=NS)
        if attribute.get("Name") and value:
            attributes[str(attribute.get("Name"))] = value.strip()
    names = {ours: attributes.get(theirs) for ours, theirs in config.attributes.items()}

    assertion_id = assertion.get("ID")
    if not assertion_id:
        raise SsoRefused("malformed", "the SAML assertion has no ID")
    if not replay.first_use(f"saml:{assertion_id}", not_after + LEEWAY, now):
        raise SsoRefused("replayed", "the SAML assertion was already used")
    return SsoIdentity(email, names.get("first_name"), names.get("last_name"))
