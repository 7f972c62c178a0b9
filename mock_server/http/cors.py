"""CORS on every route: Starlette's middleware for browsers' requests, a shortcut without.

A request without ``Origin`` is no browser's cross-origin call: the middleware would
only add ``Vary: Origin`` to the answer, so the shortcut does just that, without the
middleware's per-request objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.cors import cors_options

__all__ = ["Cors"]


class Cors:
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(app, **cors_options(origins))

    def is_allowed_origin(self, origin: str) -> bool:
        return self._cors.is_allowed_origin(origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, _ in scope["headers"]:
            if name == b"origin":  # a browser's request: CORS decides
                await self._cors(scope, receive, send)
                return
        await self._app(scope, receive, _VaryOrigin(send))


class _VaryOrigin:
    """``send``, adding ``Origin`` to the answer's ``Vary`` (as CORSMiddleware would)."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            vary = [value for name, value in headers if name.lower() == b"vary"]
            kept = [(n, v) for n, v in headers if n.lower() != b"vary"] if vary else list(headers)
            kept.append((b"vary", b", ".join([*vary, b"Origin"])))
            message["headers"] = kept
        await self._send(message)
