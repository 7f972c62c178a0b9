"""Craftkit's domain rules for signature requests: the one place that says what a cancel,
an event of the signature service, and a new request do.

docs/behaviour.md, "Craftkit": only in-flight requests
(``sent``, ``viewed``) can be cancelled; terminal ones answer 409; a fixture's
``mock.on_cancel`` simulates the upstream signature service refusing (409) or
failing (502). A refused cancel changes nothing. Events (issue #4, the control
plane) move a request along its life with every field the contract implies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_server.state.base import Decision, Record

__all__ = [
    "COLLECTION",
    "EVENTS",
    "EXTRA_KEYS",
    "IN_FLIGHT",
    "NULL",
    "SET",
    "SIGNING",
    "STATUSES",
    "STATUS_RULES",
    "TERMINAL",
    "Applied",
    "CancelOutcome",
    "Cancellation",
    "Cancelled",
    "Conflict",
    "EventOutcome",
    "EventRefused",
    "NotFound",
    "ProviderError",
    "apply_event",
    "cancel",
    "forced_cancel",
    "public_body",
]

STATUSES = ("sent", "viewed", "completed", "declined", "expired", "cancelled", "failed")
IN_FLIGHT = frozenset({"sent", "viewed"})
TERMINAL = frozenset(STATUSES) - IN_FLIGHT

EXTRA_KEYS = ("project", "mock")
"""Fixture keys that are not part of the response body."""

COLLECTION = "signature_requests"


@dataclass(slots=True)
class Cancelled:
    body: dict[str, Any]
    was: str = "sent"
    """The status it had."""

    def reason(self) -> Cancellation:
        """Why the cancel was answered so, for its journal entry: what it names, not the
        body (an entry keeps its reason as long as it is journalled, and a body is some
        thirty objects that would then live as long, each to be freed far from where it
        was made: ~5 % of a cancel's instructions)."""
        return Cancellation(self.body.get("id"), self.was)


@dataclass(slots=True)
class Cancellation:
    """A cancel's 200, as its journal entry explains it."""

    record: str | None
    was: str

    def explain(self) -> dict[str, Any]:
        return {
            "rule": f"status was {self.was}; a sent or viewed request is cancelled",
            "cause": "state",
            "record": self.record,
            "state": "cancelled",
        }


@dataclass(slots=True)
class NotFound:
    owner: str | None = None
    """The project of the record when it exists but is another's (``None``: absent)."""


@dataclass(slots=True)
class Conflict:
    message: str
    record: str | None = None
    state: str | None = None
    simulated: str | None = None
    """The fixture's ``mock.on_cancel`` that refused, if it was that."""

    def explain(self) -> dict[str, Any]:
        if self.simulated is not None:
            rule = f"the fixture's mock.on_cancel is {self.simulated}: the service refuses"
            cause = "simulation"
        elif self.state is not None:
            rule = f"status is {self.state}; only sent or viewed requests can be cancelled"
            cause = "state"
        else:
            rule, cause = self.message, "state"
        return {"rule": rule, "cause": cause, "record": self.record, "state": self.state}


@dataclass(slots=True)
class ProviderError:
    message: str
    record: str | None = None
    state: str | None = None

    def explain(self) -> dict[str, Any]:
        return {
            "rule": "the fixture's mock.on_cancel is provider_error: the service fails",
            "cause": "simulation",
            "record": self.record,
            "state": self.state,
        }


CancelOutcome = Cancelled | NotFound | Conflict | ProviderError


def public_body(record: Record) -> dict[str, Any]:
    """The response body of a stored record: the record less the fixture-only keys, in
    its order. (A copy less two keys: a quarter of the cost of a comprehension that tests
    every key, on every cancel's 200.)

    >>> public_body({"id": "a", "project": "p", "status": "sent", "mock": {}, "name": "n"})
    {'id': 'a', 'status': 'sent', 'name': 'n'}
    """
    body = dict(record)
    for key in EXTRA_KEYS:
        if key in body:
            del body[key]
    return body


def cancel(record: Record | None, *, project: str) -> Decision[CancelOutcome]:
    """Decide a cancel of ``record`` by a caller of ``project``.

    Another project's request is indistinguishable from a missing one (404),
    so tenants cannot probe each other's ids.
    """
    if record is None:
        return Decision(NotFound())
    if record.get("project") != project:
        return Decision(NotFound(owner=record.get("project")))
    status, key = record["status"], record["id"]
    if status in TERMINAL:
        return Decision(
            Conflict(f"Signature request is already {status} and cannot be cancelled.", key, status)
        )
    simulated = (record.get("mock") or {}).get("on_cancel")
    if simulated == "upstream_locked":
        return Decision(
            Conflict(
                "Signature request can no longer be cancelled upstream.", key, status, simulated
            )
        )
    if simulated == "provider_error":
        return Decision(
            ProviderError(
                "Failed to cancel the signing request with the signature service.", key, status
            )
        )
    cancelled = {**record, "status": "cancelled"}
    return Decision(Cancelled(public_body(cancelled), status), replacement=cancelled)


def forced_cancel(record: Record | None, key: str | None, sample: Any) -> Any:
    """The body of a forced 200 (``Prefer: code=200``, a fault's status) for a cancel of
    ``key``: the record, ``cancelled``, when the session holds it (whatever its project or
    state: a forced answer precedes the checks); else the spec's sample, ``cancelled``,
    under the addressed id (kept as sampled when the path names no uuid). State unchanged.

    >>> forced_cancel(None, "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c", {"id": "x", "status": "sent"})
    {'id': '0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c', 'status': 'cancelled'}
    """
    if record is not None:
        return public_body({**record, "status": "cancelled"})
    if not isinstance(sample, dict):
        return sample
    return {**sample, **({"id": key} if key is not None else {}), "status": "cancelled"}


EVENTS = ("viewed", "signed", "declined", "expired", "failed")
"""What the signature service can report about a request (``POST /__mock/.../events``)."""

SIGNING = frozenset({"Signer", "Approver"})
"""Designations whose signature a request needs; a ``CC`` only receives copies."""

DEFAULT_FAILURE = "The signature service reported a failure."

NULL, SET = "null", "set"
_UNFINISHED = {"completedAt": NULL, "signedDownloadUrl": NULL, "certificateUrl": NULL}
_ENDED = {"signedDownloadUrl": NULL, "certificateUrl": NULL}
"""A request that ended otherwise than completed: no signed PDF nor certificate; its
``completedAt`` is left open (the domain rules set none, but the contract does not say a
target may not mark the end of a declined, expired or failed request so)."""
STATUS_RULES: dict[str, dict[str, str]] = {
    "sent": {
        **_UNFINISHED,
        "errorMessage": NULL,
        "recipients[].signedAt": "none",
        "recipients[].declinedAt": "none",
    },
    "viewed": {
        **_UNFINISHED,
        "errorMessage": NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "completed": {
        "completedAt": SET,
        "signedDownloadUrl": SET,
        "certificateUrl": SET,
        "errorMessage": NULL,
        "recipients[].signedAt": "all",
        "recipients[].declinedAt": "none",
    },
    "declined": {
        **_ENDED,
        "errorMessage": NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "one",
    },
    "expired": {
        **_ENDED,
        "errorMessage": NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "cancelled": {
        "signedDownloadUrl": NULL,
        "certificateUrl": NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "failed": {
        **_ENDED,
        "errorMessage": SET,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
}
"""What a request in each status has, as the rules here can make it from a new (``sent``)
one, so that a fixture cannot give a state they never reach.

A field of the request is ``null`` or ``set``; one a status does not name may be either.
``signed`` alone sets ``completedAt`` and the URLs, with the last Signer's or Approver's
signature; ``failed`` alone sets ``errorMessage``. A cancel sets nothing, but a target's
cancel may set ``completedAt`` or ``errorMessage`` (docs/behaviour.md), so ``cancelled``
leaves them open. ``recipients[].signedAt`` and ``recipients[].declinedAt`` say how many
Signers and Approvers have one: ``none``, ``one``, ``not all`` (some may: the last
signature completes the request) or ``all`` (and there is one: a request completes on a
signature). Whatever the status, a ``CC`` has neither (only a Signer or Approver signs or
declines), nor does anyone have both (who signed or declined acts no more). The harness
mirrors these (``conformance/world.py``; tests/conformance/test_world.py holds the two
together); tests/mock_server/test_fixtures.py walks every event and cancel to check them.
"""


@dataclass(frozen=True)
class Applied:
    body: dict[str, Any]
    """The stored record after the event (fixture keys included)."""


@dataclass(frozen=True)
class EventRefused:
    """The event cannot be read: unknown event, unknown recipient, misplaced field (400)."""

    message: str


EventOutcome = Applied | NotFound | Conflict | EventRefused


def apply_event(
    record: Record | None,
    event: str,
    *,
    recipient_id: str | None,
    message: str | None,
    now: str,
    base_url: str,
) -> Decision[EventOutcome]:
    """Decide what ``event`` does to ``record``, with every field the contract implies.

    ``signed`` sets the recipient's ``signedAt``; once every Signer and Approver
    has signed the request is ``completed``, with ``completedAt`` and the
    mock's own ``signedDownloadUrl``/``certificateUrl`` (the spec: Craftkit-owned
    ``/v1/signatures/{id}/certificate``). ``declined`` sets ``declinedAt``;
    ``failed`` sets ``errorMessage``. Only in-flight requests take events.
    """
    if record is None:
        return Decision(NotFound())
    if event not in EVENTS:
        return Decision(EventRefused(f"unknown event {event!r} (events: {', '.join(EVENTS)})"))
    if message is not None and event != "failed":
        return Decision(EventRefused("message applies to 'failed' only (it sets errorMessage)"))
    if recipient_id is not None and event in {"expired", "failed"}:
        return Decision(EventRefused(f"recipientId does not apply to {event!r}"))
    status = record["status"]
    if status not in IN_FLIGHT:
        return Decision(
            Conflict(
                f"Signature request is {status}; "
                f"{event!r} applies only to a sent or viewed request."
            )
        )
    updated = {**record, "recipients": [dict(r) for r in record["recipients"]]}
    if event in {"signed", "declined"} or recipient_id is not None:
        found = _recipient(updated, recipient_id, event)
        if not isinstance(found, dict):
            return Decision(found)
        if event == "signed":
            found["signedAt"] = now
        elif event == "declined":
            found["declinedAt"] = now
    if event == "viewed":
        updated["status"] = "viewed"
    elif event == "signed":
        updated["status"] = "viewed"
        if all(r.get("signedAt") for r in updated["recipients"] if r.get("designation") in SIGNING):
            base = f"{base_url.rstrip('/')}/v1/signatures/{record['id']}"
            updated.update(
                status="completed",
                completedAt=now,
                signedDownloadUrl=f"{base}/download",
                certificateUrl=f"{base}/certificate",
            )
    elif event == "failed":
        updated.update(
            status="failed", errorMessage=message if message is not None else DEFAULT_FAILURE
        )
    else:  # declined, expired
        updated["status"] = event
    return Decision(Applied(updated), replacement=updated)


def _recipient(
    record: Record, recipient_id: str | None, event: str
) -> dict[str, Any] | EventRefused | Conflict:
    """The recipient an event is about: the one named, else the next who has to act."""
    recipients: list[dict[str, Any]] = record["recipients"]
    if recipient_id is None:
        pending = [
            r
            for r in recipients
            if r.get("designation") in SIGNING and not r.get("signedAt") and not r.get("declinedAt")
        ]
        if not pending:
            return Conflict(f"No Signer or Approver is left to have {event}.")
        return min(pending, key=lambda r: (r.get("order") is None, r.get("order") or 0))
    named = next((r for r in recipients if r.get("id") == recipient_id), None)
    if named is None:
        known = ", ".join(str(r.get("id")) for r in recipients) or "none"
        return EventRefused(f"unknown recipientId {recipient_id!r} (recipients: {known})")
    if event in {"signed", "declined"}:
        if named.get("designation") not in SIGNING:
            return EventRefused(
                f"recipient {recipient_id} is {named.get('designation')}; "
                "only a Signer or Approver signs or declines"
            )
        if named.get("signedAt") or named.get("declinedAt"):
            done = "signed" if named.get("signedAt") else "declined"
            return Conflict(f"Recipient {recipient_id} has already {done}.")
    return named
