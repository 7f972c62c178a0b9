"""Sessions: isolated worlds, one per ``X-Mock-Session`` name, over any back-end.

A session is the fixture world (the *base*, in memory, shared by every session)
plus what its clients changed (in the back-end). Creating one costs nothing;
``POST /__mock/reset`` forgets its changes, journal and faults, in every worker.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from mock_server.clock import Clock
from mock_server.state.base import (
    Backend,
    Decide,
    Fault,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    Window,
    clone,
)
from mock_server.state.limits import DEFAULT_SESSION

__all__ = [
    "DEFAULT_SESSION",
    "HEADER",
    "Base",
    "Session",
    "SessionRefused",
    "SessionStore",
    "Sessions",
]

log = logging.getLogger("mock_server.sessions")

HEADER = b"x-mock-session"
"""The request header naming the session, as ASGI spells it."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

Base = Mapping[str, Mapping[str, Mapping[str, Record]]]
"""The fixture world: API name -> collection -> key -> record, in fixture order."""


_NONE: Mapping[str, Record] = MappingProxyType({})
"""A collection the fixtures have no records in."""


class SessionRefused(Exception):
    """The ``X-Mock-Session`` header is not a session name."""


class SessionStore:
    """One API's records in one session: the fixtures, overlaid with what changed.

    What the handlers get. Reads return copies; the only write is :meth:`transition`.
    """

    def __init__(
        self,
        backend: Backend,
        namespace: str,
        session: str,
        api: str,
        base: Mapping[str, Any],
        reads: dict[tuple[str, str], Read] | None = None,
        counted: dict[tuple[str, str], Window] | None = None,
        began_at: float | None = None,
    ) -> None:
        self._backend = backend
        self._namespace = namespace
        self._session = session
        self._api = api
        self._base: Mapping[str, Mapping[str, Record]] = base
        self._reads = reads if reads is not None else {}
        self._counted = counted if counted is not None else {}
        self.began_at = began_at
        """When the request began (the session's clock as it began), if it has: the time
        its events are counted at (:meth:`count`), on every back-end alike."""

    def _table(self, collection: str) -> str:
        return f"{self._api}.{collection}"

    async def get(self, collection: str, key: str) -> Record | None:
        """The record as this session sees it, or ``None``."""
        changed = await self._backend.get(
            self._namespace, self._session, self._table(collection), key
        )
        if changed is not None:
            return changed
        record = self._base.get(collection, {}).get(key)
        return clone(record) if record is not None else None

    async def records(self, collection: str) -> list[Record]:
        """Every record: the fixtures' in their order (as changed), then the new ones."""
        changed = dict(
            await self._backend.changed(self._namespace, self._session, self._table(collection))
        )
        base = self._base.get(collection, {})
        rows = [changed.pop(key, None) or clone(record) for key, record in base.items()]
        return rows + list(changed.values())

    async def changed(self, collection: str) -> list[tuple[str, Record]]:
        """The records this session changed or created, by key, in their first change's order."""
        return await self._backend.changed(self._namespace, self._session, self._table(collection))

    async def versions(self, collection: str) -> dict[str, object]:
        """The keys of :meth:`changed`, each with a token that differs once its record
        changes (:meth:`~mock_server.state.base.Backend.versions`): nothing decoded."""
        return await self._backend.versions(self._namespace, self._session, self._table(collection))

    async def transition(self, collection: str, key: str, decide: Decide[Outcome]) -> Outcome:
        """Atomically: read the record (``None`` if absent), decide, store the replacement."""
        table = self._table(collection)
        return await self._backend.transition(
            self._namespace,
            self._session,
            table,
            key,
            self._base.get(collection, _NONE).get(key),
            decide,
            # read as the request began: once (a back-end that reads ahead has some)
            read=self._reads.pop((table, key), None) if self._reads else None,
        )

    async def insert_all(self, collection: str, records: Sequence[tuple[str, Record]]) -> list[str]:
        """Atomically: create every record of ``records`` ((key, record), keys distinct), or
        none if any key exists already. Returns the keys found taken, in order (the fixture
        records' if any, else those created or changed in the session); empty: all created."""
        base = self._base.get(collection, {})
        taken = [key for key, _ in records if key in base]
        if taken:
            return taken
        return await self._backend.insert_all(
            self._namespace, self._session, self._table(collection), records
        )

    async def count(self, collection: str, key: str, now: float, window: float) -> Window:
        """Count one event in ``key``'s fixed window of ``window`` seconds (see
        :meth:`~mock_server.state.base.Backend.count`): counted as the request began if it
        was asked to be and the back-end did (then at that time, once)."""
        table = self._table(collection)
        if self._counted:
            counted = self._counted.pop((table, key), None)
            if counted is not None:
                return counted
        return await self._backend.count(self._namespace, self._session, table, key, now, window)


class Session:
    """One session as a request sees it: its stores, journal and faults."""

    def __init__(
        self, backend: Backend, namespace: str, name: str, base: Base, clock: Clock
    ) -> None:
        self.name = name
        self._backend = backend
        self._namespace = namespace
        self._base = base
        self._clock = clock
        self.begun = False
        self.created = False
        """This request found no such session: it starts from the fixtures."""
        self.fault: Fault | None = None
        """The fault :meth:`begin` took for the call, if any."""
        self._reads: dict[tuple[str, str], Read] = {}
        self._counted: dict[tuple[str, str], Window] = {}
        self.began_at: float | None = None
        """The session's clock as the request began (:meth:`begin`)."""

    async def begin(
        self,
        call: tuple[str, str] | None = None,
        reads: Sequence[tuple[str, str, str]] = (),
        counts: Sequence[tuple[str, str, str, float]] = (),
    ) -> None:
        """The request begins (once): the session is created or refreshed, the fault of
        ``call`` (api, operation) taken, ``counts`` ((api, collection, key, window)) counted
        if it took none, for the :meth:`SessionStore.count` to come, and ``reads`` ((api,
        collection, key)) read for the transitions to come, in one round trip where the
        back-end can."""
        if self.begun:
            return
        self.begun = True
        self.began_at = now = self._clock()
        begun = await self._backend.begin(
            self._namespace,
            self.name,
            now,
            call=call,
            reads=[(f"{api}.{collection}", key) for api, collection, key in reads] if reads else (),
            counts=[(f"{api}.{collection}", key, window) for api, collection, key, window in counts]
            if counts
            else (),
        )
        self.created, self.fault = begun.created, begun.fault
        if begun.reads:
            self._reads = dict(begun.reads)
        if begun.counts:
            self._counted = dict(begun.counts)
        if self.created and self.name != DEFAULT_SESSION:
            log.info(
                "session %r started from the fixtures (%s)",
                self.name,
                "it was idle beyond --session-ttl"
                if begun.expired
                else "new, or forgotten: idle beyond --session-ttl or evicted beyond "
                "--max-sessions",
            )

    @property
    def reads_ahead(self) -> bool:
        """Whether :meth:`begin` reads the records and counts the windows it is given (else
        give none: working out which they are costs a request for nothing)."""
        return self._backend.reads_ahead

    def store(self, api: str) -> SessionStore:
        return SessionStore(
            self._backend,
            self._namespace,
            self.name,
            api,
            self._base[api],
            self._reads,
            self._counted,
            self.began_at,
        )

    async def reset(self) -> None:
        await self._backend.reset(self._namespace, self.name)

    async def log(self, entry: JournalEntry) -> None:
        if not self.begun:  # a request answered before it began (404, 405) still counts
            await self.begin()
        await self._backend.log(self._namespace, self.name, entry)

    async def journal(
        self,
        *,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        since: float | None = None,
        from_id: int = 0,
    ) -> list[Logged]:
        """Entries matching every filter given (``since``: at or after, epoch seconds;
        ``from_id``: entry ``from_id`` and those after it when the journal still holds it,
        else all, see :meth:`~mock_server.state.base.Backend.journal`)."""
        return [
            e
            for e in await self._backend.journal(self._namespace, self.name, from_id=from_id)
            if (api is None or e.api == api)
            and (operation is None or e.operation == operation)
            and (status is None or e.status == status)
            and (since is None or e.at >= since)
        ]

    async def clear_journal(self) -> None:
        await self._backend.clear_journal(self._namespace, self.name)

    async def faults(self) -> list[Fault]:
        return await self._backend.faults(self._namespace, self.name)

    async def add_fault(
        self,
        api: str,
        operation: str,
        *,
        status: int | None = None,
        delay_ms: int = 0,
        drop: bool = False,
        times: int | None = None,
    ) -> Fault:
        return await self._backend.add_fault(
            self._namespace,
            self.name,
            api=api,
            operation=operation,
            status=status,
            delay_ms=delay_ms,
            drop=drop,
            times=times,
        )

    async def clear_faults(self) -> int:
        return await self._backend.clear_faults(self._namespace, self.name)

    async def remove_fault(self, fault_id: int) -> bool:
        """Remove the fault ``fault_id``; whether the session had it."""
        return await self._backend.remove_fault(self._namespace, self.name, fault_id)


class Sessions:
    """The sessions of one fixture world (a namespace of the back-end).

    >>> import asyncio
    >>> from mock_server.state.memory import MemoryBackend
    >>> sessions = Sessions(MemoryBackend(), "ns", {"firma": {}}, clock=lambda: 0.0)
    >>> asyncio.run(sessions.open("suite-a")).created
    True
    >>> asyncio.run(sessions.open("suite-a")).created
    False
    """

    def __init__(self, backend: Backend, namespace: str, base: Base, *, clock: Clock) -> None:
        self.backend = backend
        self.namespace = namespace
        self._base = base
        self._clock = clock

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

    def session(self, name: str) -> Session:
        """The session called ``name`` for one request, before it begins (no I/O)."""
        return Session(self.backend, self.namespace, name, self._base, self._clock)

    async def open(self, name: str) -> Session:
        """The session called ``name`` for one request, begun: created if new, its idle
        time reset."""
        session = self.session(name)
        await session.begin()
        return session

    async def names(self) -> list[str]:
        """The sessions not forgotten: none idle past ``--session-ttl``."""
        return await self.backend.sessions(self.namespace, self._clock())
