"""``lmsync sso ...``: test and check a customer's single sign-on.

- ``jwt-link CONFIG --env ENV --email E``: a one-time login link signed like the IdP would
  (HS256 with the configured secret, ``iat``/``exp``/``jti``), to try a login or a first-login
  provisioning against the environment's LMS.
- ``check CONFIG``: the offline SSO checks ``lmsync validate`` also runs (certificate expiry,
  metadata), printed one per line.

The link is a credential for one login until it expires: it goes to stdout only, never to a
log. The secret itself is never printed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.config.loader import load_config
from engine.config.models import CustomerConfig, JwtSso, Sso
from engine.config.secrets import resolve_secret
from engine.console import Reporter
from engine.cornerstone.sso_check import check_sso
from engine.cornerstone.sso_jwt import make_login_token
from engine.errors import ConfigError, UsageError
from engine.hris.rows import normalize_email


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sso",
        help="single sign-on: test login links and offline checks",
        description="Single sign-on of the Cornerstone connector (JWT or SAML 2.0).",
    )
    commands = parser.add_subparsers(dest="sso_command", metavar="SUBCOMMAND", required=True)
    link = commands.add_parser("jwt-link", help="print a signed test login link")
    link.add_argument("config", type=Path, metavar="CONFIG", help="customer file")
    link.add_argument("--env", default="test", help="environment whose LMS the link opens (default: test)")
    link.add_argument("--email", required=True, help="e-mail of the user logging in")
    link.add_argument("--first-name", help="first name claim (for a first-login provisioning)")
    link.add_argument("--last-name", help="last name claim")
    link.add_argument("--lifetime", type=int, help="seconds the link stays valid (default: max_age_seconds)")
    link.set_defaults(handler=run_jwt_link)
    check = commands.add_parser("check", help="offline checks of the SSO section")
    check.add_argument("config", type=Path, metavar="CONFIG", help="customer file")
    check.set_defaults(handler=run_check)


def sso_section(config: CustomerConfig, path: Path) -> Sso:
    """The file's ``cornerstone.sso`` section; a file without one is an error, not "OK"."""
    sso = config.cornerstone.sso if config.cornerstone else None
    if sso is None:
        raise ConfigError(
            f"{path}: the file has no `cornerstone.sso` section",
            hint="add cornerstone.sso with a jwt or saml method, or give the customer file that has it",
        )
    return sso


def run_jwt_link(args: argparse.Namespace, reporter: Reporter) -> int:
    # The address is checked before anything else, and never echoed: it is personal data.
    if normalize_email(args.email) is None:
        raise UsageError("--email is not an e-mail address", hint="give the address of the user logging in")
    config = load_config(args.config)
    sso = sso_section(config, args.config)
    if not isinstance(sso.method, JwtSso):
        raise ConfigError(
            f"{args.config}: cornerstone.sso.method is {sso.method.type}, not jwt",
            hint="a test login link is for JWT sign-on; check a SAML setup with `lmsync sso check`",
        )
    if args.env not in config.environments:
        raise ConfigError(
            f"{args.config}: no environment '{args.env}'",
            hint=f"use one of: {', '.join(sorted(config.environments))}",
        )
    secret = resolve_secret(
        sso.method.secret, base_dir=args.config.parent, what="cornerstone.sso.method.secret"
    )
    lifetime = timedelta(seconds=args.lifetime) if args.lifetime else None
    token = make_login_token(
        sso.method,
        secret,
        args.email,
        now=datetime.now(UTC),
        first_name=args.first_name,
        last_name=args.last_name,
        lifetime=lifetime,
    )
    base = config.environments[args.env].lms.url.rstrip("/")
    sys.stdout.write(f"{base}/api/sso/jwt/{quote(config.customer)}?jwt={token}\n")
    reporter.info(
        f"valid for {int((lifetime or timedelta(seconds=sso.method.max_age_seconds)).total_seconds())} s, "
        "for one login"
    )
    return 0


def run_check(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    sso_section(config, args.config)
    findings = check_sso(config)
    for finding in findings:
        sys.stdout.write(f"{args.config}: {'.'.join(finding.path)}: {finding.severity}: {finding.message}\n")
    if not findings:
        reporter.info(f"{args.config}: SSO section OK")
    return 1 if any(f.severity == "error" for f in findings) else 0
