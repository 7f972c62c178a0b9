"""Time, injectable so tests can freeze it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "isoformat", "system_clock"]

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`."""

system_clock: Clock = time.time


def isoformat(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, as JavaScript's ``toISOString()`` writes it.

    The same text as ``datetime.fromtimestamp(seconds, UTC)`` would give (microseconds
    rounded half to even, then cut to milliseconds), with the date and time of the last
    whole second kept: every answer that changes a record writes the time, and formatting
    the second was most of the cost (tests/mock_server/test_clock.py compares both).

    >>> isoformat(0.0), isoformat(1795404599.9994996), isoformat(1795404599.9999996)
    ('1970-01-01T00:00:00.000Z', '2026-11-23T03:29:59.999Z', '2026-11-23T03:30:00.000Z')
    """
    if seconds < 0:  # before 1970: no fixture or clock gives one, but exact all the same
        moment = datetime.fromtimestamp(seconds, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    fraction, whole = math.modf(seconds)
    second = int(whole)
    micro = round(fraction * 1e6)  # as datetime rounds: half to even
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    global _last
    cached_second, prefix = _last
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last = (second, prefix)
    return f"{prefix}{micro // 1000:03d}Z"


_last = (-1, "")
"""The last whole second :func:`isoformat` wrote, and its text up to the milliseconds."""
