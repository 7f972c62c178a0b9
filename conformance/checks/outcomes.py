"""Checks on the body of a successful cancel or revoke (kind ``outcome``: ``(resource, body)``).

``resource.id`` is the id as the request wrote it: the fixture's, or the same uuid
in another letter case (``upper_case_id``); an echoed id then matches in any case.
"""

from __future__ import annotations

from typing import Any

from conformance._instants import same_value
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
    if not _echoes(resource, body.get("id")):
        problems.append(f"Expected: id {resource.id}\nReceived: id {body.get('id')!r}")
    if body.get("status") != "cancelled":
        problems.append(f"Expected: status 'cancelled'\nReceived: status {body.get('status')!r}")
    return problems


@check("outcome", apis=("craftkit",))
def unchanging_fields(resource: Resource, body: Any) -> list[str]:
    """A cancel changes a field the contract says it must keep (id, name, createdAt, ...)."""
    if not isinstance(body, dict):
        return []
    record = resource.record
    return [
        f"{name} changed on cancel\nExpected: {record[name]!r}\nReceived: {body[name]!r}"
        for name in _UNCHANGING
        if name in record and name in body and not _kept(resource, name, record[name], body[name])
    ]


@check("outcome", apis=("firma",))
def revoke_active(resource: Resource, body: Any) -> list[str]:
    """Revoking an active JWT does not answer 200 with its jwt_id and revoked: true."""
    if not isinstance(body, dict):
        return [f"Expected: a JSON object with jwt_id and revoked\nReceived: {short(body)}"]
    problems = []
    if not _echoes(resource, body.get("jwt_id")):
        problems.append(f"Expected: jwt_id {resource.id}\nReceived: jwt_id {body.get('jwt_id')!r}")
    if body.get("revoked") is not True:
        problems.append(f"Expected: revoked true\nReceived: revoked {body.get('revoked')!r}")
    return problems


def _kept(resource: Resource, name: str, before: Any, after: Any) -> bool:
    """``after`` is ``before`` unchanged: timestamps as instants, the id in the request's case."""
    return same_value(before, after) or (name == "id" and _echoes(resource, after))


def _echoes(resource: Resource, echoed: Any) -> bool:
    """``echoed`` is the id acted on: exactly as sent, or in any case if it was sent in upper case.

    >>> from conformance.world import State
    >>> _echoes(Resource("4A3A-9F", "t", State.OPEN), "4a3a-9f")
    True
    >>> _echoes(Resource("4a3a-9f", "t", State.OPEN), "4A3A-9F")
    False
    """
    if echoed == resource.id:
        return True
    sent_in_upper_case = resource.id != resource.id.lower()
    return sent_in_upper_case and isinstance(echoed, str) and echoed.lower() == resource.id.lower()


# ---- issue #10, what a response means: recipients are signature history -------------


@check("outcome", apis=("craftkit",))
def recipients_unchanged(resource: Resource, body: Any) -> list[str]:
    """A cancel changes a recipient (who signs, in which order, who signed or declined when)."""
    before = resource.record.get("recipients")
    if not isinstance(body, dict) or not isinstance(before, list) or "recipients" not in body:
        return []  # the fixture does not list them, or the schema check reports their absence
    after = body["recipients"]
    if not isinstance(after, list) or len(after) != len(before):
        count = f"{len(after)} recipients" if isinstance(after, list) else short(after)
        return [
            f"Situation: the recipients of {resource.id} after a cancel\n"
            f"Expected: the {len(before)} recipients the fixture lists, in order\n"
            f"Received: {count}"
        ]
    problems = []
    for index, (was, now) in enumerate(zip(before, after, strict=True)):
        if not isinstance(was, dict):
            continue
        now = now if isinstance(now, dict) else {}
        # A field the fixture leaves out is not compared; a nullable field the schema does
        # not require may be left out of the answer when it is null.
        changed = sorted(
            name for name, value in was.items() if not same_value(value, now.get(name))
        )
        if changed:
            problems.append(
                f"Situation: recipients[{index}] ({was.get('id')}) changed on cancel: "
                f"{', '.join(changed)}\n"
                f"Expected: {short({name: was[name] for name in changed})}\n"
                f"Received: {short({name: now.get(name, '<absent>') for name in changed})}"
            )
    return problems
