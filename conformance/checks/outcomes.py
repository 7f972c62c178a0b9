"""Checks on the body of a successful cancel or revoke (kind ``outcome``: ``(resource, body)``)."""

from __future__ import annotations

from typing import Any

from conformance._text import short
from conformance.checks import check
from conformance.world import Resource

__all__: list[str] = []  # reached through the registry, by code

# docs/behaviour.md: a cancel must not change these; it may set completedAt/errorMessage.
_UNCHANGING = ("id", "renderId", "name", "expirationHours", "createdAt")


@check("outcome", apis=("craftkit",))
def cancel_in_flight(resource: Resource, body: Any) -> list[str]:
    """Cancelling an in-flight request does not answer 200 with its id and status cancelled."""
    if not isinstance(body, dict):
        return [f"Expected: the signature request as a JSON object\nReceived: {short(body)}"]
    problems = []
    if body.get("id") != resource.id:
        problems.append(f"Expected: id {resource.id}\nReceived: id {body.get('id')!r}")
    if body.get("status") != "cancelled":
        problems.append(f"Expected: status 'cancelled'\nReceived: status {body.get('status')!r}")
    return problems


@check("outcome", apis=("craftkit",))
def unchanging_fields(resource: Resource, body: Any) -> list[str]:
    """A cancel changes a field the contract says it must keep (id, name, recipients, ...)."""
    if not isinstance(body, dict):
        return []
    record = resource.record
    problems = [
        f"{name} changed on cancel\nExpected: {record[name]!r}\nReceived: {body[name]!r}"
        for name in _UNCHANGING
        if name in record and name in body and body[name] != record[name]
    ]
    if isinstance(record.get("recipients"), list) and "recipients" in body:
        before, after = _recipients(record["recipients"]), _recipients(body["recipients"])
        if before != after:
            problems.append(
                f"recipients changed on cancel (id, email, designation)\nExpected: {before}\n"
                f"Received: {after}"
            )
    return problems


@check("outcome", apis=("firma",))
def revoke_active(resource: Resource, body: Any) -> list[str]:
    """Revoking an active JWT does not answer 200 with its jwt_id and revoked: true."""
    if not isinstance(body, dict):
        return [f"Expected: a JSON object with jwt_id and revoked\nReceived: {short(body)}"]
    problems = []
    if body.get("jwt_id") != resource.id:
        problems.append(f"Expected: jwt_id {resource.id}\nReceived: jwt_id {body.get('jwt_id')!r}")
    if body.get("revoked") is not True:
        problems.append(f"Expected: revoked true\nReceived: revoked {body.get('revoked')!r}")
    return problems


def _recipients(value: Any) -> list[tuple[Any, Any, Any]]:
    if not isinstance(value, list):
        return []
    return [
        (r.get("id"), r.get("email"), r.get("designation")) for r in value if isinstance(r, dict)
    ]
