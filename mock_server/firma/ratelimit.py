"""Firma's per-key write quota: a fixed one-minute window, as its headers describe it.

Every authenticated write counts, whatever its outcome (DESIGN.md), so
``X-RateLimit-Remaining`` falls by one per request and a client can pace itself.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from mock_server.clock import Clock

__all__ = ["WINDOW_SECONDS", "Quota", "RateLimiter"]

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Quota:
    """One key's standing after (or without) a write."""

    limit: int
    remaining: int
    reset: int
    """Unix seconds at which the window restarts."""
    exceeded: bool
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Fixed windows per key, opened by the key's first write.

    >>> clock = iter([100.0, 101.0, 102.0]).__next__
    >>> limiter = RateLimiter(2, clock)
    >>> [limiter.write("k").exceeded for _ in range(3)]
    [False, False, True]
    """

    def __init__(self, limit: int, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def write(self, key: str) -> Quota:
        """Count one write by ``key`` and say whether it is over the limit."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now >= start + WINDOW_SECONDS:
                start, used = now, 0
            used += 1
            self._windows[key] = (start, used)
        return self._quota(start, used, now)

    def peek(self, key: str | None) -> Quota:
        """The standing of ``key`` without counting (unauthenticated or refused routes)."""
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(key or "", (now, 0))
        if now >= start + WINDOW_SECONDS:
            start, used = now, 0
        return self._quota(start, used, now)

    def _quota(self, start: float, used: int, now: float) -> Quota:
        reset = start + WINDOW_SECONDS
        return Quota(
            limit=self.limit,
            remaining=max(self.limit - used, 0),
            reset=math.ceil(reset),
            exceeded=used > self.limit,
            retry_after=max(math.ceil(reset - now), 1),
        )
