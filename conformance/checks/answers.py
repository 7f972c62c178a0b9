"""Checks every answer of the state phase gets (kind ``answer``: ``(run, exchange)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
