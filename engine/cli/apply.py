"""``lmsync apply CONFIG --env ENV --input FILE``: plan the file against the LMS and apply it.

A thin shell over ``engine.apply``: it takes the customer's lock (a lease renewed while it
works, so a crashed apply frees it), continues an unfinished run of the same file and
environment instead of starting a new one, applies, stores the run's counts and per-user
report, writes the run log (``<run id>.json`` and ``.csv`` under ``runs/`` beside the SQLite
state, ``.lmsync/runs`` otherwise) and prints what was done. Ctrl-C or SIGTERM stops between
two actions; the run is then ``interrupted`` and the next ``apply`` of the file completes it.

Exit codes: 0 applied, 1 error or some action failed or interrupted, 3 the deletion guard
tripped (nothing written). It must never print an e-mail or a name.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from connectors.lms.target import LmsTarget
from engine.apply import FileOutcome, apply_hris_file, write_run_log
from engine.apply.session import LOCK_TTL, open_apply_run, runs_directory
from engine.cli.plan import common_arguments, read_input
from engine.config.loader import load_config
from engine.console import Reporter
from engine.errors import LmsyncError
from engine.hris import DeletionGuardTrippedError
from engine.runner.clock import SystemClock
from engine.runner.lease import LeaseKeeper
from engine.runner.runner import lock_name
from engine.state import StateStore

EXIT_OK, EXIT_FAILED, EXIT_GUARD = 0, 1, 3
#: Problem lines printed after the summary; the run log holds them all.
SHOWN_PROBLEMS = 20


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply",
        help="apply an HRIS file to the LMS (journaled, resumable)",
        description="Plan the HRIS file against the environment's LMS and apply the plan. An "
        "interrupted apply of the same file is resumed. Exit code: 0 applied, 1 error or failed "
        "actions, 3 deletion guard tripped (nothing written).",
    )
    common_arguments(parser)
    parser.add_argument(
        "--lock-ttl", type=float, default=LOCK_TTL.total_seconds(), metavar="SECONDS", help=argparse.SUPPRESS
    )
    parser.set_defaults(handler=run)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C/SIGTERM asks for a stop between actions; a second one aborts."""

    def ask(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, ask) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    base_dir = args.config.parent
    if config.hris is None:
        reporter.warn(f"{config.customer}: no `hris` section; nothing to apply")
        return EXIT_FAILED
    data, file_name, raw_sha256 = read_input(args.input, config, base_dir)
    clock = SystemClock()
    ttl = timedelta(seconds=args.lock_ttl)
    owner = f"lmsync apply@{socket.gethostname()}:{os.getpid()}"
    store = StateStore.open(args.state)
    try:
        session = open_apply_run(
            store,
            config.customer,
            args.env,
            file_name=file_name,
            file_sha256=raw_sha256,
            owner=owner,
            now=clock.now(),
            ttl=ttl,
        )
        run_id = session.run_id
        if session.resumed:
            reporter.info(f"resuming interrupted run {run_id}")
        stop = threading.Event()
        try:
            with (
                _stop_on_signals(stop),
                LeaseKeeper(
                    store,
                    lock_name(config.customer),
                    owner,
                    ttl=ttl,
                    clock=clock,
                    interval=max(ttl.total_seconds() / 3, 0.1),
                    on_lost=stop,
                ),
                LmsTarget.from_config(config, args.env, base_dir=base_dir) as target,
            ):
                outcome = apply_hris_file(
                    config,
                    args.env,
                    data,
                    file_name=file_name,
                    store=store,
                    run_id=run_id,
                    reporter=reporter,
                    allow_deletions=args.allow_deletions,
                    stop_requested=stop.is_set,
                    now=clock.now,
                    target=target,
                )
        except DeletionGuardTrippedError as exc:
            store.finish_run(run_id, "failed", counts={}, error=exc.message, now=clock.now())
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_GUARD
        except LmsyncError as exc:
            store.finish_run(run_id, "failed", counts={}, error=str(exc), now=clock.now())
            raise
        finally:
            store.release_lock(lock_name(config.customer), owner)
        store.save_report(run_id, outcome.report)
        store.finish_run(
            run_id, outcome.status, counts=outcome.counts, error=_error(outcome), now=clock.now()
        )
        log_json, log_csv = write_run_log(
            runs_directory(args.state),
            run_id,
            outcome,
            customer=config.customer,
            environment=args.env,
            file_name=file_name,
        )
    finally:
        store.close()
    sys.stdout.write(
        _summary(
            config.customer, args.env, file_name, run_id=run_id, outcome=outcome, logs=(log_json, log_csv)
        )
    )
    for line in outcome.problems[:SHOWN_PROBLEMS]:
        reporter.warn(line)
    if len(outcome.problems) > SHOWN_PROBLEMS:
        reporter.warn(f"… and {len(outcome.problems) - SHOWN_PROBLEMS} more problem(s): see {log_json}")
    if outcome.status == "interrupted":
        reporter.warn(f"run {run_id} was interrupted; run the same command again to complete it")
    return EXIT_OK if outcome.status == "succeeded" else EXIT_FAILED


def _error(outcome: FileOutcome) -> str | None:
    if outcome.status == "succeeded":
        return None
    if outcome.status == "interrupted":
        return "interrupted before every action was applied"
    return f"{outcome.counts.get('failed', 0)} user(s) failed"


def _summary(
    customer: str, env: str, file_name: str, *, run_id: str, outcome: FileOutcome, logs: tuple[Any, Any]
) -> str:
    c = outcome.counts
    return (
        f"{customer} ({env}): {file_name} {outcome.status} — run {run_id}\n"
        f"  {c['created']} created, {c['updated']} updated, {c['restored']} restored, "
        f"{c['deleted']} deleted, {c['unchanged']} unchanged, {c['failed']} failed\n"
        f"  rows set aside: {c['duplicated']} duplicated, {c['ignored']} ignored, "
        f"{c['filtered_out']} filtered out"
        + (f"; {c['no_group_rule']} matched no group rule\n" if c["no_group_rule"] else "\n")
        + f"  log: {logs[0]}\n       {logs[1]}\n"
    )
