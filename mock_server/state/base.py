"""The seam every back-end implements: sessions, records, journal and faults, all async.

A session holds only what changed from the fixtures: the fixture records (the
*base*) live in each process's memory, identical in every worker, and a back-end
stores the records a transition replaced, Firma's rate windows, the journal and
the faults. So creating a session is O(1), and a reset deletes its changes.

Everything is keyed by a *namespace*, one per fixture world (see
:meth:`Backend.world`): a fixture edit under ``--watch`` moves every worker to
a new namespace, so every session starts again once, whichever worker sees the
edit first.

The only write to a record is :meth:`Backend.transition`, which applies a pure
``decide`` atomically: a lock in memory, one ``BEGIN IMMEDIATE`` transaction in
SQLite, an optimistic compare-and-set (Lua) in Redis. That is what makes any
number of concurrent cancels of one request, over any number of workers and
hosts, yield exactly one ``200``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "Backend",
    "Begun",
    "Read",
    "InSteps",
    "Decision",
    "Decide",
    "Fault",
    "JournalEntry",
    "Logged",
    "Outcome",
    "Record",
    "StoreRefused",
    "StoreUnavailable",
    "Touched",
    "Window",
    "clone",
    "count_in",
    "insert",
]

Record = dict[str, Any]
Outcome = TypeVar("Outcome")


# The results below are built on every request: plain slotted dataclasses, not frozen
# (a frozen one's __init__ sets each field through object.__setattr__, ~3x slower);
# nothing changes one once built.
@dataclass(slots=True)
class Decision(Generic[Outcome]):
    """What ``decide`` returns: the record to store (``None``: leave it) and the outcome."""

    outcome: Outcome
    replacement: Record | None = None


Decide = Callable[[Record | None], Decision[Outcome]]
"""A pure function from the current record (``None``: absent) to a :class:`Decision`.

A back-end may call it more than once for one transition (an optimistic retry
after a concurrent write), so it must not read a clock or have effects: callers
read the time once, before, and close over it. It must not change its argument
either (it may be the fixture record every session shares): the replacement is a
new record (``{**record, ...}``), which the back-end copies as it stores it.
"""


@dataclass(slots=True)
class Window:
    """A fixed window after an event was counted in it."""

    start: float
    used: int


def count_in(window: Record | None, now: float, length: float) -> Decision[Window]:
    """The ``decide`` of :meth:`Backend.count`, for back-ends that count by transition.

    >>> count_in(None, 100.0, 60).outcome
    Window(start=100.0, used=1)
    >>> count_in({"start": 100.0, "used": 1}, 130.0, 60).outcome
    Window(start=100.0, used=2)
    >>> count_in({"start": 100.0, "used": 7}, 160.0, 60).outcome
    Window(start=160.0, used=1)
    """
    if window is None or now >= window["start"] + length:
        start, used = now, 1
    else:
        start, used = window["start"], window["used"] + 1
    return Decision(Window(start, used), {"start": start, "used": used})


class StoreUnavailable(Exception):
    """The store cannot be reached: the request gets a 503 with ``Retry-After``."""


class StoreRefused(StoreUnavailable):
    """The store answers but refuses the mock (its credentials, a command it needs): while
    serving, a 503 as when it cannot be reached; at start-up, a refusal whose message names
    the fix (never "start it": it runs)."""


def insert(record: Record) -> Decide[bool]:
    """A ``decide`` that stores ``record`` unless its key is taken; the outcome says whether.

    >>> decide = insert({"x": 1})
    >>> decide(None).outcome, decide({"x": 0}).outcome
    (True, False)
    """

    def decide(current: Record | None) -> Decision[bool]:
        return Decision(False) if current is not None else Decision(True, replacement=record)

    return decide


def clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars): records are nothing else,
    and this is several times faster than ``copy.deepcopy`` on the hot path.

    >>> record = {"a": [{"b": 1}]}
    >>> copy = clone(record); copy["a"][0]["b"] = 2; record
    {'a': [{'b': 1}]}
    """
    if type(value) is dict:
        return {key: clone(item) for key, item in value.items()}
    if type(value) is list:
        return [clone(item) for item in value]
    return value


@dataclass(slots=True)
class Touched:
    """What :meth:`Backend.touch` says about a session as a request begins."""

    created: bool
    """The session did not exist (new, or forgotten: idle too long, or evicted)."""
    has_faults: bool
    """Whether any fault is set (else the request need not ask for one)."""
    expired: bool = False
    """Created because this request found it idle beyond the TTL (the one reason known:
    a session forgotten earlier, idle or evicted, is gone, like one never seen)."""


@dataclass(slots=True)
class Read:
    """A record as read at the start of a request, for the transition that follows.

    ``token`` is the back-end's own (Redis: the raw text its compare-and-set expects),
    so a transition can decide on this read without reading again; if the record
    changed since, the back-end notices and reads again.
    """

    record: Record | None
    token: Any = None


@dataclass(slots=True)
class Begun:
    """What :meth:`Backend.begin` found as a request began."""

    created: bool
    """The session did not exist (new, or forgotten: idle too long, or evicted)."""
    fault: Fault | None
    """The fault this call takes, if one is set for its operation (already counted)."""
    reads: Mapping[tuple[str, str], Read]
    """The records asked for, by (table, key), as changed in the session (``None``: never)."""
    expired: bool = False
    """As :attr:`Touched.expired`."""
    counts: Mapping[tuple[str, str], Window] = field(default_factory=dict)
    """The windows counted as asked, by (table, key): none if a fault was taken, or if the
    back-end leaves them to :meth:`Backend.count`."""


@dataclass(frozen=True)
class Fault:
    """One fault as set; ``remaining`` is ``None`` for "until deleted"."""

    id: int
    api: str
    operation: str
    status: int | None
    delay_ms: int
    drop: bool
    remaining: int | None

    def explain(self) -> dict[str, Any]:
        """The journal ``reason`` of an answer it forced (see ``state.journal.Reason``)."""
        if self.drop:
            rule = f"fault {self.id} on {self.operation} dropped the connection"
        elif self.status is not None:
            rule = (
                f"fault {self.id} on {self.operation} forced a documented answer; state unchanged"
            )
        else:
            rule = f"fault {self.id} on {self.operation} delayed the answer"
        return {"rule": rule, "cause": "fault", "fault": self.id, "delayMs": self.delay_ms}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api": self.api,
            "operation": self.operation,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "drop": self.drop,
            "remaining": self.remaining,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            id=int(data["id"]),
            api=str(data["api"]),
            operation=str(data["operation"]),
            status=data["status"],
            delay_ms=int(data["delay_ms"]),
            drop=bool(data["drop"]),
            remaining=data["remaining"],
        )


@dataclass(frozen=True)
class Logged:
    """One journal entry as read back: its order (``id``) and what filters need."""

    id: int
    at: float
    api: str | None
    operation: str | None
    status: int | None
    body: dict[str, Any]
    """The entry as ``GET /__mock/requests`` shows it, ``id`` included."""


class JournalEntry(Protocol):
    """What the journal hands a back-end (see :class:`mock_server.state.journal.Entry`)."""

    @property
    def at(self) -> float: ...

    @property
    def api(self) -> str | None: ...

    @property
    def operation(self) -> str | None: ...

    @property
    def status(self) -> int | None: ...

    @property
    def size(self) -> int:
        """Bytes this entry counts against the session's journal cap."""
        ...

    def to_json(self, id: int) -> dict[str, Any]: ...


class Backend(Protocol):
    """Everything a client can change, for every session of every world.

    ``table`` names a collection of one API (``"craftkit.signature_requests"``).
    Every method may raise :class:`StoreUnavailable`.
    """

    url: str
    """The store's URL as logs show it (no password)."""
    reads_ahead: bool
    """Whether :meth:`begin` reads the records it is given (in its round trip): else a
    caller need not work out which they are."""

    async def open(self) -> None:
        """Connect and check the store answers (raises :class:`StoreUnavailable`)."""
        ...

    async def close(self) -> None:
        """Let the connection go, for good: a call after it raises
        :class:`StoreUnavailable` (or, in memory, still works), never connecting again."""
        ...

    async def world(self, fingerprint: str) -> str:
        """The namespace of the fixture world ``fingerprint`` names.

        The namespace the store last served if it was this same world (so a
        restart keeps every session), else a new one, which every worker then
        adopts.
        """
        ...

    async def forget(self, namespace: str) -> None:
        """Delete everything of a namespace no longer served."""
        ...

    # sessions
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
        """A request begins: :meth:`touch` the session, take the fault ``call`` (api,
        operation) has if any (:meth:`take_fault`), count ``counts`` ((table, key, window):
        :meth:`count` at ``now``) if it took none, and read ``reads`` ((table, key):
        :meth:`get`), in one round trip where the back-end can.

        ``reads`` and ``counts`` are hints for what the request will do next: a back-end
        whose :meth:`transition` and :meth:`count` cost no extra round trip (memory, SQLite:
        one step either way) leaves them out of :attr:`Begun.reads` and :attr:`Begun.counts`,
        and the request reads and counts itself."""
        ...

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        """Register a request to ``session``: create it if new, refresh its idle time,
        and forget sessions idle beyond the TTL or beyond the cap (least recently used
        first; never ``default``)."""
        ...

    async def reset(self, namespace: str, session: str) -> None:
        """Forget what ``session`` changed: records, rate windows, journal, faults."""
        ...

    async def sessions(self, namespace: str, now: float | None = None) -> list[str]:
        """The sessions that exist, least recently used first; with ``now``, only those
        not idle past ``limits.session_ttl`` at ``now`` (``default`` always): the others
        are forgotten at their next use, and evicted lazily."""
        ...

    # records
    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        """The record as changed in ``session``, or ``None`` if it never changed."""
        ...

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        """Every changed record of ``table``, in the order of their first change."""
        ...

    async def versions(self, namespace: str, session: str, table: str) -> dict[str, object]:
        """Every changed record of ``table`` (keys in the order of their first change) as a
        token equal between two calls only while the record is unchanged: the stored form,
        not decoded (the live event stream compares them every half second, and decodes
        only the records that changed)."""
        ...

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
        """Atomically: read the record (as changed, else ``base``), decide, store the
        replacement. The outcome is ``decide``'s for the read it acted on. ``read``, from
        :meth:`begin`, may stand for the first read (a back-end that checks it when writing
        saves a round trip; one that locks ignores it)."""
        ...

    async def insert_all(
        self, namespace: str, session: str, table: str, rows: Sequence[tuple[str, Record]]
    ) -> list[str]:
        """Atomically, in one step: store every record of ``rows`` ((key, record), keys
        distinct) as new, or none if any key is taken (changed in the session). Returns the
        keys taken, in ``rows``' order; empty: all stored, first changed in ``rows``' order.
        Keys of fixture records (the base) are the caller's to refuse."""
        ...

    async def count(
        self, namespace: str, session: str, table: str, key: str, now: float, window: float
    ) -> Window:
        """Count one event in ``key``'s fixed window: the one open at ``now``, or a new one
        opened by this event if there is none or it has run out (``start + window <= now``).

        The one write besides :meth:`transition`: a rate limit's single hot key, written by
        every request of one API key at once, where an optimistic back-end would retry
        without end. The record is ``{"start": ..., "used": ...}``, readable with :meth:`get`.
        """
        ...

    # journal
    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        """Append an exchange; the oldest ones go beyond the session's byte cap."""
        ...

    async def journal(self, namespace: str, session: str, *, from_id: int = 0) -> list[Logged]:
        """The session's journal, oldest first (ids increase in the order logged).

        With ``from_id`` (an entry's id): when the journal still holds that entry, it and the
        entries after it only, rendering no other (the live event stream asks every half
        second for what is new); when it no longer does (cleared, reset, trimmed), every
        entry. So the first entry returned is entry ``from_id`` exactly when it is held."""
        ...

    async def clear_journal(self, namespace: str, session: str) -> None: ...

    # faults
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
    ) -> Fault: ...

    async def faults(self, namespace: str, session: str) -> list[Fault]: ...

    async def clear_faults(self, namespace: str, session: str) -> int:
        """Remove every fault; returns how many there were."""
        ...

    async def remove_fault(self, namespace: str, session: str, fault_id: int) -> bool:
        """Remove the session's fault ``fault_id`` in one atomic step (a worker counting it
        down at the same time neither keeps nor brings it back); whether it was there."""
        ...

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        """The first fault for this call, if any, counted against its ``times`` (a fault
        with ``times: 2`` answers twice in total, whichever worker answers)."""
        ...


class InSteps:
    """:meth:`Backend.begin` and :meth:`Backend.count` from the other operations, for
    back-ends where a step costs no round trip (memory) or where one transaction each is
    as good (SQLite): a mixin, before the back-end's own methods."""

    reads_ahead = False  # a transition reads its record in its own step

    async def begin(
        self: Backend,
        namespace: str,
        session: str,
        now: float,
        *,
        call: tuple[str, str] | None = None,
        reads: Sequence[tuple[str, str]] = (),
        counts: Sequence[tuple[str, str, float]] = (),
    ) -> Begun:
        touched = await self.touch(namespace, session, now)
        fault = None
        if call is not None and touched.has_faults:
            fault = await self.take_fault(namespace, session, *call)
        # No reads, no counts: a transition or count here is one step of its own either way.
        return Begun(created=touched.created, fault=fault, reads={}, expired=touched.expired)

    async def count(
        self: Backend,
        namespace: str,
        session: str,
        table: str,
        key: str,
        now: float,
        window: float,
    ) -> Window:
        return await self.transition(
            namespace, session, table, key, None, lambda record: count_in(record, now, window)
        )
