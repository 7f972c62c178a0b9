"""``--store`` URLs: which back-end, where, refused at start-up with the fix when wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from mock_server.errors import StartupError
from mock_server.state.base import Backend
from mock_server.state.limits import Limits
from mock_server.state.memory import MemoryBackend

__all__ = ["EXAMPLES", "StoreUrlError", "open_backend", "shown"]

EXAMPLES = (
    "memory, sqlite:///relative/mock.db, sqlite:////absolute/mock.db, redis://127.0.0.1:6379/0"
)


class StoreUrlError(StartupError):
    """A ``--store`` URL that names no back-end, or one that cannot be reached."""


def shown(url: str) -> str:
    """The URL as logs may show it: any password replaced.

    >>> shown("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> shown("redis://cache:6379/0?password=s3cret&db=1")  # as a refusal names it
    'redis://cache:6379/0?password=***&db=1'
    """
    parts = urlsplit(url)
    if parts.password is not None:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    before, mark, query = url.partition("?")
    if "password=" in query.lower():
        url = before + mark + re.sub(r"(?i)(^|&)(password=)[^&#]*", r"\1\2***", query)
    return url


def open_backend(
    url: str, *, limits: Limits | None = None, environ: Mapping[str, str] | None = None
) -> Backend:  # environ: the Redis store's REDIS_PASSWORD
    """The back-end ``url`` names (not yet connected: see :meth:`Backend.open`).

    >>> open_backend("memory").url
    'memory'
    >>> open_backend("mongodb://db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mock_server.state.urls.StoreUrlError: --store 'mongodb://db': unknown scheme 'mongodb'; ...
    """
    limits = limits or Limits()
    scheme = urlsplit(url).scheme if "://" in url else url
    if url == "memory":
        return MemoryBackend(limits)
    if urlsplit(url).scheme.lower() == "sqlite":
        from mock_server.state.sqlite import SqliteBackend  # lazily: only when used

        return SqliteBackend.from_url(url, limits=limits)
    if scheme in ("redis", "rediss"):
        from mock_server.state.redis import RedisBackend

        return RedisBackend.from_url(url, limits=limits, environ=environ or {})
    raise StoreUrlError(
        f"--store {shown(url)!r}: unknown scheme {scheme!r}; give one of {EXAMPLES}"
    )
