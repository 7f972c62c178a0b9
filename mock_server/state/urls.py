"""``--store`` URLs: which back-end, where, refused at start-up with the fix when wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from mock_server.errors import StartupError
from mock_server.state.base import Backend
from mock_server.state.limits import Limits
from mock_server.state.memory import MemoryBackend

__all__ = ["EXAMPLES", "FLAG", "StoreUrlError", "normalised", "open_backend", "shown"]

EXAMPLES = (
    "memory, sqlite:///relative/mock.db, sqlite:////absolute/mock.db, redis://127.0.0.1:6379/0"
)


FLAG = "--store"
"""How a refusal names the URL's source unless told otherwise (:meth:`StoreUrlError.named`)."""


class StoreUrlError(StartupError):
    """A ``--store`` URL that names no back-end, or one that cannot be reached.

    One made by :meth:`of` keeps its URL and reason apart, so the CLI can name where the
    URL came from (``$MOCK_STORE``) with :meth:`named`.
    """

    url: str | None = None
    reason: str = ""

    @classmethod
    def of(cls, url: str, reason: str, *, source: str = FLAG) -> StoreUrlError:
        """The refusal of ``url`` (shown without its password) for ``reason``.

        >>> str(StoreUrlError.of("redis://:pw@h/0", "no"))
        "--store 'redis://:***@h/0': no"
        >>> str(StoreUrlError.of("bogus", "no").named("$MOCK_STORE"))
        "$MOCK_STORE 'bogus': no"
        """
        error = cls(f"{source} {shown(url)!r}: {reason}")
        error.url, error.reason = url, reason
        return error

    def named(self, source: str) -> StoreUrlError:
        """This refusal naming ``source`` as where its URL came from (itself if it names
        no URL: ``--workers`` with the memory store)."""
        if self.url is None:
            return self
        return self.of(self.url, self.reason, source=source)


def shown(url: str) -> str:
    """The URL as logs may show it: any password replaced.

    >>> shown("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> shown("redis://cache:6379/0?password=s3cret&db=1")  # as a refusal names it
    'redis://cache:6379/0?password=***&db=1'
    >>> shown("redis://:s3cret@[::1/0")  # no URL to Python: the password hidden all the same
    'redis://:***@[::1/0'
    """
    try:
        password = urlsplit(url).password
    except ValueError:
        url = re.sub(r"^([^:/]*://[^/@]*?:)[^/@]*@", r"\1***@", url)
    else:
        if password is not None:
            url = url.replace(f":{password}@", ":***@", 1)
    before, mark, query = url.partition("?")
    if "password=" in query.lower():
        url = before + mark + re.sub(r"(?i)(^|&)(password=)[^&#]*", r"\1\2***", query)
    return url


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
"""A URL's scheme and its colon (RFC 3986, section 3.1)."""


def normalised(url: str) -> str:
    """``url`` with its scheme in lower case (a scheme is read in any case: RFC 3986,
    section 3.1), and ``memory`` in any case as ``memory``: the form back-ends are given.

    >>> normalised("REDIS://:Pw@Cache:6379/0"), normalised("SQLite:///A.db"), normalised("Memory")
    ('redis://:Pw@Cache:6379/0', 'sqlite:///A.db', 'memory')
    """
    if url.lower() == "memory":
        return "memory"
    scheme = _SCHEME.match(url)
    return url if scheme is None else scheme.group().lower() + url[scheme.end() :]


def open_backend(
    url: str, *, limits: Limits | None = None, environ: Mapping[str, str] | None = None
) -> Backend:  # environ: the Redis store's REDIS_PASSWORD
    """The back-end ``url`` names (not yet connected: see :meth:`Backend.open`); its scheme
    in any case, the back-end given it in lower case (:func:`normalised`).

    >>> open_backend("Memory").url
    'memory'
    >>> open_backend("mongodb://db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mock_server.state.urls.StoreUrlError: --store 'mongodb://db': unknown scheme 'mongodb'; ...
    """
    limits = limits or Limits()
    given, url = url, normalised(url)
    scheme = url.partition("://")[0] if "://" in url else url
    if url == "memory":
        return MemoryBackend(limits)
    if url.partition(":")[0] == "sqlite":
        from mock_server.state.sqlite import SqliteBackend  # lazily: only when used

        return SqliteBackend.from_url(url, limits=limits)
    if scheme in ("redis", "rediss"):
        from mock_server.state.redis import RedisBackend

        return RedisBackend.from_url(url, limits=limits, environ=environ or {})
    named = given.partition("://")[0] if "://" in given else given
    if scheme == "memory":  # memory://x: the memory store takes nothing after its name
        raise StoreUrlError.of(given, f"the memory store is 'memory' alone; give one of {EXAMPLES}")
    raise StoreUrlError.of(given, f"unknown scheme {named!r}; give one of {EXAMPLES}")
