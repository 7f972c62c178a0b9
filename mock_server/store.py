"""State behind a small interface whose only write is an atomic transition.

Handlers never read-modify-write: they hand :meth:`Store.transition` a pure
``decide`` function, and the store applies it atomically (a lock in memory; a
transaction or WATCH/MULTI in the SQLite and Redis back-ends to come). That is
what makes 50 concurrent cancels of one request yield exactly one ``200``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Decision", "MemoryStore", "Record", "Store", "insert"]

Record = dict[str, Any]
Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class Decision(Generic[Outcome]):
    """What ``decide`` returns: the record to store (``None``: leave it) and the outcome."""

    outcome: Outcome
    replacement: Record | None = None


class Store(Protocol):
    """Records by collection and key. Keys are compared as given (callers normalise)."""

    def get(self, collection: str, key: str) -> Record | None:
        """A copy of one record, or ``None``."""
        ...

    def records(self, collection: str) -> list[Record]:
        """Copies of every record of ``collection``, in insertion order."""
        ...

    def transition(
        self,
        collection: str,
        key: str,
        decide: Callable[[Record | None], Decision[Outcome]],
    ) -> Outcome:
        """Atomically: read the record (``None`` if absent), decide, store the replacement."""
        ...


def insert(record: Record) -> Callable[[Record | None], Decision[bool]]:
    """A ``decide`` that stores ``record`` unless its key is taken; the outcome says whether.

    >>> store = MemoryStore({})
    >>> store.transition("jwts", "a", insert({"x": 1})), store.transition("jwts", "a", insert({}))
    (True, False)
    """

    def decide(current: Record | None) -> Decision[bool]:
        return Decision(False) if current is not None else Decision(True, replacement=record)

    return decide


def _clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars): records are nothing else,
    and this is several times faster than ``copy.deepcopy`` on the hot path."""
    if type(value) is dict:
        return {key: _clone(item) for key, item in value.items()}
    if type(value) is list:
        return [_clone(item) for item in value]
    return value


class MemoryStore:
    """The default store: a dict per collection behind one lock.

    >>> store = MemoryStore({"jwts": [("a", {"revoked": False})]})
    >>> store.transition("jwts", "a", lambda r: Decision("ok", {**r, "revoked": True}))
    'ok'
    >>> store.get("jwts", "a")
    {'revoked': True}
    """

    def __init__(self, seed: Mapping[str, Iterable[tuple[str, Record]]]) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Record]] = {
            collection: {key: _clone(record) for key, record in rows}
            for collection, rows in seed.items()
        }

    def get(self, collection: str, key: str) -> Record | None:
        with self._lock:
            record = self._data.get(collection, {}).get(key)
            return _clone(record) if record is not None else None

    def records(self, collection: str) -> list[Record]:
        with self._lock:
            return [_clone(record) for record in self._data.get(collection, {}).values()]

    def transition(
        self,
        collection: str,
        key: str,
        decide: Callable[[Record | None], Decision[Outcome]],
    ) -> Outcome:
        with self._lock:
            table = self._data.setdefault(collection, {})
            current = table.get(key)
            decision = decide(_clone(current) if current is not None else None)
            if decision.replacement is not None:
                table[key] = _clone(decision.replacement)
            return decision.outcome
