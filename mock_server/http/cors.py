"""CORS on every route: Starlette's middleware for browsers' requests, a shortcut without.

A request without ``Origin`` is no browser's cross-origin call: the middleware would
only add ``Vary: Origin`` to the answer, so the shortcut has the request's context do
just that (:meth:`Context.send`), without the middleware's per-request objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.cors import cors_options
from mock_server.http.context import context

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
        context(scope).vary_origin = True
        await self._app(scope, receive, send)
