"""``lmsync diff --base REF``: the pull-request review of changed customer files.

A thin shell over ``engine.review``: it finds the repository, reads the pull request's
deletion allowance from the GitHub event (``GITHUB_EVENT_PATH``), builds the review with the
planner it is given, renders it (Markdown under GitHub Actions, text elsewhere, or JSON),
writes it and, with ``--post``, edits the pull request's sticky comment in place.

Exit codes: 0 the review is ready, 1 a changed file is invalid or a deletion guard would
stop a sync (the comment is still written and posted first), 2 usage. It must never print a
secret or personal data: everything it shows comes masked from ``engine.review.render``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from connectors.github.comments import PullRequestComments, token_from_env
from engine.config.models import CustomerConfig
from engine.console import Reporter
from engine.errors import UsageError
from engine.review.effect import Allowance, PlanJson, Planner, allowance_from_event, read_event
from engine.review.git import RevisionError, repository_root, resolve
from engine.review.instance import customer_folder, instance_planner
from engine.review.planners import file_planner
from engine.review.render import render_markdown, render_text, review_to_json
from engine.review.report import Review, build_review

FORMATS = ("markdown", "text", "json")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "diff",
        help="review changed customer files between two git revisions (the PR comment)",
        description="Say what changed in each customer file between two revisions, in the product's "
        "words, and what the change does to the data (the head plan beside the base plan on the "
        "same input). Personal data stays masked.",
    )
    parser.add_argument("--base", required=True, help="base revision (e.g. origin/main)")
    parser.add_argument("--head", default="HEAD", help="head revision (default: HEAD)")
    parser.add_argument(
        "paths",
        nargs="*",
        default=["customers"],
        metavar="PATH",
        help="folders or files (default: customers)",
    )
    parser.add_argument(
        "--input",
        type=Path,
        help="HRIS file (or plan JSON) both revisions are planned on, or a folder holding one <slug>.csv "
        "per customer (default: the newest file on the customer's source)",
    )
    parser.add_argument(
        "--against",
        choices=("instance", "empty"),
        default="instance",
        help="plan against the environment's LMS read live (default), or against an empty test "
        "instance holding only the configured groups (offline; needs --input)",
    )
    parser.add_argument("--env", default="test", help="environment the data effect is planned against")
    parser.add_argument("--format", choices=FORMATS, help="default: markdown under GitHub Actions, else text")
    parser.add_argument("--output", type=Path, help="write the review here instead of stdout")
    parser.add_argument(
        "--post",
        action="store_true",
        help="create or update the pull request's review comment (needs GITHUB_TOKEN, GITHUB_REPOSITORY "
        "and GITHUB_EVENT_PATH, as set in GitHub Actions)",
    )
    parser.set_defaults(handler=run)


def _pathspecs(repo: Path, paths: list[str]) -> list[str]:
    """PATH arguments (relative to the current folder) as paths inside the repository."""
    specs = []
    for raw in paths:
        path = Path(raw).absolute()
        try:
            specs.append(path.relative_to(repo.resolve()).as_posix() if path != repo else ".")
        except ValueError as exc:
            raise UsageError(
                f"{raw} is outside the repository {repo}",
                hint="give folders or files inside the repository",
            ) from exc
    return specs


def _event() -> dict[str, Any]:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    return dict(read_event(Path(path)))


def choose_planner(args: argparse.Namespace, repo: Path) -> Planner | None:
    """The planner of the data effect: the environment's live LMS by default; with
    ``--against empty`` the ``--input`` file against an empty instance, which needs no network
    (and no secret), for a quick look or a fork's pull request."""
    if args.against == "empty":
        planner = file_planner() if args.input is not None else None
    else:
        under = [str((Path.cwd() / path).resolve()) for path in args.paths]
        planner = instance_planner(lambda slug: customer_folder(repo, under, slug))
    return (
        per_customer_input(planner, args.input)
        if planner is not None and args.input is not None and args.input.is_dir()
        else planner
    )


def per_customer_input(planner: Planner, folder: Path) -> Planner:
    """Each customer planned on ``folder/<slug>.csv`` when it exists, else on no input: one
    file for every customer would plan one customer's employees into another's review."""

    def plan(
        config: CustomerConfig, env: str, input: Path | None, *, deployed: CustomerConfig | None = None
    ) -> PlanJson:
        own = folder / f"{config.customer}.csv"
        return planner(config, env, own if own.is_file() else None, deployed=deployed)

    return plan


def pull_request(event: dict[str, Any]) -> tuple[str, int]:
    """The repository and number of the pull request ``--post`` comments on, checked before
    any work so a wrong call fails fast (exit 2) instead of after the review is built."""
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    if not repository or not number:
        raise UsageError(
            "--post needs a pull request: GITHUB_REPOSITORY and a pull_request event in GITHUB_EVENT_PATH",
            hint="run it from a workflow triggered by pull_request, or drop --post",
        )
    return repository, int(number)


def checked_repository(cwd: Path, base: str, head: str) -> Path:
    """The repository holding ``cwd``, with both revisions checked: a call outside a
    repository or with an unknown revision is a usage error (exit 2), not a failed review."""
    try:
        repo = repository_root(cwd)
    except RevisionError as exc:
        raise UsageError(
            f"{cwd} is not inside a git repository",
            hint="run lmsync diff from a checkout of the customers repository",
        ) from exc
    for flag, rev in (("--base", base), ("--head", head)):
        try:
            resolve(repo, rev)
        except RevisionError as exc:
            raise UsageError(f"{flag}: {exc.message}", hint=exc.hint) from exc
    return repo


def post(markdown: str, target: tuple[str, int], reporter: Reporter) -> None:
    repository, number = target
    comments = PullRequestComments(
        repository,
        number,
        token_from_env(),
        api_url=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
    )
    outcome, comment = comments.upsert(markdown)
    reporter.info(f"review comment {outcome}: {comment.url or comment.id}")


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    repo = checked_repository(Path.cwd(), args.base, args.head)
    event = _event()
    target = pull_request(event) if args.post else None
    allowance: Allowance | None = allowance_from_event(event)
    review: Review = build_review(
        repo,
        args.base,
        args.head,
        _pathspecs(repo, args.paths),
        planner=choose_planner(args, repo),
        env=args.env,
        input=args.input,
        allowance=allowance,
    )
    output = args.format or ("markdown" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    if output == "json":
        text = json.dumps(review_to_json(review), indent=2, ensure_ascii=False) + "\n"
    elif output == "markdown":
        # The artifact keeps every user; only the posted comment is cut to GitHub's limit.
        text = (
            render_markdown(review, limit=sys.maxsize, max_rows=None)
            if args.output
            else render_markdown(review)
        )
    else:
        text = render_text(review)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if target is not None:
        post(render_markdown(review), target, reporter)
    reporter.info(f"{len(review.customers)} customer file(s) reviewed")
    if review.blocked:
        reporter.warn("not ready to merge: a changed file is invalid or a deletion guard would stop a sync")
        return 1
    return 0
