"""Faults: forced answers, delays and dropped connections for one operation of one API.

Issue #4: ``POST /__mock/faults`` with ``{"api", "operation", "status"?,
"delay_ms"?, "drop"?, "times"?}``. A fault applies to the session it was set
in, to every matching request until ``times`` runs out (or until
``DELETE /__mock/faults``). The first fault set is the first consulted.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Fault", "Faults"]

_ids = itertools.count(1)


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

    @classmethod
    def new(
        cls,
        api: str,
        operation: str,
        *,
        status: int | None = None,
        delay_ms: int = 0,
        drop: bool = False,
        times: int | None = None,
    ) -> Fault:
        return cls(next(_ids), api, operation, status, delay_ms, drop, times)

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


class Faults:
    """The faults of one session.

    >>> faults = Faults()
    >>> _ = faults.add(Fault.new("firma", "POST /jwt/revoke-signing-request", status=429, times=1))
    >>> faults.take("firma", "POST /jwt/revoke-signing-request").status
    429
    >>> faults.take("firma", "POST /jwt/revoke-signing-request") is None
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, api: str, operation: str) -> Fault | None:
        """The fault for this call, if any, counting it against its ``times``."""
        if not self._faults:  # the common case, without the lock
            return None
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.api != api or fault.operation != operation:
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining <= 1:
                    del self._faults[index]
                else:
                    self._faults[index] = replace(fault, remaining=fault.remaining - 1)
                return fault
        return None
