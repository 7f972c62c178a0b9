"""Request reading and response writing shared by both APIs' handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


class BadBody(Exception):
    """The request body cannot be read as the JSON value it claims to be."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Absent:
    """The request carried no body at all (distinct from a JSON ``null``)."""


ABSENT = _Absent()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Built once: ``json.dumps`` with options builds an encoder per call."""


class JsonResponse(Response):
    """A Starlette ``Response`` of JSON bytes, its headers built directly: the same
    headers in the same order as ``Response(content, status, headers, media_type)``
    (the given ones lower-cased, then ``content-length`` and ``content-type``), without
    the general constructor's per-call work (every answer of the vendor routes is one).

    >>> JsonResponse(b"{}", 409, {"Retry-After": "2"}).raw_headers
    [(b'retry-after', b'2'), (b'content-length', b'2'), (b'content-type', b'application/json')]
    """

    def __init__(
        self,
        content: bytes,
        status: int,
        headers: Mapping[str, str] | None = None,
        media_type: str = JSON,
    ) -> None:
        self.status_code = status
        self.media_type = media_type
        self.background = None
        self.body = content
        raw = [
            (b"content-length", str(len(content)).encode()),
            (b"content-type", media_type.encode()),
        ]
        if headers:
            given = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            raw = given + [pair for pair in raw if pair[0] not in {name for name, _ in given}]
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    return JsonResponse(_ENCODER.encode(body).encode(), status, headers)


def problem_response(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An RFC 9457 ``application/problem+json`` answer, as the control plane's errors are."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    content = json.dumps({**body, "detail": detail}).encode()
    return JsonResponse(content, status, headers, PROBLEM_JSON)


def is_json_media_type(content_type: str) -> bool:
    """``application/json``, ``application/*+json``, any parameters (charset...)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


async def read_json(request: Request, *, limit: int) -> Any:
    """The decoded JSON body, or :data:`ABSENT` when there is none.

    Raises :class:`BadBody` for a body over ``limit`` bytes, one sent with a
    non-JSON content type, bytes that are not UTF-8, or text that is not
    strict JSON (``NaN``/``Infinity`` are JavaScript's ``JSON.parse`` errors too).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadBody(f"Request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadBody(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return ABSENT
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        shown = content_type or "none"
        raise BadBody(f"Content-Type must be application/json (got {shown}).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody("Request body is not valid UTF-8.") from exc
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise BadBody("Request body is not valid JSON.") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with options builds a decoder per call."""
