"""Firma's per-key write quota: a fixed one-minute window, as its headers describe it.

Every authenticated write counts, whatever its outcome (docs/behaviour.md), so
``X-RateLimit-Remaining`` falls by one per request and a client can pace itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from mock_server.clock import Clock
from mock_server.state.base import Record
from mock_server.state.sessions import SessionStore

__all__ = ["COLLECTION", "WINDOW_SECONDS", "Quota", "RateLimiter"]

COLLECTION = "rate_windows"

WINDOW_SECONDS = 60


@dataclass(slots=True)
class Quota:
    """One key's standing after (or without) a write."""

    limit: int
    remaining: int
    reset: int
    """Unix seconds at which the window restarts."""
    exceeded: bool
    retry_after: int

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers every Firma answer carries."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """:meth:`headers` as an answer sends them (:class:`~mock_server._http.JsonResponse`
        takes them so, without encoding each again: every revoke's answer has them).

        >>> quota = Quota(100, 99, 1795404600, False, 1)
        >>> quota.raw_headers() == [
        ...     (name.lower().encode(), value.encode()) for name, value in quota.headers().items()
        ... ]
        True
        """
        return [
            (b"x-ratelimit-limit", b"%d" % self.limit),
            (b"x-ratelimit-remaining", b"%d" % self.remaining),
            (b"x-ratelimit-reset", b"%d" % self.reset),
        ]

    def limited_headers(self) -> dict[str, str]:
        """A 429's: :meth:`headers` and ``Retry-After``, which the contract declares on the
        429 alone (another answer to a key past its quota asks for no wait)."""
        return {**self.headers(), "Retry-After": str(self.retry_after)}

    def spent(self) -> Quota:
        """This window as a key past its quota would see it (a forced 429): nothing left,
        the same reset, so ``retry_after`` is the seconds until it."""
        return replace(self, remaining=0, exceeded=True)

    def explain(self) -> dict[str, object]:
        """The journal ``reason`` of a write refused for it (a 429)."""
        return {
            "rule": f"the key used its {self.limit} writes of this minute; "
            f"retry after {self.retry_after} s",
            "cause": "quota",
            "limit": self.limit,
            "retryAfter": self.retry_after,
        }


class RateLimiter:
    """Fixed windows per key, opened by the key's first write.

    The windows live in the session's store (collection ``rate_windows``), so
    each ``X-Mock-Session`` has its own quota and a reset restores it.

    >>> import asyncio
    >>> from mock_server.state import SessionStore
    >>> from mock_server.state.memory import MemoryBackend
    >>> clock = iter([100.0, 101.0, 102.0]).__next__
    >>> limiter = RateLimiter(2, clock)
    >>> store = SessionStore(MemoryBackend(), "ns", "s", "firma", {})
    >>> [asyncio.run(limiter.write(store, "k")).exceeded for _ in range(3)]
    [False, False, True]
    """

    def __init__(self, limit: int, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock

    async def write(self, store: SessionStore, key: str) -> Quota:
        """Count one write by ``key`` and say whether it is over the limit: as of when its
        request began (``store.began_at``), on every store alike (Redis counts it in the
        round trip that begins the request), else now."""
        now = store.began_at if store.began_at is not None else self._clock()
        window = await store.count(COLLECTION, key, now, WINDOW_SECONDS)
        return self._quota(window.start, window.used, now)

    async def peek(self, store: SessionStore | None, key: str | None) -> Quota:
        """The standing of ``key`` without counting (unauthenticated or refused routes)."""
        now = self._clock()
        window = await store.get(COLLECTION, key) if key and store is not None else None
        start, used = _current(window, now)
        return self._quota(start, used, now)

    def _quota(self, start: float, used: int, now: float) -> Quota:
        reset = start + WINDOW_SECONDS
        # By place (limit, remaining, reset, exceeded, retry_after): every write makes one.
        return Quota(
            self.limit,
            max(self.limit - used, 0),
            math.ceil(reset),
            used > self.limit,
            max(math.ceil(reset - now), 1),
        )


def _current(window: Record | None, now: float) -> tuple[float, int]:
    """The window in force at ``now``: the stored one, or a fresh one if it has run out."""
    if window is None or now >= window["start"] + WINDOW_SECONDS:
        return now, 0
    return window["start"], window["used"]
