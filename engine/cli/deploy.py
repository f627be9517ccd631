"""``lmsync deploy``: ship the customer files to runner hosts as a release; ``--rollback`` undoes it.

A thin shell: it validates the customer files (printing every finding, as ``lmsync
validate`` does, and refusing an invalid set before any host is contacted), finds the commit,
builds the SSH hosts from the options and prints one line per host. Exit 0 when every host
succeeded, 1 otherwise. It must never print a key, a passphrase or a customer file's content.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.deploy import open_runner_hosts
from engine.cli.validate import chosen_format
from engine.config.diagnostics import render_github, render_text
from engine.console import Reporter
from engine.deploy import (
    DEFAULT_KEEP,
    DeployError,
    HostOutcome,
    InvalidReleaseError,
    collect,
    commit_of,
    deploy,
    parse_address,
    rollback,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "deploy",
        help="upload the customer files to runner hosts as a new release (or --rollback)",
        description="Validate every customer file under --configs, upload them with the commit id as "
        "PATH/releases/<timestamp>-<sha12>/ on each host over SSH, switch PATH/current to it "
        "atomically and keep the last --keep releases. --rollback points current back at the "
        "release before it.",
    )
    parser.add_argument(
        "--host",
        action="append",
        required=True,
        metavar="USER@HOST[:PORT]",
        help="a runner host; repeat for several",
    )
    parser.add_argument("--path", required=True, metavar="DIR", help="the deploy folder on the hosts")
    parser.add_argument(
        "--configs",
        type=Path,
        metavar="DIR",
        help="folder of customer files to deploy (default: customers)",
    )
    parser.add_argument(
        "--sha",
        metavar="SHA",
        help="the commit deployed (default: git rev-parse HEAD); checked: it must be HEAD, or hold "
        "the same customer files, and the folder must have no uncommitted change",
    )
    parser.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help="releases kept for rollback (default: %(default)s; the current and previous are always kept)",
    )
    parser.add_argument(
        "--port", type=int, default=22, metavar="P", help="SSH port of hosts given without one"
    )
    parser.add_argument(
        "--identity",
        metavar="env:NAME|file:PATH",
        help="the deploy private key, by reference (default: the SSH agent and ~/.ssh keys)",
    )
    parser.add_argument(
        "--passphrase", metavar="env:NAME|file:PATH", help="the private key's passphrase, by reference"
    )
    parser.add_argument(
        "--known-hosts",
        type=Path,
        default=Path("~/.ssh/known_hosts"),
        metavar="FILE",
        help="host keys accepted; an unknown host is refused (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per connection and command"
    )
    parser.add_argument(
        "--rollback", action="store_true", help="point current back at the previous release instead"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    addresses = [parse_address(text, default_port=args.port) for text in args.host]
    repeated = sorted({str(a) for a in addresses if addresses.count(a) > 1})
    if repeated:
        raise DeployError(f"--host {repeated[0]} is given more than once")
    bundle = None
    if args.rollback:
        given = [flag for flag, value in (("--configs", args.configs), ("--sha", args.sha)) if value]
        if given:
            raise DeployError(
                f"{given[0]} has no meaning with --rollback: it returns to a release already on the hosts"
            )
    else:
        configs = args.configs or Path("customers")
        try:
            customers = collect(configs)
        except InvalidReleaseError as exc:
            render = render_github if chosen_format(None) == "github" else render_text
            sys.stdout.write(render(exc.diagnostics))
            raise
        # --sha is checked, never trusted: the release must be the commit it names.
        bundle = customers.at(commit_of(configs, args.sha))
    hosts = open_runner_hosts(
        addresses,
        args.path,
        known_hosts=args.known_hosts.expanduser(),
        identity=args.identity,
        passphrase=args.passphrase,
        timeout=args.timeout,
    )
    if bundle is None:
        outcomes = rollback(hosts, reporter=reporter)
        print(f"rollback on {len(hosts)} host(s)")
    else:
        name, outcomes = deploy(bundle, hosts, now=datetime.now(UTC), reporter=reporter, keep=args.keep)
        print(
            f"release {name}: commit {bundle.sha}, {len(bundle.customers)} customer(s): "
            + ", ".join(bundle.customers)
        )
    for outcome in outcomes:
        print(_outcome_line(outcome, rolled_back=bundle is None))
    failed = sum(not o.ok for o in outcomes)
    if failed == len(outcomes):
        action = "rollback" if bundle is None else "deploy"
        reporter.warn(f"the {action} failed on {'every host' if failed > 1 else 'the host'}")
        return 1
    if failed:
        reporter.warn(f"{failed} of {len(outcomes)} host(s) failed; the others are done")
        return 1
    return 0


def _outcome_line(outcome: HostOutcome, *, rolled_back: bool) -> str:
    if not outcome.ok:
        return f"  FAILED  {outcome.host}: {outcome.error}"
    was = "rolled back from" if rolled_back else "was"
    text = f"  ok      {outcome.host}: current -> {outcome.release}"
    text += f" ({was} {outcome.replaced})" if outcome.replaced else " (first release)"
    if outcome.removed:
        text += f"; removed {', '.join(outcome.removed)}"
    return text
