"""lmsync engine: configuration, planning, applying, running, rendering and the CLI.

The engine is the product's logic. It never imports requests, fabric, paramiko or gnupg:
all I/O lives in ``connectors`` behind small protocols.
"""

import os

__version__ = "0.1.0"

# polars' allocator (jemalloc) keeps freed pages for 10 s by default, per thread arena: a big
# run reads the LMS into columns and plans within that time, so the read's freed memory
# stayed resident at the plan's peak. 100 ms hands it back between the read and the plan,
# while the plan still reuses its own pages (0 gave the least memory, for ~0.5 s more of a
# 1M plan: faulting fresh pages in). Measured by ``benchmarks/plan.py``. Read when polars
# loads, which the engine does lazily, after this; a value set in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:100,muzzy_decay_ms:100")
