"""``lmsync run-now CUSTOMER --env ENV``: the SA's "please run the sync", done right away.

The customer file is found the way the runner finds it (``<configs>/<slug>.yaml``, the
deployed folder by default ``customers/``); the run takes the customer's lock so it never
overlaps a scheduled run, is recorded in the history (``lmsync runs``) and sends the recap
e-mail to ``hris.notify`` like a scheduled run. Everything else is ``lmsync sync``'s.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from engine.cli.sync import add_sync_arguments, execute
from engine.config.loader import CUSTOMER_FILE_SUFFIXES, load_config
from engine.console import Reporter
from engine.errors import ConfigError
from engine.runner.notify import RecapMailer, SmtpSettings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run-now",
        help="run a deployed customer's sync now (manual sync, recorded, with recap e-mail)",
        description="Run CUSTOMER's HRIS sync now, from <configs>/CUSTOMER.yaml, under the "
        "customer's lock (never beside a scheduled run). Recorded in `lmsync runs`; the recap "
        "e-mail goes to hris.notify when LMSYNC_SMTP_URL is set. Exit codes as `lmsync sync`.",
    )
    parser.add_argument("customer", metavar="CUSTOMER", help="the customer's slug")
    parser.add_argument(
        "--configs",
        type=Path,
        default=Path("customers"),
        metavar="DIR",
        help="folder of customer files (default: %(default)s)",
    )
    add_sync_arguments(parser)
    parser.set_defaults(handler=run)


def customer_file(configs: Path, customer: str) -> Path:
    """``<configs>/<customer>.yaml`` (or ``.yml``); a clear error when there is none."""
    if not customer or "/" in customer or "\\" in customer or customer.startswith("."):
        raise ConfigError(f"'{customer}' is not a customer slug", hint="use the slug, e.g. acme")
    for suffix in CUSTOMER_FILE_SUFFIXES:
        path = configs / f"{customer}{suffix}"
        if path.is_file():
            return path
    raise ConfigError(
        f"no customer file {configs / (customer + '.yaml')}",
        hint="check the slug (`ls " + str(configs) + "`) or point --configs at the deployed folder",
    )


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    path = customer_file(args.configs, args.customer)
    config = load_config(path)
    settings = SmtpSettings.from_environ(os.environ)
    if settings is None:
        reporter.info("LMSYNC_SMTP_URL is not set: no recap e-mail is sent")
    return execute(
        config,
        args.env,
        config_path=path,
        state=args.state,
        reporter=reporter,
        allow_deletions=args.allow_deletions,
        mailer=RecapMailer(settings) if settings is not None else None,
    )
