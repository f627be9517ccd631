"""lmsync engine: configuration, planning, applying, running, rendering and the CLI.

The engine is the product's logic. It never imports requests, fabric, paramiko or gnupg:
all I/O lives in ``connectors`` behind small protocols.
"""

import os

__version__ = "0.1.0"

# polars' allocator (jemalloc) keeps freed pages for 10 s by default, per thread arena: a big
# run reads the LMS into columns and plans within that time, so the read's and the plan's
# freed memory stayed resident (1M users: 2.0-2.1 GiB at the peak instead of 1.9). They go
# back at once instead, for ~0.6 s more of a 1M plan (faulting fresh pages in); 100 ms,
# 10 ms, one arena or huge pages kept the memory or the time (``benchmarks/plan.py``).
# Read when polars loads, which the engine does lazily, after this; a value set in the
# environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
