"""Files in → applied: a customer's pending HRIS files through plan and apply, in order.

``sync_files`` is one run over a customer's source (list, select, read, deduplicate by
content, decrypt, apply, record, retention); ``run_manual`` runs it as a person's sync under
the customer's lock and records it; ``engine.sync.runner_job.run`` is the runner's job.
"""

from engine.sync.manual import ManualRun, run_manual
from engine.sync.outcome import FileResult, SyncOutcome, summary_lines
from engine.sync.pipeline import sync_files
from engine.sync.runlog import write_sync_log

__all__ = [
    "FileResult",
    "ManualRun",
    "SyncOutcome",
    "run_manual",
    "summary_lines",
    "sync_files",
    "write_sync_log",
]
