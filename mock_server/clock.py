"""Time, injectable so tests can freeze it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "isoformat", "system_clock"]

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`."""

system_clock: Clock = time.time


def isoformat(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, as JavaScript's ``toISOString()`` writes it."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
