"""``lmsync runner``: run the scheduled syncs; ``lmsync runner resume CUSTOMER``: lift a quarantine.

A thin shell: it opens the state store, builds the Runner with the system clock and the
SMTP settings from the environment, and turns SIGTERM/SIGINT into a clean stop (no new work,
the running jobs finish or journal, exit 0). Besides the HRIS sync, the Runner pushes each
customer's Cornerstone completions daily; with ``--feed-port`` this process also serves every
customer's Cornerstone catalog feed. It must never decide what runs: the Runner does.
"""

from __future__ import annotations

import argparse
import os
import signal
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from connectors.cornerstone.feed_host import RunnerFeeds
from engine.console import Reporter
from engine.cornerstone import runner_job as cornerstone_job
from engine.cornerstone.ledger import DEFAULT_LEDGER
from engine.errors import ConfigError, StateError, UsageError
from engine.runner.clock import SystemClock
from engine.runner.jobs import DEFAULT_JOB, load_job
from engine.runner.notify import RecapMailer, SmtpSettings
from engine.runner.runner import Runner, RunnerSettings
from engine.state import DEFAULT_STATE_URL, StateStore
from engine.state.store import redacted_url


def state_url_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        default=os.environ.get("LMSYNC_STATE_URL", DEFAULT_STATE_URL),
        metavar="URL",
        help="state store: sqlite:///path or postgresql://user@host/db "
        "(default: $LMSYNC_STATE_URL, else %(default)s)",
    )


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "runner",
        help="run every customer's scheduled syncs (or: runner resume CUSTOMER)",
        description="Load every customer file under --configs and run each customer's syncs at its "
        "scheduled times. SIGTERM stops cleanly. `lmsync runner resume CUSTOMER` lifts a quarantine.",
    )
    parser.add_argument("--configs", type=Path, metavar="DIR", help="folder of customer files")
    state_url_argument(parser)
    parser.add_argument(
        "--once",
        action="store_true",
        help="run what is due now, wait for it, exit (1 if a run it started failed)",
    )
    parser.add_argument("--max-workers", type=int, default=2, metavar="N", help="customers run at once")
    parser.add_argument(
        "--environment",
        default="production",
        help="environment synced; a customer file without it is not run (default: %(default)s)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=15.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    parser.add_argument("--lock-ttl", type=float, default=60.0, metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument(
        "--job",
        default=os.environ.get("LMSYNC_RUNNER_JOB", DEFAULT_JOB),
        metavar="MODULE:FUNCTION",
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--feed-port",
        type=int,
        metavar="PORT",
        help="also serve every customer's Cornerstone catalog feed on PORT (0: any free port), at "
        "/cornerstone/{customer}/courses; not with --once",
    )
    parser.add_argument(
        "--feed-host",
        default="127.0.0.1",
        help="address the feed binds (default %(default)s; behind a proxy)",
    )
    parser.add_argument(
        "--cornerstone-ledger",
        type=Path,
        default=Path(os.environ.get(cornerstone_job.LEDGER_ENV) or DEFAULT_LEDGER),
        metavar="PATH",
        help=f"pushed-completions ledger (default: ${cornerstone_job.LEDGER_ENV}, else %(default)s)",
    )
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(dest="runner_action", metavar="ACTION")
    resume = actions.add_parser("resume", help="lift a customer's quarantine and run it at the next tick")
    resume.add_argument("customer", metavar="CUSTOMER")
    state_url_argument(resume)
    resume.set_defaults(handler=run_resume)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.configs is None:
        raise UsageError("--configs is required", hint="lmsync runner --configs /srv/lmsync/current")
    if args.once:
        # One pass over a folder that is not there would "run nothing" and exit 0, hiding a
        # typo from cron. The long-running runner re-checks the folder every tick instead
        # (a deploy may be switching the `current` link) and warns while it is missing.
        readable_folder(args.configs)
    if args.max_workers < 1:
        raise ConfigError("--max-workers must be at least 1")
    if args.feed_port is not None and args.once:
        raise ConfigError(
            "--feed-port serves Cornerstone's pulls while the runner runs: it cannot go with --once",
            hint="drop --once, or serve one customer's feed with `lmsync cornerstone feed`",
        )
    job = load_job(args.job)
    settings = SmtpSettings.from_environ(os.environ)
    feeds = (
        RunnerFeeds(args.environment, reporter, host=args.feed_host, port=args.feed_port)
        if args.feed_port is not None
        else None
    )
    store = StateStore.open(args.state)
    runner = Runner(
        args.configs,
        store,
        job,
        SystemClock(),
        settings=RunnerSettings(
            environment=args.environment,
            max_workers=args.max_workers,
            lock_ttl=timedelta(seconds=args.lock_ttl),
        ),
        mailer=RecapMailer(settings) if settings is not None else None,
        reporter=reporter,
        daily_jobs=[cornerstone_job.daily_job(args.cornerstone_ledger)],
        config_listeners=[feeds.update] if feeds is not None else [],
    )
    if settings is None:
        reporter.info("LMSYNC_SMTP_URL is not set: recap e-mails are not sent")

    def stop(signum: int, _frame: FrameType | None) -> None:
        reporter.info(f"{signal.Signals(signum).name}: finishing the running jobs, taking no new work")
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed: list[str] = []
    try:
        if args.once:
            started = runner.run_once()
            failed = runner.failed
            runner.close()
            reporter.info(f"ran: {', '.join(started) if started else 'nothing was due'}")
            if failed:
                reporter.warn(f"failed: {', '.join(failed)} (`lmsync runs` shows why)")
        else:
            reporter.info(f"runner {runner.owner} started on {args.configs}")
            if feeds is not None:
                feeds.start()
                reporter.info(
                    f"Cornerstone catalog feeds on {feeds.server.url}/cornerstone/{{customer}}/courses"
                )
            runner.run_forever(poll_interval=args.poll_interval)
            reporter.info("runner stopped")
    finally:
        if feeds is not None:
            feeds.stop()
        store.close()
    # Cron and systemd see a failed run only through the exit code.
    return 1 if failed else 0


def readable_folder(path: Path) -> None:
    """Raise a ConfigError naming ``path`` and ``--configs`` unless it is a folder we can list."""
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            f"--configs {path}: the configuration folder {what}",
            hint="give the folder holding the customer files (e.g. /srv/lmsync/current)",
        )
    try:
        with os.scandir(path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--configs {path}: cannot read the configuration folder ({exc.strerror})",
            hint="let the runner's user read and list it",
        ) from exc


def run_resume(args: argparse.Namespace, reporter: Reporter) -> int:
    store = StateStore.open_existing(args.state)
    if store is None:
        raise StateError(
            f"{args.customer}: unknown to the state store: {redacted_url(args.state)} does not exist",
            hint="give the runner's store with --state or $LMSYNC_STATE_URL",
        )
    try:
        known = [s.customer for s in store.customer_statuses()]
        if args.customer not in known and not store.list_runs(args.customer, limit=1):
            shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
            raise StateError(
                f"{args.customer}: unknown to the state store {redacted_url(args.state)} "
                f"(the runner has never run it); nothing was changed",
                hint=f"known customers: {shown}; `lmsync runs` lists them"
                if known
                else "no customer is known yet; check --state, or `lmsync runs` to list runs",
            )
        was = store.resume(args.customer, run_at=SystemClock().now())
    finally:
        store.close()
    if was:
        reporter.info(f"{args.customer}: quarantine lifted; the runner runs it at its next tick")
    else:
        reporter.info(f"{args.customer}: was not quarantined; a run is requested at the next tick")
    return 0
