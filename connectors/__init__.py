"""Connectors: the outside world (file sources, decryption, target APIs, sandbox servers).

Every library exception is translated here into ``engine.errors`` with ``raise ... from``.
"""
