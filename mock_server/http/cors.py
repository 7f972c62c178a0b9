"""CORS on every route: Starlette's middleware for browsers' requests, a shortcut without.

A request without ``Origin`` is no browser's cross-origin call: the middleware would
only add ``Vary: Origin`` to the answer, so the shortcut has the request's context do
just that (:meth:`Context.send`), without the middleware's per-request objects.

A preflight the middleware refuses (an origin not allowed, a method no browser may
ask for) is not answered with its plain-text ``400 Disallowed CORS ...``: it goes on to
the route, as any ``OPTIONS`` without CORS would, whose answer (a vendor path's 405 in
its API's envelope, the control plane's 403 or 405 problem+json, a 404) carries no
``Access-Control-Allow-*``: the browser refuses the call all the same, and every answer
stays one the route's document describes.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
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
                if scope["method"] != "OPTIONS":
                    await self._cors(scope, receive, send)
                    return
                headers = Headers(scope=scope)
                if "access-control-request-method" not in headers:  # no preflight
                    await self._cors(scope, receive, send)
                    return
                # The middleware's own answer to a preflight (its rules, decided once).
                preflight = self._cors.preflight_response(request_headers=headers)
                if preflight.status_code == 200:
                    await preflight(scope, receive, send)
                    return
                break  # refused: the route answers the OPTIONS
        context(scope).vary_origin = True
        await self._app(scope, receive, send)
