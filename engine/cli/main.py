"""Entry point of ``lmsync``: parses arguments, dispatches, maps errors to exit codes.

Each command lives in its own module under ``engine.cli`` and exposes
``register(subparsers)``, which adds a parser whose ``handler(args, reporter) -> int``
returns the exit code. This module owns the single error handler: a domain error becomes a
message on stderr and exit code 1 (``--debug`` shows the traceback); usage errors exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from engine import __version__
from engine.console import TerminalReporter
from engine.errors import LmsyncError, UsageError

#: Command modules, in the order ``lmsync --help`` lists them. Add yours here.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "sandbox",
    "validate",
    "schema",
    "sync",
    "runner",
    "run_now",
    "runs",
    "deploy",
    "diff",
    "cornerstone",
    "sso",
    "plan",
    "apply",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmsync",
        description="Run an LMS's customer integrations as reviewed, versioned code.",
    )
    parser.add_argument("--version", action="version", version=f"lmsync {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"engine.cli.{name}")
        module.register(subparsers)
    return parser


#: Commands whose exit code 2 means "changes" (terraform's -detailed-exitcode): a wrong call
#: to them exits 1, so a CI step never reads a mistyped flag as a plan with changes.
CHANGES_EXIT_2: frozenset[str] = frozenset({"plan"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:
        command = next((word for word in words if not word.startswith("-")), None)
        if exc.code == 2 and command in CHANGES_EXIT_2:
            return 1
        raise
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    reporter = TerminalReporter(quiet=args.quiet)
    try:
        code: int = args.handler(args, reporter)
        return code
    except LmsyncError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
