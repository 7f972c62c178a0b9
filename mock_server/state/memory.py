"""The default back-end: everything in this process's memory (one worker, lost on exit).

Records are kept marshalled (:func:`keep`): bytes, which the garbage collector does not
track, nor the dicts holding only them, so a full collection never walks them however
many records clients create (issue #12: 100,000 created Craftkit requests were 200,000
tracked dicts and lists, 70-90 ms of CPU for each full collection to walk). Each read
decodes a new copy (:func:`kept`): ``marshal`` reads a record ~25 % faster than
:func:`clone` copied it, and writes one in half the time. A record of scalars alone (a
Firma JWT) is kept as a copy of its dict instead: one the collector does not track
either, copied six times faster than ``marshal`` reads it.
"""

from __future__ import annotations

import gc
import itertools
import marshal
import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from mock_server.state.base import (
    Begun,
    Decide,
    Fault,
    InSteps,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    Touched,
    Window,
    clone,
    count_in,
)
from mock_server.state.limits import DEFAULT_SESSION, Limits

__all__ = ["MemoryBackend", "keep", "kept"]

_MARSHAL_VERSION = 2
"""Without version 3's back-references: records are small, and read ~20 % faster."""

Kept = bytes | Record
"""A record as stored: marshalled; else a dict (a copy of a record marshal cannot write,
or a rate window: :meth:`MemoryBackend.count`)."""


def keep(record: Record) -> Kept:
    """``record`` as the store keeps it: a copy, nothing for the collector to walk.

    A dict the collector does not track holds no container (CPython tracks a dict from
    the moment it holds one): its values are scalars, which no one changes in place
    (records are JSON's and YAML's values), so a shallow copy is a whole one, and stays
    untracked. Any other record is marshalled; one holding a value marshal refuses (not
    JSON's kind, e.g. a ``date`` among lists) is kept as a deep copy, as all records were
    before, which the collector walks.

    >>> keep({"id": "a", "recipients": [{"order": 1}]})[:1]
    b'{'
    >>> keep({"id": "a", "revoked": None})
    {'id': 'a', 'revoked': None}
    >>> keep({"at": [__import__("datetime").date(2024, 1, 2)]})
    {'at': [datetime.date(2024, 1, 2)]}
    """
    if not gc.is_tracked(record):
        return record.copy()  # (untracked too: a copy of an untracked dict is)
    try:
        return marshal.dumps(record, _MARSHAL_VERSION)
    except ValueError:
        return clone(record)  # type: ignore[no-any-return]


def kept(stored: Kept) -> Record:
    """A new copy of a record :func:`keep` kept.

    >>> kept(keep({"id": "a", "recipients": [{"order": 1}]}))
    {'id': 'a', 'recipients': [{'order': 1}]}
    >>> original = {"id": "a"}
    >>> copy = kept(keep(original))
    >>> copy == original and copy is not original
    True
    """
    if type(stored) is bytes:
        record: Record = marshal.loads(stored)
        return record
    if not gc.is_tracked(stored):  # (a dict: bytes returned above)
        return stored.copy()  # type: ignore[union-attr]
    return clone(stored)  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Session:
    """What one session changed; empty containers are shared until first written (an idle
    session costs a few hundred bytes)."""

    last_used: float
    changes: dict[str, dict[str, Kept]] = field(default_factory=dict)
    journal: deque[tuple[int, JournalEntry, int]] | None = None
    """Its entries: (id, entry, the bytes it counts against the cap: its size, once)."""
    journal_bytes: int = 0
    faults: list[Fault] = field(default_factory=list)


_ORDINARY = Begun(created=False, fault=None, reads=MappingProxyType({}), expired=False)
"""What most requests' beginning finds (a session in use, no fault for the call): one
object for them all."""


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
        self._swept = -1e9  # when _evict last looked for idle sessions

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
        sessions = self._namespaces.get(namespace)  # no OrderedDict made per call
        if sessions is None:
            sessions = self._namespaces[namespace] = OrderedDict()
        return sessions

    def _session(self, namespace: str, session: str) -> _Session:
        """The session's state, created if absent (a control-plane call without a touch)."""
        sessions = self._namespaces.get(namespace)
        if sessions is not None:
            state = sessions.get(session)
            if state is not None:  # (every request's calls: one call, two lookups)
                return state
        sessions = self._sessions(namespace)
        state = sessions[session] = _Session(last_used=0.0)
        return state

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        with self._lock:
            state, created, expired = self._touch(namespace, session, now)
            return Touched(created=created, has_faults=bool(state.faults), expired=expired)

    async def begin(
        self,
        namespace: str,
        session: str,
        now: float,
        *,
        call: tuple[str, str] | None = None,
        reads: Sequence[tuple[str, str]] = (),
        counts: Sequence[tuple[str, str, float]] = (),
    ) -> Begun:
        # InSteps' touch, then take_fault, in one step: the lock taken once, no Touched made.
        lock = self._lock
        lock.acquire()  # (in the calls every request makes: not `with`, which costs twice)
        try:
            state, created, expired = self._touch(namespace, session, now)
            fault = self._take(state.faults, *call) if call is not None and state.faults else None
        finally:
            lock.release()
        if not created and fault is None:
            return _ORDINARY
        return Begun(created=created, fault=fault, reads={}, expired=expired)

    def _touch(self, namespace: str, session: str, now: float) -> tuple[_Session, bool, bool]:
        """The session's state, created or refreshed (under the lock); whether it was
        created, and whether because it had expired (:class:`Touched`)."""
        sessions = self._namespaces.get(namespace)
        if sessions is None:
            sessions = self._sessions(namespace)
        state = sessions.get(session)
        created = state is None or (self.limits.forgotten(session, state.last_used, now))
        # last_used 0.0: made by a late write after it was forgotten, never touched since
        expired = created and state is not None and state.last_used > 0.0
        if state is None or created:
            state = sessions[session] = _Session(last_used=now)
        state.last_used = now
        sessions.move_to_end(session)
        self._evict(sessions, now, session)
        return state, created, expired

    def _evict(self, sessions: OrderedDict[str, _Session], now: float, touched: str) -> None:
        while len(sessions) > self.limits.max_sessions:
            kept = (DEFAULT_SESSION, touched)
            oldest = next((name for name in sessions if name not in kept), None)
            if oldest is None:  # only default and the session touched are left: both stay
                break
            del sessions[oldest]
        # Idle ones, looked for once a second of the clock at most: whether a session is
        # forgotten is read from its last use wherever it matters, so one kept a moment past
        # its time is never served; this only gives back its memory.
        # Least recently used first, so the idle ones lead: every one of them goes (not a
        # few a sweep: a thousand sessions gone idle together give their memory back at
        # once), up to the first still in use; default is never forgotten.
        if 0.0 <= now - self._swept < 1.0:
            return
        self._swept = now
        idle = []
        for name, state in sessions.items():
            if self.limits.forgotten(name, state.last_used, now):
                idle.append(name)
            elif name != DEFAULT_SESSION:
                break
        for name in idle:
            del sessions[name]

    async def reset(self, namespace: str, session: str) -> None:
        with self._lock:
            state = self._session(namespace, session)
            self._sessions(namespace)[session] = _Session(last_used=state.last_used)

    async def sessions(self, namespace: str, now: float | None = None) -> list[str]:
        with self._lock:
            sessions = self._sessions(namespace)
            return [
                name
                for name, state in sessions.items()
                if now is None or not self.limits.forgotten(name, state.last_used, now)
            ]

    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        with self._lock:
            stored = self._session(namespace, session).changes.get(table, {}).get(key)
            return kept(stored) if stored is not None else None

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        with self._lock:
            rows = self._session(namespace, session).changes.get(table, {})
            return [(key, kept(stored)) for key, stored in rows.items()]

    async def versions(self, namespace: str, session: str, table: str) -> dict[str, object]:
        with self._lock:  # marshalled bytes (a rate window: its dict, replaced on change)
            return dict(self._session(namespace, session).changes.get(table, {}))

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
        lock = self._lock
        lock.acquire()  # (as in begin)
        try:
            rows = self._session(namespace, session).changes.setdefault(table, {})
            stored = rows.get(key)
            current = kept(stored) if stored is not None else base
            decision = decide(current)  # decide never changes its argument (Decide)
            if decision.replacement is not None:
                rows[key] = keep(decision.replacement)
            return decision.outcome
        finally:
            lock.release()

    async def count(
        self, namespace: str, session: str, table: str, key: str, now: float, window: float
    ) -> Window:
        # A rate window is read and written by every request of its key: kept as count_in
        # makes it, a new dict of two numbers (which the collector does not track either),
        # read in place, never copied.
        lock = self._lock
        lock.acquire()  # (as in begin)
        try:
            rows = self._session(namespace, session).changes.setdefault(table, {})
            stored = rows.get(key)
            decision = count_in(kept(stored) if isinstance(stored, bytes) else stored, now, window)
            if decision.replacement is not None:
                rows[key] = decision.replacement
            return decision.outcome
        finally:
            lock.release()

    async def insert_all(
        self, namespace: str, session: str, table: str, rows: Sequence[tuple[str, Record]]
    ) -> list[str]:
        with self._lock:
            stored = self._session(namespace, session).changes.setdefault(table, {})
            taken = [key for key, _ in rows if key in stored]
            if not taken:
                stored.update((key, keep(record)) for key, record in rows)
            return taken

    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        lock = self._lock
        lock.acquire()  # (as in begin)
        try:
            state = self._session(namespace, session)
            journal = state.journal
            if journal is None:
                journal = state.journal = deque()
            size = entry.size
            journal.append((next(self._ids), entry, size))
            held = state.journal_bytes + size
            if held > self.limits.journal_bytes:
                while held > self.limits.journal_bytes and len(journal) > 1:
                    held -= journal.popleft()[2]
            state.journal_bytes = held
        finally:
            lock.release()

    async def journal(self, namespace: str, session: str, *, from_id: int = 0) -> list[Logged]:
        with self._lock:
            held = self._session(namespace, session).journal or ()
            entries: list[tuple[int, JournalEntry, int]] = []
            if from_id:  # from the newest back to entry `from_id`, if it is there
                for logged in reversed(held):
                    entries.append(logged)
                    if logged[0] <= from_id:
                        break
                entries.reverse()
            if not entries or entries[0][0] != from_id:
                entries = list(held)
        return [
            Logged(id, e.at, e.api, e.operation, e.status, e.to_json(id)) for id, e, _ in entries
        ]

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

    async def remove_fault(self, namespace: str, session: str, fault_id: int) -> bool:
        with self._lock:
            faults = self._session(namespace, session).faults
            for index, fault in enumerate(faults):
                if fault.id == fault_id:
                    del faults[index]
                    return True
            return False

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        with self._lock:
            return self._take(self._session(namespace, session).faults, api, operation)

    @staticmethod
    def _take(faults: list[Fault], api: str, operation: str) -> Fault | None:
        """The first of ``faults`` for the call, counted (under the lock)."""
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
