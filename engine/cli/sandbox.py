"""``lmsync sandbox [serve]``: serve the sandbox LMS (the embedded test instance) until interrupted.

It prints the URL, the client id/secret a customer file's ``test`` environment uses, and
the admin token of the ``/_sandbox/`` surface. With ``--customers DIR`` it also answers SSO
logins (JWT links, SAML posts) for the customer files in DIR, with a replay cache beside its
database, and creates the groups their first logins join when the sandbox lacks them.
Ctrl-C or SIGTERM stops it cleanly. This command must never bind anything but the host it is
given (loopback by default).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.sandbox import Faults, RateLimits, SandboxServer
from connectors.sandbox_sso.customers import Listener, SsoCustomers
from connectors.sandbox_sso.sandbox_routes import SsoCustomer, ensure_provision_groups, sso_routes
from engine.console import Reporter
from engine.cornerstone.replay import SqliteReplayCache
from engine.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a local LMS test instance (API v2 on SQLite)",
        description="Serve the sandbox LMS: the API v2 contract on SQLite, with rate limits and "
        "optional injected faults. Data persists in --db across restarts. With --customers, it "
        "also accepts the SSO logins of those customer files.",
    )
    parser.add_argument(
        "action", nargs="?", choices=["serve"], default="serve", help="serve (the default, may be omitted)"
    )
    parser.add_argument("--port", type=int, default=8360, help="port (0: any free port; default 8360)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("sandbox.sqlite"),
        help="SQLite file, created if absent (default: sandbox.sqlite in the current directory)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="lift the 50 GET/s and 10 writes/s limits"
    )
    parser.add_argument("--client-id", help="use this client id (default: generated once per --db)")
    parser.add_argument("--client-secret", help="use this client secret (default: generated once per --db)")
    parser.add_argument("--admin-token", help="use this admin token (default: generated once per --db)")
    for name, help_text in (
        ("5xx", "share of API requests answered 5xx"),
        ("429", "share of API requests answered 429 tooManyRequests"),
        ("slow", "share of API requests answered late (see --slow-seconds)"),
        ("drop", "share of API requests whose connection is dropped without an answer"),
    ):
        parser.add_argument(f"--fault-{name}", type=_share, default=0.0, metavar="SHARE", help=help_text)
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow answer (default 2)")
    parser.add_argument(
        "--customers",
        type=Path,
        metavar="DIR",
        help="answer SSO logins (GET /api/sso/jwt/{customer}, POST /api/sso/saml/{customer}/acs) "
        "for the customer files in DIR; edits are picked up on the next login",
    )
    parser.set_defaults(handler=run)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def replay_cache_path(db: Path) -> Path:
    """Where used login-token ids are remembered: beside the database, so a restart keeps them."""
    return db.with_name(f"{db.stem}.sso-replay.sqlite")


def _announce_groups(server: SandboxServer, reporter: Reporter) -> Listener:
    """Give new or edited SSO customers their provision group, and say which were created."""

    def announce(changed: Mapping[str, SsoCustomer]) -> None:
        for slug, group in ensure_provision_groups(server.db, changed.values()):
            reporter.info(f"{slug}: group {group} created in the sandbox for first SSO logins")

    return announce


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    customers: SsoCustomers | None = None
    replay: SqliteReplayCache | None = None
    if args.customers is not None:
        if not args.customers.is_dir():
            raise ConfigError(
                f"--customers {args.customers}: not a folder",
                hint="give the folder of customer files, e.g. --customers examples/customers",
            )
        customers = SsoCustomers(args.customers, reporter)
        replay = SqliteReplayCache(replay_cache_path(args.db))
    faults = Faults(
        error_5xx=args.fault_5xx,
        rate_429=args.fault_429,
        slow=args.fault_slow,
        drop=args.fault_drop,
        slow_seconds=args.slow_seconds,
    )
    server = SandboxServer(
        args.db,
        host=args.host,
        port=args.port,
        rate_limits=RateLimits(enabled=not args.no_rate_limit),
        faults=faults,
        client_id=args.client_id,
        client_secret=args.client_secret,
        admin_token=args.admin_token,
        public_routes=sso_routes(customers, replay) if customers and replay else (),
    )
    if customers is not None:
        customers.on_change = _announce_groups(server, reporter)
        customers.refresh()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start()
        # Printed on stdout on purpose: these are the sandbox's own demo credentials, and a
        # script starting the sandbox reads its URL from here.
        sys.stdout.write(
            f"sandbox LMS listening on {server.url}\n"
            f"  client id:      {server.client_id}\n"
            f"  client secret:  {server.client_secret}\n"
            f"  admin token:    {server.admin_token} (header X-Sandbox-Admin-Token, paths /_sandbox/...)\n"
            f"  platform group: {server.platform_group_id}\n"
            f"  database:       {args.db}\n"
        )
        if customers is not None:
            with_sso = customers.with_sso()
            sys.stdout.write(
                f"  SSO logins:     {', '.join(with_sso) or 'none'} (from {args.customers}): "
                f"GET {server.url}/api/sso/jwt/{{customer}}?jwt=..., "
                f"POST {server.url}/api/sso/saml/{{customer}}/acs\n"
            )
            if not with_sso:
                reporter.warn(f"no customer file in {args.customers} has a cornerstone.sso section")
        sys.stdout.flush()
        limits = "off" if args.no_rate_limit else "50 GET/s, 10 writes/s"
        reporter.info(f"rate limits {limits}; Ctrl-C stops")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        if replay is not None:
            replay.close()
    reporter.info("sandbox stopped")
    return 0
