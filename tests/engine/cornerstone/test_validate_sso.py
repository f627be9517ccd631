"""``lmsync validate`` runs the offline SSO checks: each finding at the offending key's line.

The customer files are written to disk and checked through the validator and the CLI, the
way CI runs them. Certificates are generated for each case (EC keys, fast), never committed.
Loading a file for a run skips the date-dependent checks; the login then refuses an expired
certificate itself.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from engine.cli.main import main
from engine.config.loader import check_file, load_config
from engine.config.models import SamlSso
from engine.console import SilentReporter
from engine.cornerstone.replay import MemoryReplayCache
from engine.cornerstone.sso_jwt import SsoRefused
from engine.cornerstone.sso_saml import verify_saml_response
from engine.runner.catalog import ConfigCatalog
from tests.fixtures.cornerstone import SP_ENTITY, SigningIdentity, saml_response

HEAD = """\
version: 1
customer: acme
environments:
  test:
    lms: {url: "http://127.0.0.1:8360", client_id: "env:A_ID", client_secret: "env:A_SECRET"}
cornerstone:
  sso:
    provision_group: g-sso
    method:
"""


def certificate(*, expires_in: timedelta, key: CertificateIssuerPrivateKeyTypes | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example")])
    now = datetime.now(UTC)
    after = now + expires_in
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, after) - timedelta(days=365))
        .not_valid_after(after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def block(text: str, indent: int = 8) -> str:
    return "".join(" " * indent + line + "\n" for line in text.strip().splitlines())


def saml_file(tmp_path: Path, *fields: str) -> Path:
    """acme.yaml with a SAML method made of ``fields`` (already indented lines)."""
    body = HEAD + "      type: saml\n" + f"      entity_id: {SP_ENTITY}\n" + "".join(fields)
    path = tmp_path / "acme.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def pinned(tmp_path: Path, pem: str) -> Path:
    """acme.yaml with metadata_url and ``pem`` pinned as the certificate."""
    return saml_file(
        tmp_path, "      metadata_url: https://idp.example/md\n", "      certificate: |\n", block(pem)
    )


def line_of(path: Path, key: str) -> int:
    """1-based line of the first ``key:`` in the file."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip().startswith(key))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


@pytest.fixture(autouse=True)
def _outside_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_an_expired_certificate_is_an_error_at_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = certificate(expires_in=-timedelta(days=3))
    path = pinned(tmp_path, pem)
    checked = check_file(path)
    assert checked.config is None
    (finding,) = checked.diagnostics
    assert (finding.line, finding.column) == (line_of(path, "certificate:"), 7)
    assert (finding.severity, finding.code) == ("error", "sso-certificate-expired")
    assert finding.path == "cornerstone.sso.method.certificate"
    assert "expired on" in finding.message and "new signing certificate" in finding.message

    code, out = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert out == f"{path}:{finding.line}:7: cornerstone.sso.method.certificate: {finding.message}\n"


def test_a_certificate_expiring_within_30_days_is_a_warning_and_the_file_stays_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pem = certificate(expires_in=timedelta(days=12, hours=1))
    path = pinned(tmp_path, pem)
    checked = check_file(path)
    assert checked.config is not None
    (finding,) = checked.diagnostics
    assert (finding.severity, finding.code, finding.line) == (
        "warning",
        "sso-certificate-expiring",
        line_of(path, "certificate:"),
    )
    assert "(in 12 days)" in finding.message

    code, out = run_cli(capsys, "validate", "--format", "github", str(path))
    assert code == 0
    assert out.startswith(f"::warning file={path},line={finding.line},col=7,")
    code, out = run_cli(capsys, "validate", "--format", "json", str(path))
    document = json.loads(out)
    assert (code, document["valid"]) == (0, True)
    assert [d["code"] for d in document["diagnostics"]] == ["sso-certificate-expiring"]


def test_a_certificate_far_from_expiry_gives_no_finding(tmp_path: Path) -> None:
    pem = certificate(expires_in=timedelta(days=31))
    path = pinned(tmp_path, pem)
    assert check_file(path).diagnostics == []


def test_an_unreadable_certificate_is_an_error(tmp_path: Path) -> None:
    path = saml_file(
        tmp_path,
        "      metadata_url: https://idp.example/md\n",
        "      certificate: |\n",
        block("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----"),
    )
    (finding,) = check_file(path).diagnostics
    assert (finding.code, finding.severity, finding.line) == (
        "sso-certificate",
        "error",
        line_of(path, "certificate:"),
    )
    assert "BEGIN/END lines included" in finding.message


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'>",
            "not well-formed XML",
        ),
        (
            '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><x>&b;</x>',
            "declares a DTD or entities",
        ),
        (
            "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>",
            "no md:IDPSSODescriptor",
        ),
    ],
    ids=["truncated", "entity-expansion", "not-an-idp"],
)
def test_malformed_metadata_xml_is_an_error_at_its_key(tmp_path: Path, metadata: str, expected: str) -> None:
    path = saml_file(tmp_path, "      metadata_xml: |\n", block(metadata))
    checked = check_file(path)
    assert checked.config is None
    (finding,) = checked.diagnostics
    assert (finding.code, finding.line, finding.path) == (
        "sso-metadata",
        line_of(path, "metadata_xml:"),
        "cornerstone.sso.method.metadata_xml",
    )
    assert expected in finding.message


def test_metadata_url_is_not_fetched_and_the_warning_says_so(tmp_path: Path) -> None:
    path = saml_file(tmp_path, "      metadata_url: https://idp.invalid/metadata.xml\n")
    (finding,) = check_file(path).diagnostics
    assert (finding.severity, finding.line) == ("warning", line_of(path, "metadata_url:"))
    assert "metadata_url is not fetched by lmsync validate" in finding.message
    assert "set 'certificate'" in finding.message


@pytest.mark.parametrize("algorithm", ["RS256", "none", "HS512"])
def test_a_jwt_algorithm_other_than_the_fixed_one_is_refused(
    tmp_path: Path, algorithm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(
        HEAD + "      type: jwt\n      secret: env:ACME_SSO_SECRET\n" + f"      algorithm: {algorithm}\n",
        encoding="utf-8",
    )
    code, out = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert out == (
        f"{path}:{line_of(path, 'algorithm:')}:18: cornerstone.sso.method.algorithm: "
        f"expected 'HS256', got '{algorithm}'\n"
    )


def test_every_sso_finding_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    expired = certificate(expires_in=-timedelta(days=1))
    metadata_cert = "".join(expired.strip().splitlines()[1:-1])
    metadata = (
        "<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' "
        "xmlns:ds='http://www.w3.org/2000/09/xmldsig#' entityID='https://idp.example'>"
        "<md:IDPSSODescriptor protocolSupportEnumeration='urn:oasis:names:tc:SAML:2.0:protocol'>"
        f"<md:KeyDescriptor use='signing'><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{metadata_cert}"
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
    soon = certificate(expires_in=timedelta(days=2))
    path = saml_file(
        tmp_path, "      metadata_xml: |\n", block(metadata), "      certificate: |\n", block(soon)
    )
    found = [(d.code, d.severity, d.line) for d in check_file(path).diagnostics]
    assert found == [
        ("sso-certificate-expired", "error", line_of(path, "metadata_xml:")),
        ("sso-certificate-expiring", "warning", line_of(path, "certificate:")),
    ]


def test_a_run_loads_a_file_whose_certificate_expired_and_the_login_refuses_it(
    tmp_path: Path, saml_idp_identity: SigningIdentity
) -> None:
    # Calendar time moved past the certificate after CI validated the file: the runner and
    # the CLI keep loading it (the HRIS sync must not stop), the SAML login refuses it.
    key = serialization.load_pem_private_key(saml_idp_identity.key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = datetime.now(UTC)
    response = base64.b64encode(saml_response(saml_idp_identity, now=now, assertion_id="_fresh"))

    def method_with(pem: str) -> tuple[Path, SamlSso]:
        path = pinned(tmp_path, pem)
        config = load_config(path)
        assert config.cornerstone is not None and config.cornerstone.sso is not None
        assert isinstance(config.cornerstone.sso.method, SamlSso)
        return path, config.cornerstone.sso.method

    path, expired = method_with(certificate(expires_in=-timedelta(hours=1), key=key))
    assert check_file(path).config is None, "validate refuses it"
    catalog = ConfigCatalog(tmp_path, SilentReporter())
    assert list(catalog.refresh()) == ["acme"]
    with pytest.raises(SsoRefused) as refused:
        verify_saml_response(response, expired, replay=MemoryReplayCache(), now=now)
    assert refused.value.reason == "certificate_expired"

    # The same key under a current certificate: the very same response is accepted.
    _, current = method_with(certificate(expires_in=timedelta(days=90), key=key))
    identity = verify_saml_response(response, current, replay=MemoryReplayCache(), now=now)
    assert identity.email == "ada@example.com"
