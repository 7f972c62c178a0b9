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
from mock_server.http.context import context
from mock_server.state.base import StoreUnavailable
from mock_server.state.journal import BODY_LIMIT, Body, Entry, exchanges

__all__ = ["Journal", "Log", "Tee", "capture"]

_log = logging.getLogger("mock_server.journal")

Log = Callable[[Entry], Awaitable[None]]
"""Where :func:`capture` puts an exchange (a session's journal)."""


async def capture(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    log: Log,
    clock: Clock,
    began: tuple[float, float] | None = None,
) -> None:
    """Run ``app`` and log the exchange; the app reads and writes as usual.

    The request's :class:`Context` tells the session, which API and operation
    answered (set by the dispatcher) and whether the answer was simulated. The
    entry is logged before the answer's last message is sent; an answer given
    before the body was read (401, Prefer, a fault, an unknown path) still logs
    what the client sent, up to the limit.
    """
    exchange = Tee(scope, receive, send, log, clock, began=began)
    try:
        await app(scope, exchange.receive, exchange.send)
    finally:
        if not exchange.logged:  # no answer: a dropped connection, or the app failed
            await exchange.log_once()


class Tee:
    """One exchange as it streams by: ``receive`` and ``send`` for the app, teed.

    ``began``: (the clock's time, ``time.perf_counter()``) the request began at, if before
    now (the express lane's, handing the request on); ``keep``: keep the messages read, so
    that :meth:`replay` can give them again (the express lane's, for the layers)."""

    __slots__ = (
        "_log", "_receive", "_scope", "_send", "answered", "began", "logged",
        "messages", "response_headers", "sent", "status",
    )  # fmt: skip

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        log: Log,
        clock: Clock,
        began: tuple[float, float] | None = None,
        keep: bool = False,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._log = log
        self.began = began if began is not None else (clock(), time.perf_counter())
        self.sent = Body()
        self.answered = Body()
        self.status = 0
        self.response_headers: list[tuple[bytes, bytes]] = []
        self.logged = False
        self.messages: list[Message] | None = [] if keep else None

    def replay(self) -> Receive:
        """``receive`` for another reader: the messages read so far (``keep``), then the
        server's."""
        return _Replay(list(self.messages or ()), self._receive)

    async def receive(self) -> Message:
        message = await self._receive()
        if self.messages is not None:
            self.messages.append(message)
        if message["type"] == "http.request":
            self.sent.add(message.get("body", b""))
            self.sent.complete = not message.get("more_body", False)
        else:
            self.sent.complete = True  # http.disconnect
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self.start(message["status"], message.get("headers", []))
        elif kind == "http.response.body":
            if message.get("more_body", False):
                self.answered.add(message.get("body", b""))
            else:
                await self.end(message.get("body", b""))
        await self._send(message)

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """The answer starts (:meth:`send`'s part, before its ``http.response.start`` goes
        on; the express lane's, as it sends an answer's messages itself)."""
        # What the client sent that the app left unread, read before the answer starts:
        # a client that sent "Expect: 100-continue" sends its body only while no answer
        # has begun (the server says 100 as the body is asked for), and would wait
        # forever for an answer held until it had sent it.
        if not self.sent.complete:
            await self._drain()
        self.status = status
        self.response_headers = headers

    async def end(self, body: bytes) -> None:
        """The answer's last body: the exchange logged (:meth:`send`'s part, before that
        ``http.response.body`` goes on; the express lane's, as for :meth:`start`)."""
        self.answered.add(body)
        await self.log_once()

    async def _drain(self) -> None:
        """Read what is left of the request's body, up to the journal's limit."""
        sent = self.sent
        while not sent.complete and sent.size <= BODY_LIMIT:
            await self.receive()

    async def log_once(self) -> None:
        """Log the exchange (once), with what the client sent that the app left unread
        (read already if an answer started: else, a dropped connection, now)."""
        if self.logged:
            return
        self.logged = True
        if not self.sent.complete:
            await self._drain()
        scope = self._scope
        ctx = context(scope)
        session = ctx.session
        at, started = self.began
        query = scope.get("query_string", b"")
        request, response = exchanges(
            scope.get("headers", []), self.sent, self.response_headers, self.answered
        )
        # Positional, in Entry's order (a call with keywords costs a request ~0.3 µs).
        entry = Entry(
            at,
            session.name if session is not None else "",
            ctx.api,
            ctx.operation,
            ctx.simulated,
            scope["method"],
            scope["path"],
            query.decode("latin-1") if query else "",
            self.status or None,
            request,
            response,
            (time.perf_counter() - started) * 1000,
            # Begun by now: by the dispatcher, or as the answer started (Context.send).
            session is not None and session.created,
            ctx.reason,
        )
        try:
            await self._log(entry)
        except StoreUnavailable as exc:  # the answer still goes out; only its record is lost
            UNJOURNALLED.lost(scope, exc)


class _Replay:
    """``receive`` giving ``messages`` first, then the server's."""

    __slots__ = ("_messages", "_receive")

    def __init__(self, messages: list[Message], receive: Receive) -> None:
        self._messages = messages
        self._receive = receive

    async def __call__(self) -> Message:
        if self._messages:
            return self._messages.pop(0)
        return await self._receive()


class _Unjournalled:
    """Exchanges the store could not take, said in the log without a line per request
    while it is unreachable (the outage itself is said once, by the session layer): the
    first one, then how many more every :attr:`EVERY` seconds."""

    EVERY = 10.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._said_at: float | None = None
        self._since = 0

    def lost(self, scope: Scope, exc: StoreUnavailable) -> None:
        now = self._clock()
        if self._said_at is not None and now - self._said_at < self.EVERY:
            self._since += 1
            return
        more = f" ({self._since} more since the last said)" if self._since else ""
        _log.warning("%s %s not journalled: %s%s", scope["method"], scope["path"], exc, more)
        self._said_at, self._since = now, 0


UNJOURNALLED = _Unjournalled()
"""The process's: every journal layer's losses counted together."""


class Journal:
    """The layer: runs ``app`` with its exchanges logged to the request's session."""

    def __init__(self, app: ASGIApp, *, clock: Clock) -> None:
        self._app = app
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        session = ctx.session
        assert session is not None, "the session layer runs first"
        await capture(
            self._app, scope, receive, send, log=session.log, clock=self._clock, began=ctx.began
        )
