"""The journal layer: every vendor exchange, as sent and answered, into the session's journal.

An exchange is logged before its answer's last byte is sent, so a client that got
its answer finds it in the journal, on any worker; a store that fails to log it
never costs the client its answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.clock import Clock
from mock_server.http.context import Context, context
from mock_server.state.base import StoreUnavailable
from mock_server.state.journal import BODY_LIMIT, Body, Entry

__all__ = ["Journal", "Log", "capture"]

_log = logging.getLogger("mock_server.journal")

Log = Callable[[Entry], Awaitable[None]]
"""Where :func:`capture` puts an exchange (a session's journal)."""


async def capture(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, log: Log, clock: Clock
) -> None:
    """Run ``app`` and log the exchange; the app reads and writes as usual.

    The request's :class:`Context` tells the session, which API and operation
    answered (set by the dispatcher) and whether the answer was simulated. The
    entry is logged before the answer's last message is sent; an answer given
    before the body was read (401, Prefer, a fault, an unknown path) still logs
    what the client sent, up to the limit.
    """
    started, at = time.perf_counter(), clock()
    sent = Body()
    answered = Body()
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []
    logged = False

    async def tee_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            sent.add(message.get("body", b""))
            sent.complete = not message.get("more_body", False)
        else:
            sent.complete = True  # http.disconnect
        return message

    async def log_once() -> None:
        nonlocal logged
        if logged:
            return
        logged = True
        try:
            await _log_entry(context(scope))
        except StoreUnavailable as exc:  # the answer still goes out; only its record is lost
            _log.warning("%s %s not journalled: %s", scope["method"], scope["path"], exc)

    async def _log_entry(ctx: Context) -> None:
        await log(
            Entry(
                at=at,
                session=ctx.session.name if ctx.session is not None else "",
                api=ctx.api,
                operation=ctx.operation,
                simulated=ctx.simulated,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status or None,
                request=sent.exchange(scope.get("headers", [])),
                response=answered.exchange(response_headers),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )

    async def tee_send(message: Message) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answered.add(message.get("body", b""))
            if not message.get("more_body", False):
                while not sent.complete and sent.size <= BODY_LIMIT:
                    await tee_receive()
                await log_once()
        await send(message)

    try:
        await app(scope, tee_receive, tee_send)
    finally:
        if not logged:  # no answer: a dropped connection, or the app failed
            while not sent.complete and sent.size <= BODY_LIMIT:
                await tee_receive()
            await log_once()


class Journal:
    """The layer: runs ``app`` with its exchanges logged to the request's session."""

    def __init__(self, app: ASGIApp, *, clock: Clock) -> None:
        self._app = app
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = context(scope).session
        assert session is not None, "the session layer runs first"
        await capture(self._app, scope, receive, send, log=session.log, clock=self._clock)
