"""Customer configuration: models, loading with positions, validation, secrets.

Other parts load customer files only through ``load_config`` / ``load_config_text`` and check
them through ``validate_paths``; each finding is a ``Diagnostic`` with file, line and column.
"""

from engine.config.diagnostics import Diagnostic, InvalidConfigError
from engine.config.loader import (
    CheckedFile,
    check_bytes,
    check_file,
    check_text,
    customer_files,
    load_config,
    load_config_text,
    validate_paths,
)
from engine.config.models import CustomerConfig

__all__ = [
    "CheckedFile",
    "CustomerConfig",
    "Diagnostic",
    "InvalidConfigError",
    "check_bytes",
    "check_file",
    "check_text",
    "customer_files",
    "load_config",
    "load_config_text",
    "validate_paths",
]
