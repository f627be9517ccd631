"""``lmsync demo``: the product's main job, end to end, on the embedded default.

It starts the sandbox LMS in-process on a free loopback port with the groups the demo
customer names, points ``examples/customers/demo.yaml``'s ``test`` environment at it, drops
``examples/inbox/hris-demo.csv`` into a work folder used as the customer's folder source,
prints the plan, runs the sync (the same code path as ``lmsync sync``: lock, run history,
journaled apply with a progress bar, ledger, run log), then syncs again with a new export of
the same data (rows in another order) to show that a second pass plans nothing and sends no
write to the LMS, while the first file, already processed, is recognised by its content.
Everything stays on this machine: no network beyond loopback, nothing written outside the
work folder.

The demo's own sandbox credentials are handed to the customer file through the environment
variables it references (``LMSYNC_DEMO_CLIENT_ID``/``_SECRET``), as a real deployment would.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import engine
from connectors.lms.target import LmsTarget
from connectors.sandbox import RateLimits, SandboxAdmin, SandboxServer
from engine.apply import plan_hris_file
from engine.apply.session import runs_directory
from engine.config.loader import load_config
from engine.config.models import CustomerConfig, FolderSource
from engine.console import Reporter
from engine.errors import ConfigError
from engine.hris.render import render_text
from engine.runner.clock import SystemClock
from engine.state import StateStore
from engine.sync import ManualRun, run_manual, summary_lines, write_sync_log

ENVIRONMENT = "test"
#: The groups examples/customers/demo.yaml names, as the demo LMS holds them.
DEMO_GROUPS = (
    {"_id": "demo-all-staff", "name": "Demo"},
    {"_id": "demo-sales-academy", "name": "Sales Academy"},
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run a full HRIS sync on the embedded default (sandbox LMS + folder source)",
        description="Start the sandbox LMS, sync examples/inbox/hris-demo.csv into it with "
        "examples/customers/demo.yaml (plan, apply, run log), then sync again to show nothing "
        "changes. Offline; the work folder is removed at the end unless --keep or --workdir.",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (state, run logs, LMS)")
    parser.add_argument("--workdir", type=Path, metavar="DIR", help="work folder (default: a temporary one)")
    parser.set_defaults(handler=run)


def examples_dir() -> Path:
    """The repository's ``examples/`` (lmsync is installed from a clone, editable)."""
    folder = Path(engine.__file__).resolve().parents[1] / "examples"
    if (
        not (folder / "customers" / "demo.yaml").is_file()
        or not (folder / "inbox" / "hris-demo.csv").is_file()
    ):
        raise ConfigError(
            f"the demo's example files are missing under {folder}",
            hint="run the demo from a clone of the lmsync repository: ./scripts/demo",
        )
    return folder


def demo_config(template: CustomerConfig, *, url: str, inbox: Path) -> CustomerConfig:
    """``demo.yaml`` pointed at this sandbox and this work folder, re-validated."""
    hris = template.hris
    test = template.environments.get(ENVIRONMENT)
    if hris is None or test is None or not isinstance(hris.source, FolderSource):
        raise ConfigError(
            "examples/customers/demo.yaml must keep its hris section, a folder source and a test environment"
        )
    environments = {
        **template.environments,
        ENVIRONMENT: test.model_copy(update={"lms": test.lms.model_copy(update={"url": url})}),
    }
    # The demo writes its inbox itself before syncing, so no upload can be in progress: the
    # settle wait that guards a real SFTP folder would only slow the demo down.
    files = hris.file.model_copy(update={"settle_seconds": 0})
    source = hris.source.model_copy(update={"path": str(inbox)})
    updated = template.model_copy(
        update={
            "environments": environments,
            "hris": hris.model_copy(update={"file": files, "source": source}),
        }
    )
    return CustomerConfig.model_validate(updated.model_dump())


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    examples = examples_dir()
    workdir = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="lmsync-demo-"))
    keep = args.keep or args.workdir is not None
    _start_afresh(workdir)
    try:
        return _demo(examples, workdir, reporter)
    finally:
        if keep:
            _say(f"\nwork folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            _say(f"\nwork folder {workdir} removed; run with --keep to look at the state and run logs")


#: Written in every work folder the demo fills: a folder holding it may be emptied by the demo.
MARKER = ".lmsync-demo"


def _start_afresh(workdir: Path) -> None:
    """The demo tells one story from an empty LMS: a folder kept by an earlier demo (its
    sandbox, state and inbox) is emptied first; any other non-empty folder is refused, so
    ``--workdir`` never deletes what the demo did not write."""
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file", hint="give a new or empty folder")
    if workdir.is_dir() and any(workdir.iterdir()):
        if not (workdir / MARKER).is_file():
            raise ConfigError(
                f"--workdir {workdir} is not empty and was not made by `lmsync demo`",
                hint="give a new or empty folder (the demo starts from an empty LMS and state)",
            )
        _say(f"work folder {workdir} holds an earlier demo: starting it again from an empty LMS")
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("made by `lmsync demo`; the next demo in this folder empties it\n")


def _demo(examples: Path, workdir: Path, reporter: Reporter) -> int:
    inbox = workdir / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    template_path = examples / "customers" / "demo.yaml"
    template = load_config(template_path)
    # The sandbox keeps the LMS's real limits (10 writes/s): the progress bar shows a real pace.
    with SandboxServer(workdir / "sandbox.sqlite", rate_limits=RateLimits(enabled=True)) as sandbox:
        admin = SandboxAdmin(sandbox.url, sandbox.admin_token)
        try:
            # The connector administrator administers the synchronized group, as the
            # reference requires (the sync warns otherwise).
            assert template.hris is not None
            administrator = {
                "mail": template.hris.admin,
                "roles": [{"groupId": template.hris.group, "role": "admin"}],
            }
            admin.seed(groups=[dict(group) for group in DEMO_GROUPS], users=[administrator])
            os.environ["LMSYNC_DEMO_CLIENT_ID"] = sandbox.client_id
            os.environ["LMSYNC_DEMO_CLIENT_SECRET"] = sandbox.client_secret
            config = demo_config(template, url=sandbox.url, inbox=inbox)
            shutil.copyfile(examples / "inbox" / "hris-demo.csv", inbox / "hris-demo.csv")
            _say(f"sandbox LMS on {sandbox.url}; customer file {template_path}; source {inbox}")
            _print_plan(config, inbox / "hris-demo.csv", template_path.parent)
            state = f"sqlite:///{workdir / 'state.sqlite'}"
            first = _sync(config, template_path, state, reporter, "1. sync: apply the plan")
            # Tomorrow's export: the same people in another order, so new bytes (the ledger
            # does not know it) and the same data (the plan must be empty).
            _reexport(inbox / "hris-demo.csv", inbox / "hris-demo-2.csv")
            writes_before = len(admin.write_requests())
            second = _sync(
                config, template_path, state, reporter, "2. sync again, with a new export of the same data"
            )
            writes = len(admin.write_requests()) - writes_before
            counts = second.outcome.counts
            changes = sum(counts.get(name, 0) for name in ("created", "updated", "restored", "deleted"))
            _say(f"second pass: {changes} changes, {writes} write requests sent to the LMS")
        finally:
            admin.close()
    ok = first.outcome.status == second.outcome.status == "succeeded" and changes == writes == 0
    _say("demo finished: the LMS matches the file" if ok else "demo finished with problems (see above)")
    return 0 if ok else 1


def _reexport(original: Path, copy: Path) -> None:
    with original.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    with copy.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *reversed(rows)])


def _print_plan(config: CustomerConfig, file: Path, base_dir: Path) -> None:
    with LmsTarget.from_config(config, ENVIRONMENT, base_dir=base_dir) as target:
        plan = plan_hris_file(config, file.read_bytes(), file_name=file.name, target=target).plan
    _say(f"\n== plan for {file.name} (dry run: nothing written yet) ==")
    _say(render_text(plan, show_personal_data=config.review.show_personal_data).rstrip("\n"))


def _sync(config: CustomerConfig, config_path: Path, state: str, reporter: Reporter, title: str) -> ManualRun:
    _say(f"\n== {title} ==")
    store = StateStore.open(state)
    try:
        manual = run_manual(
            config, ENVIRONMENT, config_path=config_path, store=store, clock=SystemClock(), reporter=reporter
        )
    finally:
        store.close()
    json_path, csv_path = write_sync_log(
        runs_directory(state),
        manual.run_id,
        customer=config.customer,
        environment=ENVIRONMENT,
        outcome=manual.outcome,
        error=manual.error_text,
    )
    _say(f"run {manual.run_id}: {manual.outcome.status}")
    for line in summary_lines(manual.outcome):
        _say(f"  {line}")
    if manual.error_text:
        _say(f"  error: {manual.error_text}")
    _say(f"run log: {json_path}\n         {csv_path}")
    return manual


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
