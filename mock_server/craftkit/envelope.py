"""Craftkit's error envelope: ``{"error": {"code", "message", "issues"?}}``, application/json."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from mock_server._http import Encoded, JsonResponse, json_response
from mock_server.issues import Flattened

__all__ = ["CODES", "CraftkitError", "error_response"]

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    431: "request_header_fields_too_large",
    500: "internal_error",
    502: "signature_provider_error",
    503: "service_unavailable",
}

_MESSAGES = {
    404: "Not found.",
    405: "Method not allowed.",
    500: "Internal server error.",
}


CAUSES = {400: "body", 401: "key", 404: "unknown", 413: "body", 429: "quota"}
"""A refusal's ``cause`` in its journal ``reason``, by status."""


class CraftkitError(Exception):
    """A refusal a handler raises; :func:`error_response` renders it."""

    def __init__(self, status: int, message: str, issues: Flattened | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.issues = issues

    def explain(self) -> dict[str, object]:
        """Its journal ``reason`` (rendered only when the journal is)."""
        return {"rule": self.message, "cause": CAUSES.get(self.status, "refusal")}


def error_response(
    status: int,
    message: str | None = None,
    issues: Flattened | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if issues is None:
        return JsonResponse(_BODIES[status, message], status, headers)
    error = _error(status, message)
    error["error"]["issues"] = issues
    return json_response(status, error, headers)


def _error(status: int, message: str | None) -> dict[str, dict[str, object]]:
    text = message or _MESSAGES.get(status, "Request failed.")
    return {"error": {"code": CODES.get(status, "error"), "message": text}}


_BODIES = Encoded(_error)
"""The bodies without ``issues``: the same few every time (a 409 per status, a 401...)."""
