"""Customer files with a ``cornerstone`` section, for the review's wording and golden tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PORTAL = (
    "    cornerstone: {url: 'https://acme-pilot.csod.com', client_id: env:ACME_CSOD_ID, "
    "client_secret: env:ACME_CSOD_SECRET}\n"
)

CORNERSTONE = """\
cornerstone:
  catalog:
    launch_url: "https://acme.360learning.com/course/{course_id}"
    subjects: {sales: [Sales]}
    default_subjects: [General]
    auth: {type: basic, username: csod, password: env:ACME_FEED_PASSWORD}
  completions: {time: "02:00", timezone: Europe/Paris}
  sso:
    method: {type: jwt, secret: env:ACME_SSO_SECRET}
    provision_group: "g-sso"
"""

#: A customer with only the Cornerstone connector (no HRIS sync), so a review shows the
#: configuration change alone.
CORNERSTONE_ONLY = (
    """\
version: 1
customer: acme
environments:
  test:
    lms: {url: "http://127.0.0.1:8360", client_id: "env:ACME_TEST_ID", client_secret: "env:ACME_TEST_SECRET"}
"""
    + PORTAL
    + CORNERSTONE
)

SAML_METHOD = """\
    method:
      type: saml
      entity_id: "https://acme.360learning.com/saml"
      metadata_url: "https://idp.acme.example/metadata.xml"
      attributes: {first_name: givenName}
"""


def certificate(expires: datetime) -> str:
    """A throwaway self-signed certificate expiring at ``expires`` (EC key: fast, never kept)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.acme.example")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(expires - timedelta(days=730))
        .not_valid_after(expires)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pinned(pem: str) -> str:
    """The ``certificate: |`` lines of ``SAML_METHOD`` for ``pem``."""
    return "      certificate: |\n" + "".join(f"        {line}\n" for line in pem.strip().splitlines())


#: Fixed expiry dates, so golden files do not move with the calendar.
EXPIRES_2031 = datetime(2031, 5, 1, tzinfo=UTC)
EXPIRES_2033 = datetime(2033, 9, 30, tzinfo=UTC)
