"""Checks every answer of the state phase gets (kind ``answer``: ``(run, exchange)``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conformance._instants import CLOCK_SKEW, instant
from conformance._text import short
from conformance.checks import check
from conformance.client import Exchange

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__: list[str] = []  # reached through the registry, by code


@check("answer")
def transport(run: StateRun, exchange: Exchange) -> list[str]:
    """The target did not answer (timeout, reset or refused connection)."""
    if exchange.error is None or exchange.error_code != "transport":
        return []  # response_too_large (checks/bounds.py) reports its own
    return [f"Expected: an HTTP answer\nReceived: {exchange.error}"]


@check("answer")
def response_conformance(run: StateRun, exchange: Exchange) -> list[str]:
    """The answer departs from the spec: undocumented status, header or body schema."""
    assert exchange.response is not None
    return [
        f"Received: {exchange.status}\n{problem}"
        for problem in run.validator.errors(exchange.response)
    ]


@check("answer")
def error_envelope(run: StateRun, exchange: Exchange) -> list[str]:
    """An error answer lacks the API's error envelope, code or JSON media type."""
    response = exchange.response
    assert response is not None
    if response.status_code < 400:
        return []
    problems = []
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        problems.append(
            f"Expected: Content-Type application/json on {response.status_code}\n"
            f"Received: {media or 'none'}"
        )
    return problems + run.api.envelope_problems(response.status_code, exchange.json())


_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@check("answer", apis=("firma",))
def rate_limit_headers(run: StateRun, exchange: Exchange) -> list[str]:
    """A Firma 200 or 429 lacks an integer X-RateLimit-Limit, -Remaining or -Reset."""
    response = exchange.response
    # The contract declares them on 200 and 429 only (docs/behaviour.md): demand nothing elsewhere.
    if response is None or response.status_code not in (200, 429):
        return []
    missing = [h for h in _RATE_HEADERS if not response.headers.get(h, "").strip().isdigit()]
    if not missing:
        return []
    return [
        f"Expected: integer {', '.join(missing)} on {response.status_code}\nReceived: "
        + ", ".join(f"{h}: {response.headers.get(h)!r}" for h in missing)
    ]


# ---- issue #10, what a response means: timestamps a success sets ---------------------


@check("answer")
def timestamps_sane(run: StateRun, exchange: Exchange) -> list[str]:
    """A success carries a timestamp that cannot be true (in the future, or too early)."""
    response = exchange.response
    if response is None or not 200 <= response.status_code < 300 or exchange.method != "POST":
        return []
    body = exchange.json()
    if not isinstance(body, dict):
        return []
    now = datetime.now(UTC)
    latest = now + CLOCK_SKEW
    skew = f"{CLOCK_SKEW.total_seconds() / 60:.0f} min of clock skew allowed"
    problems = []
    started = run.model.started
    # completedAt, when a cancel sets it, and revoked_at (Firma's 200 may leave it out) both
    # name the moment of the act: (field, the earliest it may be, that moment described).
    for name, floor, what in (
        ("completedAt", instant(body.get("createdAt")), f"createdAt {body.get('createdAt')}"),
        ("revoked_at", started - CLOCK_SKEW, f"this run started at {_iso(started)}; {skew}"),
    ):
        if name not in body or (name == "completedAt" and body[name] is None):
            continue
        moment = instant(body[name])
        if moment is None:
            problems.append(
                f"Expected: {name}, an RFC 3339 date-time\nReceived: {short(body[name])}"
            )
        elif moment > latest:
            problems.append(
                f"Expected: {name} not in the future ({skew})\n"
                f"Received: {name} {body[name]}; the harness's clock read {_iso(now)}"
            )
        elif floor is not None and moment < floor:
            earliest = "createdAt" if name == "completedAt" else "the start of this run"
            problems.append(
                f"Expected: {name} not before {earliest}\nReceived: {name} {body[name]}; {what}"
            )
    return problems


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
