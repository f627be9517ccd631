"""The ``lmsync`` command line: a thin layer, one library call per command."""
