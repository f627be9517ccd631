"""``lmsync run-now CUSTOMER --env ENV``: the SA's "please run the sync", done right away.

The customer file is found the way the runner finds it: the runner's catalog of every
customer file under ``<configs>`` (subfolders included; the deployed folder, by default
``customers/``), by the slug the file declares; two files for one slug are refused. The run
takes the customer's lock so it never overlaps a scheduled run, is recorded in the history
(``lmsync runs``) and sends the recap e-mail to ``hris.notify`` like a scheduled run.
Everything else is ``lmsync sync``'s.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, cast

from engine.cli.sync import add_sync_arguments, execute
from engine.config.loader import load_config
from engine.console import Reporter, SilentReporter
from engine.errors import ConfigError
from engine.runner.catalog import ConfigCatalog
from engine.runner.notify import RecapMailer, SmtpSettings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run-now",
        help="run a deployed customer's sync now (manual sync, recorded, with recap e-mail)",
        description="Run CUSTOMER's HRIS sync now, from its file under <configs> (found as the "
        "runner finds it, subfolders included), under the "
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
    """The one file under ``configs`` (recursively) the runner would run ``customer`` from; a
    clear error when there is none, or more than one."""
    if not customer or "/" in customer or "\\" in customer or customer.startswith("."):
        raise ConfigError(f"'{customer}' is not a customer slug", hint="use the slug, e.g. acme")
    if not configs.is_dir():
        raise ConfigError(
            f"--configs {configs}: the configuration folder does not exist or is not a folder",
            hint="point --configs at the deployed folder (e.g. /srv/lmsync/current)",
        )
    # Silent: the other customers' invalid files are not this command's business, unless the
    # customer asked for is not found (then they are counted in the hint).
    catalog = ConfigCatalog(configs, cast(Reporter, SilentReporter()))
    catalog.refresh()
    paths = catalog.files_of(customer)
    if len(paths) > 1:
        raise ConfigError(
            f"customer '{customer}' is defined by {len(paths)} files under {configs}: "
            + ", ".join(str(p) for p in paths),
            hint="keep one file per customer (`lmsync validate` reports the duplicate); the "
            "runner would run only one of them",
        )
    if paths:
        return paths[0]
    invalid = len(catalog.problems)
    raise ConfigError(
        f"no customer file for '{customer}' under {configs} (subfolders included)",
        hint=f"{invalid} file(s) there are invalid, maybe this one: `lmsync validate {configs}`"
        if invalid
        else "check the slug (the `customer:` of its file) or point --configs at the deployed folder",
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
