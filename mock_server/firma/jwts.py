"""Firma's domain rule for signing-request JWTs: the one place that says what a revoke does.

docs/behaviour.md, "Firma": an active JWT (``revoked_at:
null``) becomes revoked at the request's time; revoking again is a 400; another
workspace's JWT is indistinguishable from a missing one (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_server.clock import isoformat
from mock_server.state.base import Decision, Record

__all__ = [
    "COLLECTION",
    "EXTRA_KEYS",
    "AlreadyRevoked",
    "NotFound",
    "RevokeOutcome",
    "Revoked",
    "forced_revoke",
    "public_view",
    "revoke",
]

COLLECTION = "jwts"

EXTRA_KEYS = ("workspace",)
"""Fixture keys the vendor never shows: the workspace is whose key may revoke it."""


@dataclass(slots=True)
class Revoked:
    jwt_id: str
    revoked_at: str

    def explain(self) -> dict[str, Any]:
        return {
            "rule": "the JWT was active (revoked_at null); it is revoked now",
            "cause": "state",
            "record": self.jwt_id,
            "state": "revoked",
        }


@dataclass(slots=True)
class AlreadyRevoked:
    jwt_id: str = ""
    revoked_at: str = ""

    def explain(self) -> dict[str, Any]:
        return {
            "rule": f"the JWT was revoked at {self.revoked_at}; only an active JWT can be revoked",
            "cause": "state",
            "record": self.jwt_id,
            "state": "revoked",
        }


@dataclass(slots=True)
class NotFound:
    owner: str | None = None
    """The workspace of the JWT when it exists but is another's (``None``: absent)."""


RevokeOutcome = Revoked | AlreadyRevoked | NotFound


def public_view(record: Record) -> dict[str, Any]:
    """A JWT as the vendor would show it: Firma's API never returns one whole (a revoke
    answers ``message``, ``jwt_id``, ``revoked``, ``revoked_at``), so the record less the
    fixture-only keys."""
    return {key: value for key, value in record.items() if key not in EXTRA_KEYS}


def revoke(record: Record | None, *, workspace: str, now: float) -> Decision[RevokeOutcome]:
    """Decide a revoke of ``record`` by a key of ``workspace`` at ``now`` (the clock's
    seconds, read once by the caller: written as text only if it revokes)."""
    if record is None:
        return Decision(NotFound())
    if record.get("workspace") != workspace:
        return Decision(NotFound(owner=record.get("workspace")))
    if record.get("revoked_at") is not None:
        return Decision(AlreadyRevoked(record["jwt_id"], record["revoked_at"]))
    at = isoformat(now)
    revoked = {**record, "revoked_at": at}
    return Decision(Revoked(jwt_id=record["jwt_id"], revoked_at=at), replacement=revoked)


def forced_revoke(jwt_id: str | None, now: str, sample: Any) -> Any:
    """The body of a forced 200 for a revoke of ``jwt_id``: the spec's example under the
    addressed id (kept when the body names no uuid), ``revoked: true`` at ``now``, as a
    real revoke answers. State unchanged.

    >>> forced_revoke(None, "2026-01-01T00:00:00.000Z", {"jwt_id": "x"})
    {'jwt_id': 'x', 'revoked': True, 'revoked_at': '2026-01-01T00:00:00.000Z'}
    """
    if not isinstance(sample, dict):
        return sample
    named = {"jwt_id": jwt_id} if jwt_id is not None else {}
    return {**sample, **named, "revoked": True, "revoked_at": now}
