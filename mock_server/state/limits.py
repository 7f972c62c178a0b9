"""How much state a mock keeps, whatever its clients do: the same bounds in every back-end."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SESSION", "Limits"]

DEFAULT_SESSION = "default"
"""The session of requests without ``X-Mock-Session``: never evicted or expired."""


@dataclass(frozen=True)
class Limits:
    """Bounds on sessions and their journals.

    >>> Limits().journal_bytes
    1048576
    """

    max_sessions: int = 1000
    """Sessions kept at once; beyond it the least recently used one is forgotten."""
    session_ttl: float = 86_400.0
    """Seconds a session may stay idle before it is forgotten."""
    journal_bytes: int = 1_048_576
    """Bytes of journal each session keeps; the oldest exchanges go first."""

    def expired(self, last_used: float, now: float) -> bool:
        return now - last_used > self.session_ttl

    def forgotten(self, name: str, last_used: float, now: float) -> bool:
        """Whether session ``name``, last used at ``last_used``, is forgotten at ``now``:
        idle past the TTL, and not ``default`` (never forgotten)."""
        return name != DEFAULT_SESSION and self.expired(last_used, now)
