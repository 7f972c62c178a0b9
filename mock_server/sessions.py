"""Sessions: isolated copies of the fixture world, one per ``X-Mock-Session`` name.

Issue #4: two test suites that send different session names never see each
other's changes. A session holds everything a client can change: each API's
store (records and Firma's rate windows), the request journal and the faults.
It is created, from the fixtures, on first use; ``POST /__mock/reset`` seeds it
again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mock_server.faults import Faults
from mock_server.journal import Journal
from mock_server.store import Store

__all__ = ["DEFAULT_SESSION", "HEADER", "MAX_SESSIONS", "Session", "SessionRefused", "Sessions"]

HEADER = "x-mock-session"
DEFAULT_SESSION = "default"
MAX_SESSIONS = 1000
"""Sessions beyond this are refused: each is a full copy of the world, held in memory."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

Seeder = Callable[[], Mapping[str, Store]]
"""Fresh stores, one per API name, seeded from the fixtures."""


class SessionRefused(Exception):
    """The ``X-Mock-Session`` header names no session the mock can serve."""


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
        self._sessions: dict[str, Session] = {}

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
        """The session called ``name``, created from the fixtures if new."""
        session = self._sessions.get(name)
        if session is not None:
            return session
        with self._lock:
            session = self._sessions.get(name)
            if session is None:
                if len(self._sessions) >= MAX_SESSIONS:
                    raise SessionRefused(
                        f"X-Mock-Session: {name!r} would be session number {MAX_SESSIONS + 1}; "
                        f"the mock holds at most {MAX_SESSIONS} (restart it, or reuse names)"
                    )
                session = Session(name, self._seed())
                self._sessions[name] = session
            return session

    def reset(self, name: str) -> Session:
        """Seed ``name`` again from the fixtures: records, rate windows, journal and faults."""
        with self._lock:
            session = Session(name, self._seed())
            self._sessions[name] = session
            return session

    def names(self) -> list[str]:
        with self._lock:
            return list(self._sessions)
