"""Deploying the customer files to runner hosts as releases, and rolling back.

``collect`` validates and reads a folder of customer files into a ``Bundle``; ``deploy``
uploads it to each ``RunnerHost`` as ``releases/<timestamp>-<sha12>/`` and switches the
``current`` link the runner reads; ``rollback`` switches it back. The SSH implementation of
``RunnerHost`` lives in ``connectors/deploy``: this package never imports fabric or paramiko.
"""

from engine.deploy.bundle import Bundle, CustomerSet, collect, commit_of
from engine.deploy.deployer import HostOutcome, deploy, rollback
from engine.deploy.errors import (
    DeployError,
    InvalidReleaseError,
    NoPreviousReleaseError,
    RunnerAuthError,
    RunnerHostKeyError,
    RunnerUnavailableError,
)
from engine.deploy.host import HostState, RunnerHost
from engine.deploy.release import (
    DEFAULT_KEEP,
    REVISION_FILE,
    RunnerAddress,
    parse_address,
    previous_release,
    release_name,
    releases_to_prune,
)

__all__ = [
    "DEFAULT_KEEP",
    "REVISION_FILE",
    "Bundle",
    "CustomerSet",
    "DeployError",
    "HostOutcome",
    "HostState",
    "InvalidReleaseError",
    "NoPreviousReleaseError",
    "RunnerAddress",
    "RunnerAuthError",
    "RunnerHost",
    "RunnerHostKeyError",
    "RunnerUnavailableError",
    "collect",
    "commit_of",
    "deploy",
    "parse_address",
    "previous_release",
    "release_name",
    "releases_to_prune",
    "rollback",
]
