"""Files in: the Source protocol and the pure rules choosing which files a run processes."""

from engine.files.encrypted import looks_encrypted
from engine.files.selection import (
    Selection,
    Skipped,
    SkipReason,
    check_content,
    expired,
    select_files,
)
from engine.files.source import FileInfo, Source, unsafe_name_reason

__all__ = [
    "FileInfo",
    "Selection",
    "SkipReason",
    "Skipped",
    "Source",
    "check_content",
    "expired",
    "looks_encrypted",
    "select_files",
    "unsafe_name_reason",
]
