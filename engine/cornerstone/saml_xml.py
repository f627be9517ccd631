"""Reading SAML XML safely: responses and IdP metadata, never entities, DTDs or the network.

XML from outside (a browser-posted SAML response, a metadata document in a customer file)
is first screened by defusedxml (any DTD, entity declaration or external reference is
refused), then parsed by lxml with entity resolution, DTD loading and network access off.
Only then may signature verification or any read happen.

This module must never fetch a URL: a ``metadata_url`` is fetched by the caller, if at all.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeTree
from cryptography import x509
from defusedxml import DefusedXmlException
from lxml import etree

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
}

#: A SAML response or a metadata document bigger than this is refused before parsing.
MAX_XML_BYTES = 512 * 1024


class UnsafeXml(ValueError):  # noqa: N818 - reads as the reason at the call site
    """The document is not well-formed, too large, or uses DTDs/entities."""


def parse_xml_safely(data: bytes | str) -> etree._Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_XML_BYTES:
        raise UnsafeXml(f"the document is larger than {MAX_XML_BYTES // 1024} KiB")
    try:
        SafeTree.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise UnsafeXml(
            f"the document declares a DTD or entities ({type(exc).__name__}), which is refused"
        ) from exc
    except SafeTree.ParseError as exc:
        raise UnsafeXml(f"the document is not well-formed XML ({exc})") from exc
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        return etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"the document is not well-formed XML ({exc})") from exc


def pem_from_base64_der(text: str) -> str:
    """A ``ds:X509Certificate`` body (base64 DER, any whitespace) as PEM."""
    body = "".join(text.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def load_certificate(pem: str) -> x509.Certificate:
    """The certificate in ``pem`` (a bare base64 body is accepted too); ValueError if unreadable."""
    text = pem.strip()
    if "-----BEGIN" not in text:
        text = pem_from_base64_der(text)
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("the certificate is not a readable PEM X.509 certificate") from exc


def certificate_expiry(pem: str) -> datetime:
    return load_certificate(pem).not_valid_after_utc.astimezone(UTC)


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    signing_certificates: tuple[str, ...] = field(default=())
    sso_urls: tuple[str, ...] = field(default=())


def parse_idp_metadata(xml: str | bytes) -> IdpMetadata:
    """The IdP's entity id, signing certificates (PEM) and SSO endpoints from its metadata."""
    root = parse_xml_safely(xml)
    if root.tag != f"{{{NS['md']}}}EntityDescriptor":
        found = root.find(".//md:EntityDescriptor", NS)
        if found is None:
            raise UnsafeXml("the metadata has no md:EntityDescriptor")
        root = found
    idp = root.find("md:IDPSSODescriptor", NS)
    if idp is None:
        raise UnsafeXml("the metadata has no md:IDPSSODescriptor: is it the identity provider's metadata?")
    certificates = []
    for descriptor in idp.findall("md:KeyDescriptor", NS):
        if descriptor.get("use") in (None, "signing"):
            for cert in descriptor.findall(".//ds:X509Certificate", NS):
                if cert.text and cert.text.strip():
                    certificates.append(pem_from_base64_der(cert.text))
    urls = tuple(
        str(e.get("Location")) for e in idp.findall("md:SingleSignOnService", NS) if e.get("Location")
    )
    return IdpMetadata(str(root.get("entityID") or ""), tuple(certificates), urls)


def decode_saml_response(value: str | bytes) -> bytes:
    """The XML of an HTTP-POST binding ``SAMLResponse`` (base64)."""
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise UnsafeXml("SAMLResponse is not base64") from exc
