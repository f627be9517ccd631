"""Finding the job the runner runs: ``module:function``, imported when the runner starts.

The runner is built apart from the sync; the sync exposes a function with the ``Job``
signature and the runner imports it by name, so tests (and other connectors) can give the
runner another job. This module must never run a job itself.
"""

from __future__ import annotations

import importlib
from typing import cast

from engine.errors import ConfigError
from engine.runner.context import Job

#: The HRIS sync's entry point for the runner: ``run(config, environment, context) -> RunOutcome``.
DEFAULT_JOB = "engine.sync.runner_job:run"


def load_job(spec: str) -> Job:
    """Import ``module:function`` and return the function."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigError(f"job '{spec}' is not module:function", hint=f"for example {DEFAULT_JOB}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"job '{spec}': module {module_name} cannot be imported ({exc.msg})",
            hint="check the --job value, or that this lmsync installation includes the sync",
        ) from exc
    job = getattr(module, function_name, None)
    if not callable(job):
        raise ConfigError(f"job '{spec}': {module_name} has no function {function_name}")
    return cast(Job, job)
