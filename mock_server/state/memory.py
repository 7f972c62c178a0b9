"""The default back-end: everything in this process's memory (one worker, lost on exit)."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from mock_server.state.base import (
    Decide,
    Fault,
    InSteps,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    Touched,
    clone,
)
from mock_server.state.limits import DEFAULT_SESSION, Limits

__all__ = ["MemoryBackend"]


@dataclass(slots=True)
class _Session:
    """What one session changed; empty containers are shared until first written (an idle
    session costs a few hundred bytes)."""

    last_used: float
    changes: dict[str, dict[str, Record]] = field(default_factory=dict)
    journal: deque[tuple[int, JournalEntry]] | None = None
    journal_bytes: int = 0
    faults: list[Fault] = field(default_factory=list)


class MemoryBackend(InSteps):
    """Sessions by namespace and name, behind one lock (handlers may run in threads).

    >>> import asyncio
    >>> from mock_server.state.base import Decision
    >>> backend = MemoryBackend()
    >>> async def demo():
    ...     await backend.touch("ns", "s", 0.0)
    ...     flip = lambda r: Decision("ok", {**(r or {}), "revoked": True})
    ...     await backend.transition("ns", "s", "firma.jwts", "a", {"revoked": False}, flip)
    ...     return await backend.get("ns", "s", "firma.jwts", "a")
    >>> asyncio.run(demo())
    {'revoked': True}
    """

    url = "memory"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._namespaces: dict[str, OrderedDict[str, _Session]] = {}
        self._ids = itertools.count(1)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def world(self, fingerprint: str) -> str:
        # One process: a world left behind was forgotten whole, so its name is free again.
        return fingerprint

    async def forget(self, namespace: str) -> None:
        with self._lock:
            self._namespaces.pop(namespace, None)

    def _sessions(self, namespace: str) -> OrderedDict[str, _Session]:
        return self._namespaces.setdefault(namespace, OrderedDict())

    def _session(self, namespace: str, session: str) -> _Session:
        """The session's state, created if absent (a control-plane call without a touch)."""
        sessions = self._sessions(namespace)
        state = sessions.get(session)
        if state is None:
            state = sessions[session] = _Session(last_used=0.0)
        return state

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        with self._lock:
            sessions = self._sessions(namespace)
            state = sessions.get(session)
            created = state is None or (
                session != DEFAULT_SESSION and self.limits.expired(state.last_used, now)
            )
            # last_used 0.0: made by a late write after it was forgotten, never touched since
            expired = created and state is not None and state.last_used > 0.0
            if state is None or created:
                state = sessions[session] = _Session(last_used=now)
            state.last_used = now
            sessions.move_to_end(session)
            self._evict(sessions, now, session)
            return Touched(created=created, has_faults=bool(state.faults), expired=expired)

    def _evict(self, sessions: OrderedDict[str, _Session], now: float, touched: str) -> None:
        while len(sessions) > self.limits.max_sessions:
            kept = (DEFAULT_SESSION, touched)
            oldest = next((name for name in sessions if name not in kept), None)
            if oldest is None:  # only default and the session touched are left: both stay
                break
            del sessions[oldest]
        for name in list(itertools.islice(sessions, 8)):  # the least recently used first
            if name != DEFAULT_SESSION and self.limits.expired(sessions[name].last_used, now):
                del sessions[name]

    async def reset(self, namespace: str, session: str) -> None:
        with self._lock:
            state = self._session(namespace, session)
            self._sessions(namespace)[session] = _Session(last_used=state.last_used)

    async def sessions(self, namespace: str) -> list[str]:
        with self._lock:
            return list(self._sessions(namespace))

    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        with self._lock:
            record = self._session(namespace, session).changes.get(table, {}).get(key)
            return clone(record) if record is not None else None

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        with self._lock:
            rows = self._session(namespace, session).changes.get(table, {})
            return [(key, clone(record)) for key, record in rows.items()]

    async def transition(
        self,
        namespace: str,
        session: str,
        table: str,
        key: str,
        base: Record | None,
        decide: Decide[Outcome],
        *,
        read: Read | None = None,
    ) -> Outcome:
        with self._lock:
            rows = self._session(namespace, session).changes.setdefault(table, {})
            current = rows.get(key, base)
            decision = decide(current)  # decide never changes its argument (Decide)
            if decision.replacement is not None:
                rows[key] = clone(decision.replacement)
            return decision.outcome

    async def insert_all(
        self, namespace: str, session: str, table: str, rows: Sequence[tuple[str, Record]]
    ) -> list[str]:
        with self._lock:
            stored = self._session(namespace, session).changes.setdefault(table, {})
            taken = [key for key, _ in rows if key in stored]
            if not taken:
                stored.update((key, clone(record)) for key, record in rows)
            return taken

    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        with self._lock:
            state = self._session(namespace, session)
            if state.journal is None:
                state.journal = deque()
            state.journal.append((next(self._ids), entry))
            state.journal_bytes += entry.size
            while state.journal_bytes > self.limits.journal_bytes and len(state.journal) > 1:
                _, dropped = state.journal.popleft()
                state.journal_bytes -= dropped.size

    async def journal(self, namespace: str, session: str) -> list[Logged]:
        with self._lock:
            entries = list(self._session(namespace, session).journal or ())
        return [Logged(id, e.at, e.api, e.operation, e.status, e.to_json(id)) for id, e in entries]

    async def clear_journal(self, namespace: str, session: str) -> None:
        with self._lock:
            state = self._session(namespace, session)
            state.journal = None
            state.journal_bytes = 0

    async def add_fault(
        self,
        namespace: str,
        session: str,
        *,
        api: str,
        operation: str,
        status: int | None,
        delay_ms: int,
        drop: bool,
        times: int | None,
    ) -> Fault:
        with self._lock:
            fault = Fault(next(self._ids), api, operation, status, delay_ms, drop, times)
            self._session(namespace, session).faults.append(fault)
            return fault

    async def faults(self, namespace: str, session: str) -> list[Fault]:
        with self._lock:
            return list(self._session(namespace, session).faults)

    async def clear_faults(self, namespace: str, session: str) -> int:
        with self._lock:
            faults = self._session(namespace, session).faults
            count = len(faults)
            faults.clear()
            return count

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        with self._lock:
            faults = self._session(namespace, session).faults
            for index, fault in enumerate(faults):
                if fault.api != api or fault.operation != operation:
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining <= 1:
                    del faults[index]
                else:
                    faults[index] = replace(fault, remaining=fault.remaining - 1)
                return fault
        return None
