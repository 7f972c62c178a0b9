"""Firma's error envelope: ``{"error": "<Reason Phrase>", "message", "details"?}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from mock_server._http import Encoded, Headers, JsonResponse, json_response

__all__ = ["FirmaError", "error_response"]

# The spec's examples use the reason phrase, except for 429 ("Rate Limit Exceeded").
_ERRORS = {429: "Rate Limit Exceeded"}

_MESSAGES = {
    404: "The requested resource was not found",
    405: "Method not allowed",
    500: "Internal server error",
}


CAUSES = {400: "body", 401: "key", 404: "unknown", 413: "body", 429: "quota"}
"""A refusal's ``cause`` in its journal ``reason``, by status."""


class FirmaError(Exception):
    """A refusal a handler raises; :func:`error_response` renders it."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def explain(self) -> dict[str, object]:
        """Its journal ``reason`` (rendered only when the journal is)."""
        return {"rule": self.message, "cause": CAUSES.get(self.status, "refusal")}


def error_response(
    status: int,
    message: str | None = None,
    details: dict[str, Any] | None = None,
    headers: Headers | None = None,
) -> Response:
    if details is None:
        return JsonResponse(_BODIES[status, message], status, headers)
    body = _error(status, message)
    body["details"] = details
    return json_response(status, body, headers)


def _error(status: int, message: str | None) -> dict[str, Any]:
    return {
        "error": _ERRORS.get(status) or HTTPStatus(status).phrase,
        "message": message or _MESSAGES.get(status, "Request failed"),
    }


_BODIES = Encoded(_error)
"""The bodies without ``details``: the same few every time (a 400 per message, a 401...)."""
