"""Resource ids: both APIs key their resources by uuid, compared case-insensitively."""

from __future__ import annotations

import re

__all__ = ["canonical_uuid"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: str) -> str | None:
    """The lower-case hyphenated form of ``value``, or ``None`` if it is not a uuid.

    >>> canonical_uuid("0C3F5A8E-2B7D-4C1E-9A6F-1D2E3F4A5B6C")
    '0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c'
    >>> canonical_uuid("{0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c}") is None
    True
    """
    lowered = value.lower()
    return lowered if _UUID.fullmatch(lowered) else None
