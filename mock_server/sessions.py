"""Sessions: isolated copies of the fixture world, one per ``X-Mock-Session`` name.

Issue #4: two test suites that send different session names never see each
other's changes. A session holds everything a client can change: each API's
store (records and Firma's rate windows), the request journal and the faults.
It is created, from the fixtures, on first use; ``POST /__mock/reset`` seeds it
again.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mock_server.faults import Faults
from mock_server.journal import Journal
from mock_server.store import Store

__all__ = ["DEFAULT_SESSION", "HEADER", "MAX_SESSIONS", "Session", "SessionRefused", "Sessions"]

HEADER = b"x-mock-session"
"""The request header naming the session, as ASGI spells it."""
DEFAULT_SESSION = "default"
MAX_SESSIONS = 1000
"""Sessions kept at once: each is a full copy of the world, held in memory."""

log = logging.getLogger("mock_server.sessions")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

Seeder = Callable[[], Mapping[str, Store]]
"""Fresh stores, one per API name, seeded from the fixtures."""


class SessionRefused(Exception):
    """The ``X-Mock-Session`` header is not a session name."""


@dataclass
class Session:
    """One isolated world: a store per API, plus the journal and faults of its clients."""

    name: str
    stores: Mapping[str, Store]
    journal: Journal = field(default_factory=Journal)
    faults: Faults = field(default_factory=Faults)


class Sessions:
    """Sessions by name, each created from ``seed`` on first use.

    >>> from mock_server.store import MemoryStore
    >>> sessions = Sessions(lambda: {"firma": MemoryStore({"jwts": []})})
    >>> sessions.get("suite-a") is sessions.get("suite-a")
    True
    >>> sessions.get("suite-a") is sessions.get("suite-b")
    False
    """

    def __init__(self, seed: Seeder) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    @staticmethod
    def name_of(header: str | None) -> str:
        """The session a header value selects; raises :class:`SessionRefused` if malformed."""
        if header is None or not header.strip():
            return DEFAULT_SESSION
        name = header.strip()
        if not _NAME.fullmatch(name):
            raise SessionRefused(
                f"X-Mock-Session: {name[:80]!r} is not a session name (1-64 characters: "
                "letters, digits, '.', '_', ':', '-'; starting with a letter or digit)"
            )
        return name

    def get(self, name: str) -> Session:
        """The session called ``name``, created from the fixtures if new.

        Beyond :data:`MAX_SESSIONS` the least recently used one (never ``default``)
        is forgotten, so no client can use them all up.
        """
        with self._lock:
            session = self._sessions.get(name)
            if session is None:
                session = Session(name, self._seed())
                self._sessions[name] = session
                self._evict()
            else:
                self._sessions.move_to_end(name)
            return session

    def _evict(self) -> None:
        while len(self._sessions) > MAX_SESSIONS:
            oldest = next(n for n in self._sessions if n != DEFAULT_SESSION)
            del self._sessions[oldest]
            log.info("session %r forgotten: least recently used of %d", oldest, MAX_SESSIONS)

    def reset(self, name: str) -> Session:
        """Seed ``name`` again from the fixtures: records, rate windows, journal and faults."""
        with self._lock:
            session = Session(name, self._seed())
            self._sessions[name] = session
            self._sessions.move_to_end(name)
            self._evict()
            return session

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sessions)
