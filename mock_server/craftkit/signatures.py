"""Craftkit's domain rules for signature requests: the one place that says what a cancel does.

DESIGN.md, "Craftkit POST /v1/signatures/{id}/cancel": only in-flight requests
(``sent``, ``viewed``) can be cancelled; terminal ones answer 409; a fixture's
``mock.on_cancel`` simulates the upstream signature service refusing (409) or
failing (502). A refused cancel changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_server.store import Decision, Record

__all__ = [
    "EXTRA_KEYS",
    "IN_FLIGHT",
    "STATUSES",
    "TERMINAL",
    "CancelOutcome",
    "Cancelled",
    "Conflict",
    "NotFound",
    "ProviderError",
    "cancel",
    "public_body",
]

STATUSES = ("sent", "viewed", "completed", "declined", "expired", "cancelled", "failed")
IN_FLIGHT = frozenset({"sent", "viewed"})
TERMINAL = frozenset(STATUSES) - IN_FLIGHT

EXTRA_KEYS = ("project", "mock")
"""Fixture keys that are not part of the response body."""

COLLECTION = "signature_requests"


@dataclass(frozen=True)
class Cancelled:
    body: dict[str, Any]


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Conflict:
    message: str


@dataclass(frozen=True)
class ProviderError:
    message: str


CancelOutcome = Cancelled | NotFound | Conflict | ProviderError


def public_body(record: Record) -> dict[str, Any]:
    """The response body of a stored record: the record less the fixture-only keys."""
    return {key: value for key, value in record.items() if key not in EXTRA_KEYS}


def cancel(record: Record | None, *, project: str) -> Decision[CancelOutcome]:
    """Decide a cancel of ``record`` by a caller of ``project``.

    Another project's request is indistinguishable from a missing one (404),
    so tenants cannot probe each other's ids.
    """
    if record is None or record.get("project") != project:
        return Decision(NotFound())
    status = record["status"]
    if status in TERMINAL:
        return Decision(Conflict(f"Signature request is already {status} and cannot be cancelled."))
    simulated = (record.get("mock") or {}).get("on_cancel")
    if simulated == "upstream_locked":
        return Decision(Conflict("Signature request can no longer be cancelled upstream."))
    if simulated == "provider_error":
        return Decision(
            ProviderError("Failed to cancel the signing request with the signature service.")
        )
    cancelled = {**record, "status": "cancelled"}
    return Decision(Cancelled(public_body(cancelled)), replacement=cancelled)
