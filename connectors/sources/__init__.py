"""File sources: the local folder and SFTP implementations of ``engine.files.Source``.

``open_source`` turns a customer file's ``hris.source`` into a ready source, resolving the
secret references it holds at that moment and not before. It must never log a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.config.models import FolderSource as FolderSourceConfig
from engine.config.models import SftpSource as SftpSourceConfig
from engine.config.secrets import resolve_secret
from engine.files.source import Source

from .folder import FolderSource
from .sftp import SftpSource, Warns, load_private_key


def open_source(
    config: FolderSourceConfig | SftpSourceConfig,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    reporter: Warns | None = None,
) -> Source:
    """The source a customer file describes; use it as ``with open_source(...) as source:``.

    ``base_dir`` is the customer file's folder: a relative folder path or ``file:`` secret
    starts there. Secrets are resolved from ``environ`` (default: the process environment).
    Nothing is connected until the source is entered.
    """
    if isinstance(config, FolderSourceConfig):
        path = Path(config.path).expanduser()
        return FolderSource(path if path.is_absolute() else base_dir / path)
    password = None
    private_key = None
    if config.password is not None:
        password = resolve_secret(
            config.password, environ=environ, base_dir=base_dir, what="hris.source.password"
        )
    if config.private_key is not None:
        passphrase = None
        if config.private_key_passphrase is not None:
            passphrase = resolve_secret(
                config.private_key_passphrase,
                environ=environ,
                base_dir=base_dir,
                what="hris.source.private_key_passphrase",
            )
        key = resolve_secret(
            config.private_key, environ=environ, base_dir=base_dir, what="hris.source.private_key"
        )
        private_key = load_private_key(key, passphrase)
    return SftpSource(
        host=config.host,
        port=config.port,
        username=config.username,
        host_key=config.host_key,
        path=config.path,
        password=password,
        private_key=private_key,
        timeout=config.timeout,
        reporter=reporter,
    )


__all__ = ["FolderSource", "SftpSource", "open_source"]
