"""``lmsync sandbox``: serve the sandbox LMS (the embedded test instance) until interrupted.

It prints the URL, the client id/secret a customer file's ``test`` environment uses, and
the admin token of the ``/_sandbox/`` surface. Ctrl-C or SIGTERM stops it cleanly. This
command must never bind anything but the host it is given (loopback by default).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from connectors.sandbox import Faults, RateLimits, SandboxServer
from engine.console import Reporter


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a local LMS test instance (API v2 on SQLite)",
        description="Serve the sandbox LMS: the API v2 contract on SQLite, with rate limits and "
        "optional injected faults. Data persists in --db across restarts.",
    )
    parser.add_argument("--port", type=int, default=8360, help="port (0: any free port; default 8360)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--db", type=Path, default=Path("sandbox.sqlite"), help="SQLite file (created if absent)"
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
    parser.set_defaults(handler=run)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def run(args: argparse.Namespace, reporter: Reporter) -> int:
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
    )
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
    reporter.info("sandbox stopped")
    return 0
