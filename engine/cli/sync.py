"""``lmsync sync CONFIG --env ENV``: process the customer's pending HRIS files now.

A thin shell over ``engine.sync.run_manual``: it loads the customer file, opens the state
store, turns Ctrl-C/SIGTERM into a clean stop (the current action finishes, the rest stays
journaled for the next run), prints one summary line per file on stdout, writes the run log,
and maps the outcome to an exit code: 0 done (or nothing to do), 1 a file-level error or
failed actions, 3 the deletion guard stopped the run, 130 stopped before the end.
``lmsync run-now`` shares everything here but how the customer file is found.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from engine.apply.session import runs_directory
from engine.cli.runner import state_url_argument
from engine.config.loader import load_config
from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.errors import ConfigError
from engine.runner.clock import SystemClock
from engine.runner.notify import RecapMailer
from engine.state import StateStore
from engine.sync import ManualRun, run_manual, summary_lines, write_sync_log

EXIT_OK, EXIT_FAILED, EXIT_GUARD, EXIT_STOPPED = 0, 1, 3, 130


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sync",
        help="process a customer's pending HRIS files now, oldest first",
        description="Fetch the customer's pending HRIS files from its source, oldest first, and "
        "plan and apply each into the environment. A file already processed is skipped; the first "
        "file-level error stops the run and later files wait. Exit 0 done, 1 error or failed "
        "actions, 3 deletion guard tripped, 130 stopped.",
    )
    parser.add_argument("config", type=Path, metavar="CONFIG", help="the customer file")
    add_sync_arguments(parser)
    parser.set_defaults(handler=run)


def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, metavar="ENV", help="environment to write to (e.g. test)")
    state_url_argument(parser)
    parser.add_argument(
        "--allow-deletions",
        type=int,
        metavar="N",
        help="let each file's plan delete up to N managed users, above hris.safety.max_deletions",
    )


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    return execute(
        config,
        args.env,
        config_path=args.config,
        state=args.state,
        reporter=reporter,
        allow_deletions=args.allow_deletions,
    )


def execute(
    config: CustomerConfig,
    environment: str,
    *,
    config_path: Path,
    state: str,
    reporter: Reporter,
    allow_deletions: int | None,
    mailer: RecapMailer | None = None,
) -> int:
    """Run the sync, print its summary, write its log; returns the exit code."""
    if allow_deletions is not None and allow_deletions < 0:
        raise ConfigError("--allow-deletions must be 0 or more")
    stop = threading.Event()
    store = StateStore.open(state)
    try:
        with stop_on_signals(stop, reporter):
            manual = run_manual(
                config,
                environment,
                config_path=config_path,
                store=store,
                clock=SystemClock(),
                reporter=reporter,
                allow_deletions=allow_deletions,
                stop_event=stop,
                mailer=mailer,
            )
    finally:
        store.close()
    paths = write_sync_log(
        runs_directory(state),
        manual.run_id,
        customer=config.customer,
        environment=environment,
        outcome=manual.outcome,
        error=manual.error_text,
    )
    print_summary(manual, config.customer, environment, paths)
    return exit_code(manual)


def print_summary(manual: ManualRun, customer: str, environment: str, paths: tuple[Path, Path]) -> None:
    outcome = manual.outcome
    resumed = ", completed from its journal" if manual.resumed else ""
    lines = [f"run {manual.run_id} ({customer}, {environment}{resumed}): {outcome.status}"]
    lines += [f"  {line}" for line in summary_lines(outcome)]
    lines.append(f"run log: {paths[0]} and {paths[1]}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    if manual.error_text:
        sys.stderr.write(f"error: {manual.error_text}\n")


def exit_code(manual: ManualRun) -> int:
    outcome = manual.outcome
    if not manual.recorded:
        return EXIT_FAILED
    if outcome.guard_tripped:
        return EXIT_GUARD
    if outcome.status == "failed":
        return EXIT_FAILED
    if outcome.status == "interrupted":
        return EXIT_STOPPED
    return EXIT_OK


@contextmanager
def stop_on_signals(stop: threading.Event, reporter: Reporter) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM asks the run to stop at the next action; a second aborts."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        reporter.warn(
            f"{signal.Signals(signum).name}: stopping after the current action; the next run "
            "completes this one (press Ctrl-C again to abort at once)"
        )

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; a caller elsewhere stops through ``stop``
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
