"""The error boundary: 404, 405 and the last-resort 500 in the envelope of the API owning
the path; a client that leaves mid-request is no error."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http.context import context
from mock_server.http.dispatch import NotDeclared
from mock_server.http.drop import ConnectionDropped
from mock_server.state import StoreUnavailable
from mock_server.state.journal import Because

__all__ = ["PASSED_ON", "ErrorBoundary", "failed"]

log = logging.getLogger("mock_server")

_ROUTE = "the path's operations do not include this method"


class ErrorBoundary:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's router raises HTTPException (rather than answering text/plain)
        # when it finds "app" in the scope; this boundary renders it.
        scope["app"] = self
        try:
            await self._app(scope, receive, send)
        except PASSED_ON:
            raise
        except Exception as exc:
            await failed(scope, receive, send, exc)


PASSED_ON = (ConnectionDropped, StoreUnavailable)
"""What the boundary raises on, for the layers outside it: a dropped connection (no
answer), a lost store (the session layer's 503)."""


async def failed(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer for what ``exc`` (not one of :data:`PASSED_ON`) says went wrong (the
    boundary's, and the express lane's once it ran the handler): a route's 404 or 405,
    nothing for a client gone, else a 500 (logged) unless the answer started."""
    if isinstance(exc, HTTPException):
        message = exc.message if isinstance(exc, NotDeclared) else None
        context(scope).reason = Because("route", message or _ROUTE, None)
        await _refuse(scope, receive, send, exc.status_code, exc.headers or {}, message)
    elif isinstance(exc, ClientDisconnect):  # the client left mid-request: no error
        log.debug("client left during %s %s", scope["method"], scope["path"])
    else:
        log.error(
            "unexpected error answering %s %s",
            scope["method"],
            scope["path"],
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        ctx = context(scope)
        ctx.reason = Because("error", "the mock failed (its log says why)")
        if not ctx.started:
            await _refuse(scope, receive, send, 500, {})


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    headers: Mapping[str, str],
    message: str | None = None,
) -> None:
    ctx = context(scope)
    assert ctx.live is not None and ctx.session is not None and ctx.api is not None
    api = ctx.live.api(ctx.api)
    store = ctx.session.store(api.name)
    response = await api.refusal(Request(scope, receive), store, status, headers, message)
    await response(scope, receive, send)
