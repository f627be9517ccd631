"""``lmsync plan CONFIG --env ENV --input FILE``: what applying the file would do, writing nothing.

A thin shell over ``engine.apply.plan_hris_file``: it reads the file (decrypting it when it
is a PGP message), reads the environment's LMS, plans, and prints the plan as text, the
JSON contract (``plan_to_json``) or Markdown. Exit codes, as ``terraform plan
-detailed-exitcode``: 0 no changes, 2 changes, 1 error (a deletion guard that trips is an
error: the plan is still printed). It must never write to the LMS, and never print an e-mail
or a name unless the customer file sets ``review.show_personal_data``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from connectors.lms.target import LmsTarget
from connectors.pgp import decrypt_if_encrypted
from engine.apply import plan_hris_file, previous_custom_fields, previous_groups
from engine.apply.markdown import render_plan_markdown
from engine.cli.runner import state_url_argument
from engine.config.loader import load_config
from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.errors import DeletionGuardError, FileLevelError
from engine.hris import DeletionGuardTrippedError, Plan, plan_to_json, render_text
from engine.state import StateStore

FORMATS = ("text", "json", "markdown")
EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``plan`` and ``apply`` share."""
    parser.add_argument("config", type=Path, metavar="CONFIG", help="customer file (customers/<slug>.yaml)")
    parser.add_argument("--env", default="test", metavar="ENV", help="environment (default: %(default)s)")
    parser.add_argument(
        "--input", type=Path, required=True, metavar="FILE", help="HRIS file (CSV/TSV, or PGP)"
    )
    parser.add_argument(
        "--allow-deletions",
        type=int,
        default=None,
        metavar="N",
        help="allow up to N deletions even beyond hris.safety.max_deletions",
    )
    state_url_argument(parser)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="show what applying an HRIS file would change in the LMS (writes nothing)",
        description="Read the HRIS file and the environment's LMS, and print the plan. Exit code: "
        "0 no changes, 2 changes, 1 error (including a deletion guard that trips).",
    )
    common_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="text", help="output (default: %(default)s)")
    parser.set_defaults(handler=run)


def read_input(path: Path, config: CustomerConfig, base_dir: Path) -> tuple[bytes, str, str]:
    """The file's plain bytes, the name its rows are reported under (PGP suffix dropped) and
    the sha256 of its content as stored (before decryption), which the file is known by."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileLevelError(
            f"cannot read the input file ({exc.strerror})",
            file=str(path),
            hint="check the path given to --input",
        ) from exc
    sha256 = hashlib.sha256(data).hexdigest()
    assert config.hris is not None
    plain, name = decrypt_if_encrypted(config.hris.encryption, data, path.name, base_dir=base_dir)
    return plain, name, sha256


def stored_memory(state_url: str, customer: str, environment: str) -> tuple[frozenset[str], frozenset[str]]:
    """What the last apply recorded, the custom field definitions and the groups it fed, read
    in one opening of the store and only when the state exists (a plan creates nothing)."""
    store = StateStore.open_existing(state_url)
    if store is None:
        return frozenset(), frozenset()
    try:
        return (
            previous_custom_fields(store, customer, environment),
            previous_groups(store, customer, environment),
        )
    finally:
        store.close()


def render(plan: Plan, output: str, config: CustomerConfig, env: str) -> str:
    show = config.review.show_personal_data
    if output == "json":
        return json.dumps(plan_to_json(plan, show_personal_data=show), indent=2, ensure_ascii=False) + "\n"
    if output == "markdown":
        return render_plan_markdown(
            plan_to_json(plan, show_personal_data=show),
            title=f"lmsync plan: {config.customer} ({env})",
            show_personal_data=show,
        )
    return render_text(plan, show_personal_data=show)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.config)
    base_dir = args.config.parent
    if config.hris is None:
        reporter.warn(f"{config.customer}: no `hris` section; nothing to plan")
        return EXIT_ERROR
    data, file_name, _ = read_input(args.input, config, base_dir)
    previous, groups_before = stored_memory(args.state, config.customer, args.env)
    tripped: DeletionGuardError | None = None
    with LmsTarget.from_config(config, args.env, base_dir=base_dir) as target:
        try:
            plan = plan_hris_file(
                config,
                data,
                file_name=file_name,
                target=target,
                previous_custom_fields=previous,
                previous_groups=groups_before,
                allow_deletions=args.allow_deletions,
            ).plan
        except DeletionGuardTrippedError as exc:
            plan, tripped = exc.plan, exc
        admin_problem = target.admin_problem()
    sys.stdout.write(render(plan, args.format, config, args.env))
    if admin_problem:
        reporter.warn(f"{file_name}: {admin_problem}")
    if tripped is not None:
        print(f"error: {tripped}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_NO_CHANGES if plan.is_empty else EXIT_CHANGES
