"""RFC 3339 timestamps read as instants: ``...00Z`` and ``...00.000Z`` are one moment.

The specs' ``format: date-time`` is RFC 3339: a date, ``T``, a time with optional
fractional seconds, and ``Z`` or an offset. Comparing such values as text raises
false alarms (a target that writes milliseconds has changed nothing), so the checks
compare what they denote.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CLOCK_SKEW", "instant", "same_value"]

CLOCK_SKEW = timedelta(minutes=5)
"""How far the target's clock may be from the harness's before a timestamp is insane."""

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"  # date, time
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"  # Z or an offset
)


def instant(value: Any) -> datetime | None:
    """The moment an RFC 3339 date-time names (UTC), or None when ``value`` is not one.

    >>> instant("2026-11-10T09:07:00Z") == instant("2026-11-10T10:07:00.000+01:00")
    True
    >>> instant("2026-11-10") is None, instant(None) is None
    (True, True)
    """
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_hours, off_minutes = match.groups()[6:]
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=UTC)
    except ValueError:
        return None  # 2026-02-30 and the like
    if not zulu:
        offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
        moment -= offset if sign == "+" else -offset
    return moment


def same_value(before: Any, after: Any) -> bool:
    """Equal as values; two RFC 3339 timestamps are equal when they name the same instant.

    >>> same_value("2026-11-10T09:07:00Z", "2026-11-10T09:07:00.000Z")
    True
    >>> same_value("2026-11-10T09:07:00Z", "2026-11-10T09:07:01Z"), same_value(1, True)
    (False, False)
    """
    if isinstance(before, bool) != isinstance(after, bool):
        return False  # JSON true is not 1
    if before == after:
        return True
    first, second = instant(before), instant(after)
    return first is not None and first == second
