"""The control plane's JSON, in and out: a bad body is a 4xx, every answer strict JSON (issue #13).

In: Connexion reads a body with ``json.loads``, answers 500 for what that raises
beyond a syntax error (bytes not UTF-8, nesting too deep, a 4,300-digit number),
and matches media types case-sensitively (``Application/Json`` reached the
operation as bytes). So :class:`StrictBodies` reads each body first, with the
vendor routes' parser (:func:`~mock_server._http.parse_json`), and refuses what
should not be stored: nesting past :data:`~mock_server._http.NESTING_LIMIT`, and
lone surrogates (a record holding one could not be written as UTF-8, by the
control plane or by the vendor API that answers with it). Connexion then reads
the same bytes, labelled ``application/json``.

Out: :func:`json_answer` writes UTF-8 JSON with no ``NaN`` or ``Infinity``, escaping
a lone surrogate (the journal keeps what a client sent, and shows it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from connexion.exceptions import BadRequestProblem, ProblemException, UnsupportedMediaTypeProblem
from connexion.middleware.abstract import ROUTING_CONTEXT
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server._http import (
    JSON,
    BadBody,
    JsonResponse,
    TwoContentTypes,
    content_type,
    media_type,
    parse_json,
    unfit,
)

__all__ = ["StrictBodies", "json_answer", "operations_with_bodies"]

_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_ESCAPED = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def json_answer(body: Any, status: int = 200) -> JsonResponse:
    """``body`` as strict JSON in UTF-8, however odd what it holds.

    Readable UTF-8 when it can be; else (a lone surrogate, which UTF-8 cannot
    write) every non-ASCII character as a ``\\uXXXX`` escape, which reads back as
    the same string, and a non-finite number (nothing stored has one: the parser
    refuses them) as the string JavaScript prints for it (``"NaN"``, ``"Infinity"``).
    """
    try:
        content = _STRICT.encode(body).encode()
    except ValueError:  # UnicodeEncodeError, or a non-finite number
        content = _ESCAPED.encode(_finite(body)).encode()
    return JsonResponse(content, status)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def operations_with_bodies(document: Mapping[str, Any]) -> frozenset[str]:
    """The ``operationId`` of every operation of ``document`` that takes a request body."""
    return frozenset(
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    )


class StrictBodies:
    """Connexion middleware, after routing and before validation: the body of an operation
    that takes one, checked (415 for a type other than ``application/json``, 400 for a body
    :func:`~mock_server._http.parse_json` or :func:`~mock_server._http.unfit` refuses),
    then passed on whole, as ``application/json`` with its exact ``Content-Length``.

    A request without ``Content-Type`` is read as JSON, as Connexion does. A body over
    ``limit`` bytes is a 413 (with ``Connection: close``: the rest is never read) as soon
    as its ``Content-Length`` or its bytes so far say so; Connexion would buffer any size.
    """

    def __init__(self, app: ASGIApp, *, operations: frozenset[str], limit: int) -> None:
        self._app = app
        self._operations = operations
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        routed = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
        if scope["type"] != "http" or routed.get("operation_id") not in self._operations:
            await self._app(scope, receive, send)
            return
        try:
            given = content_type(scope["headers"])
        except TwoContentTypes as two:  # refused, as the vendors' are
            shown = ", ".join(two.given)
            raise BadRequestProblem(
                detail=f"send one Content-Type header (got {len(two.given)}: {shown})"
            ) from None
        if given is not None and media_type(given) != JSON:
            raise UnsupportedMediaTypeProblem(
                detail=f"Content-Type must be application/json (got {given})"
            )
        raw = await _body(scope, receive, self._limit)
        if raw is None:  # the client left: nobody to answer
            return
        body = raw if raw.strip() else b""  # blank is no body, as on the vendor routes
        if body:
            try:
                problem = unfit(parse_json(body), text=True)
            except BadBody as bad:
                problem = bad.message
            if problem is not None:
                raise BadRequestProblem(detail=problem)
        headers = [
            (name, value)
            for name, value in scope["headers"]
            if name not in (b"content-type", b"content-length", b"transfer-encoding")
        ]
        headers += [(b"content-type", JSON.encode()), (b"content-length", b"%d" % len(body))]
        await self._app({**scope, "headers": headers}, _replay(body, receive), send)


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` if the client disconnected first; a
    :class:`ProblemException` 413 once it is known to be over ``limit`` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> ProblemException:
    return ProblemException(
        status=413,
        title=HTTPStatus(413).phrase,
        detail=f"the request body is larger than {limit} bytes",
        headers={"Connection": "close"},
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive``, giving ``body`` first, whole, then whatever the client sends next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
