"""``lmsync cornerstone ...``: the Cornerstone connector's commands, one library call each.

- ``catalog CONFIG --env ENV``: print the course-list feed (JSON) built from the LMS now.
- ``feed CONFIG --env ENV``: serve that feed, authenticated, until interrupted.
- ``completions CONFIG --env ENV [--day YYYY-MM-DD] [--dry-run]``: push a day's completions.
- ``sandbox``: serve a local Cornerstone portal (test instance) until interrupted.

Secrets are resolved from the customer file's references only when a command needs them and
are never printed; learners appear by LMS id only.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.cornerstone.client import CornerstoneClient
from connectors.cornerstone.feed_server import FeedServer, feed_route
from connectors.cornerstone.lms_adapter import LmsCourseSource
from connectors.cornerstone.poller import BasicCredentials, CatalogPoller, OAuthCredentials
from connectors.cornerstone.sandbox import CornerstoneSandbox
from connectors.lms.client import LmsClient
from engine.config.loader import load_config
from engine.config.models import CustomerConfig, Environment
from engine.config.secrets import resolve_secret
from engine.console import Reporter
from engine.cornerstone.catalog import build_feed
from engine.cornerstone.job import run_completions
from engine.cornerstone.ledger import DEFAULT_LEDGER, CompletionLedger
from engine.errors import ConfigError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "cornerstone",
        help="Cornerstone connector: catalog feed, daily completions, local portal",
        description="The Cornerstone OnDemand connector: the course-list feed Cornerstone pulls, the "
        "daily push of completions to transcripts, and a local sandbox portal.",
    )
    commands = parser.add_subparsers(dest="cornerstone_command", metavar="SUBCOMMAND", required=True)

    catalog = commands.add_parser("catalog", help="print the catalog feed (JSON) built from the LMS")
    _config_args(catalog)
    catalog.set_defaults(handler=run_catalog)

    feed = commands.add_parser("feed", help="serve the catalog feed until interrupted")
    _config_args(feed)
    feed.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    feed.add_argument("--port", type=int, default=8371, help="port (0: any free port; default 8371)")
    feed.set_defaults(handler=run_feed)

    completions = commands.add_parser("completions", help="push a day's completions to transcripts")
    _config_args(completions)
    completions.add_argument("--day", type=date.fromisoformat, help="local day to push (default: yesterday)")
    completions.add_argument("--dry-run", action="store_true", help="plan and print, push nothing")
    completions.add_argument(
        "--ledger",
        type=Path,
        default=DEFAULT_LEDGER,
        help=f"pushed-completions ledger (default {DEFAULT_LEDGER})",
    )
    completions.set_defaults(handler=run_completions_command)

    sandbox = commands.add_parser("sandbox", help="serve a local Cornerstone portal until interrupted")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8370, help="port (0: any free port; default 8370)")
    sandbox.add_argument("--db", type=Path, default=Path("cornerstone-sandbox.sqlite"), help="SQLite file")
    sandbox.add_argument("--rate-limit", type=int, default=1000, help="calls per window per API route")
    sandbox.add_argument(
        "--window-seconds", type=float, default=3600.0, help="throttling window (default 1 h)"
    )
    sandbox.add_argument("--client-id", default="lmsync", help="API client id to register (default lmsync)")
    sandbox.add_argument("--client-secret", help="its secret (default: generated and printed)")
    sandbox.add_argument("--feed", help="catalog feed URL the portal pulls on POST /admin/catalog/poll")
    sandbox.add_argument("--feed-user", help="Basic user for --feed (password from --feed-secret-env)")
    sandbox.add_argument(
        "--feed-token-url", help="OAuth2 token URL for --feed (client from --feed-client-id)"
    )
    sandbox.add_argument("--feed-client-id", help="OAuth2 client id for --feed")
    sandbox.add_argument(
        "--feed-secret-env",
        default="CSOD_FEED_SECRET",
        help="environment variable holding the feed password or client secret",
    )
    sandbox.set_defaults(handler=run_sandbox)


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, metavar="CONFIG", help="customer file")
    parser.add_argument("--env", default="test", help="environment (default: test)")


def _environment(config: CustomerConfig, name: str) -> Environment:
    if name not in config.environments:
        known = ", ".join(sorted(config.environments))
        raise ConfigError(f"{config.customer}: no environment '{name}'", hint=f"use one of: {known}")
    return config.environments[name]


def _lms(config: CustomerConfig, env: Environment, base_dir: Path) -> LmsClient:
    return LmsClient(
        env.lms.url,
        resolve_secret(env.lms.client_id, base_dir=base_dir, what="lms.client_id"),
        resolve_secret(env.lms.client_secret, base_dir=base_dir, what="lms.client_secret"),
    )


def _section(config: CustomerConfig, name: str, path: Path) -> Any:
    section = getattr(config.cornerstone, name, None) if config.cornerstone else None
    if section is None or not section.enabled:
        raise ConfigError(
            f"{path}: cornerstone.{name} is not set or not enabled", hint=f"add a cornerstone.{name}"
        )
    return section


def run_catalog(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    catalog = _section(config, "catalog", args.config)
    with _lms(config, _environment(config, args.env), args.config.parent) as lms:
        feed = build_feed(LmsCourseSource(lms).iter_courses(), catalog)
    sys.stdout.write(json.dumps(feed, ensure_ascii=False, indent=2) + "\n")
    reporter.info(f"{config.customer}: {len(feed)} course(s), {sum(1 for i in feed if i['IsActive'])} active")
    return 0


def _serve_until_interrupted() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def run_feed(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    catalog = _section(config, "catalog", args.config)
    with _lms(config, _environment(config, args.env), args.config.parent) as lms:
        route = feed_route(config.customer, catalog, LmsCourseSource(lms), base_dir=args.config.parent)
        server = FeedServer([route], host=args.host, port=args.port).start()
        reporter.info(f"catalog feed: {server.feed_url(config.customer)}")
        if catalog.auth.type == "oauth2":
            reporter.info(f"token URL:    {server.token_url(config.customer)}")
        try:
            _serve_until_interrupted()
        finally:
            server.stop()
    return 0


def run_completions_command(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    settings = _section(config, "completions", args.config)
    env = _environment(config, args.env)
    if env.cornerstone is None:
        raise ConfigError(f"{args.config}: environment '{args.env}' has no cornerstone endpoint")
    ledger = CompletionLedger(args.ledger)
    portal = (
        None
        if args.dry_run
        else CornerstoneClient.from_endpoint(env.cornerstone, base_dir=args.config.parent)
    )
    try:
        with _lms(config, env, args.config.parent) as lms:
            source = LmsCourseSource(lms)
            run = run_completions(
                customer=config.customer,
                settings=settings,
                source=source,
                ids=source,
                target=portal,
                ledger=ledger,
                reporter=reporter,
                now=datetime.now(UTC),
                day=args.day,
                dry_run=args.dry_run,
            )
    finally:
        ledger.close()
        if portal is not None:
            portal.close()
    plan = run.plan
    summary: dict[str, Any] = {
        "customer": config.customer,
        "day": plan.window.day.isoformat(),
        "timezone": plan.window.timezone,
        "dry_run": args.dry_run,
        "to_push": [{"course": c.key.course_id, "user": c.key.user_id} for c in plan.completions],
        "already_pushed": plan.already_pushed,
        "in_progress": [{"course": p.course_id, "user": p.user_id} for p in plan.progress],
    }
    if run.report is not None:
        summary["pushed"] = len(run.report.pushed)
        summary["unmatched"] = [
            {"course": u.course_id, "user": u.user_id, "reason": u.reason} for u in run.report.unmatched
        ]
        summary["failed"] = [{"course": c, "user": u, "reason": r} for c, u, r in run.report.failed]
    else:
        summary["unmatched"] = [
            {"course": u.course_id, "user": u.user_id, "reason": u.reason} for u in plan.unmatched
        ]
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 1 if run.report is not None and run.report.failed else 0


def run_sandbox(args: argparse.Namespace, reporter: Reporter) -> int:
    secret = args.client_secret or secrets.token_urlsafe(18)
    sandbox = CornerstoneSandbox(
        args.db,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        window_seconds=args.window_seconds,
    )
    sandbox.store.add_client(
        args.client_id,
        secret,
        "employee:read transcript:read transcript:update learningassignment:read learningassignment:update",
    )
    if args.feed:
        feed_secret = resolve_secret(f"env:{args.feed_secret_env}", what="--feed-secret-env")
        credentials: BasicCredentials | OAuthCredentials
        if args.feed_token_url:
            credentials = OAuthCredentials(args.feed_token_url, args.feed_client_id or "", feed_secret)
        else:
            credentials = BasicCredentials(args.feed_user or "", feed_secret)
        sandbox.add_feed(CatalogPoller(sandbox.store, args.feed, credentials))
    sandbox.start()
    reporter.info(f"Cornerstone sandbox portal: {sandbox.url}")
    if args.feed:
        reporter.info(f"pull the catalog feed: POST {sandbox.url}/admin/catalog/poll")
    reporter.info(f"client_id: {args.client_id}")
    if not args.client_secret:
        # Generated here for a local test portal: showing it once is the point.
        reporter.info(f"client_secret: {SecretStr(secret).get_secret_value()}")
    reporter.info('seed employees: POST /admin/employees [{"externalId": ...}]; Ctrl-C stops')
    try:
        _serve_until_interrupted()
    finally:
        sandbox.stop()
    return 0
