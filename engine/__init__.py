"""lmsync engine: configuration, planning, applying, running, rendering and the CLI.

The engine is the product's logic. It never imports requests, fabric, paramiko or gnupg:
all I/O lives in ``connectors`` behind small protocols.
"""

__version__ = "0.1.0"
