"""``lmsync validate PATH...``: check customer files, print every finding, exit 0/1/2.

A thin shell over ``engine.config.validate_paths``: it expands folders, picks the output
format (GitHub annotations by themselves under GitHub Actions) and maps the result to an exit
code -- 0 all valid, 1 some file invalid, 2 a path missing or unreadable. It must never
validate anything itself, nor print a configuration value.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from engine.config.diagnostics import IO_CODES, render_github, render_json, render_text
from engine.config.loader import check_file, customer_files
from engine.console import Reporter

FORMATS = ("text", "json", "github")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check customer files (YAML safety, schema, meaning)",
        description="Check customer files and report every error of every file with its line and "
        "column. Folders are searched for *.yaml and *.yml files.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="customer files or folders")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: github under GitHub Actions, else text)",
    )
    parser.set_defaults(handler=run)


def chosen_format(requested: str | None) -> str:
    if requested:
        return requested
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    output = chosen_format(args.format)
    files, diagnostics = customer_files(args.paths)
    invalid = 0
    for path in files:
        checked = check_file(path)
        diagnostics += checked.diagnostics
        invalid += not checked.valid
    diagnostics.sort(key=lambda d: (d.file, d.line, d.column, d.path, d.message))
    if output == "json":
        sys.stdout.write(render_json(diagnostics, [str(f) for f in files]))
    elif output == "github":
        sys.stdout.write(render_github(diagnostics))
    else:
        sys.stdout.write(render_text(diagnostics))
    errors = sum(d.severity == "error" for d in diagnostics)
    if not files and not diagnostics:
        reporter.warn("no *.yaml or *.yml file found under the given paths")
        return 2
    if any(d.code in IO_CODES for d in diagnostics):
        reporter.info(f"{len(files)} file(s) checked; some paths could not be read")
        return 2
    if invalid:
        reporter.info(f"{errors} error(s) in {invalid} of {len(files)} file(s)")
        return 1
    reporter.info(f"{len(files)} file(s) valid")
    return 0
