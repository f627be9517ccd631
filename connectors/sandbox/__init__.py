"""The sandbox: a local LMS implementing the API v2 contract on SQLite (the "test instance").

Demos, integration tests and CI talk to it over real HTTP. Public API: ``SandboxServer``,
``RateLimits``, ``Faults`` and the admin helper ``SandboxAdmin``.
"""

from connectors.sandbox.admin import SandboxAdmin
from connectors.sandbox.policy import Faults, RateLimits
from connectors.sandbox.server import SandboxServer

__all__ = ["Faults", "RateLimits", "SandboxAdmin", "SandboxServer"]
