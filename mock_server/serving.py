"""How the mock holds connections (issue #13): uvicorn's httptools protocol with timeouts
and limits, and a server whose shutdown ends within a grace period.

uvicorn bounds the keep-alive idle time only. :func:`http_protocol` makes the protocol
class that also bounds, per connection, the time to receive a request's headers (from
the connection's opening, or the request's first byte), the time to receive its body
(from the end of its headers), the size of its head (request line and header fields),
and the connections open at once (beyond, a new one closes one that has no request in
flight, so a client gets in however many slow or idle ones are open). A request refused
by a limit gets its answer in the envelope of the route its path names (``refusal``,
from the app); a head too large for its path to be known, a short plain one. The normal
case costs a few attribute writes per request and no timer: a timer is armed once per
connection, and when a packet ends inside a head or a body.

:class:`Server` stops on SIGTERM or SIGINT: it takes no new connection, closes idle
ones, lets requests in flight answer for up to the grace period, then closes what is
left (a body never finished, a fault's delay) and returns, so the process exits 0.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

__all__ = [
    "SHUTDOWN_GRACE",
    "WATCHDOG",
    "ConnectionLimits",
    "LimitedProtocol",
    "Refusal",
    "Server",
    "config",
    "http_protocol",
    "stopping",
]

log = logging.getLogger("mock_server")

Refusal = Callable[[int, str], ASGIApp]
"""``refusal(status, message)``: an app answering ``status`` in the envelope of the route
its request's path names."""

_IDLE, _HEAD, _BODY = 0, 1, 2
"""Where a connection's parser is: between requests, inside a head, inside a body."""

_TARGET_SLACK = 64
"""Bytes of a head that are not its request target (method, version, the first header's
start): a head no longer than its target plus these may still be inside the target."""


@dataclass(frozen=True)
class ConnectionLimits:
    """What one connection may take; the defaults are ``mock-server``'s."""

    header_timeout: float = 10.0
    """Seconds to receive a request's headers, from the connection's opening or the
    request's first byte."""
    body_timeout: float = 10.0
    """Seconds to receive a request's body, from the end of its headers (time the mock
    spends not reading it, e.g. under a fault's delay, does not count)."""
    keep_alive: float = 5.0
    """Seconds an idle connection stays open after an answer."""
    max_header_bytes: int = 32_768
    """Request line and header fields together; beyond, 431 (414 for the target alone)."""
    max_connections: int = 512
    """Connections open at once (per process). Beyond, a new one makes room by closing one
    with no request in flight (a head still coming first, then the oldest); if every one
    is busy, it gets a 503 and is closed."""


LINGER = 2.0
"""Seconds a refused request's connection stays half-open after its answer, dropping what
the client still sends, so that the client reads the answer rather than a reset."""


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that is being refused."""


_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"retry-after: 1\r\ncontent-length: 37\r\nconnection: close\r\n\r\n"
    b"too many connections open; retry soon"
)


_OPENED = itertools.count()


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ConnectionLimits` (see the module)."""

    limits: ClassVar[ConnectionLimits]
    refusal: ClassVar[Refusal]
    _warned_at: ClassVar[float] = -1e9

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.timeout_keep_alive = self.limits.keep_alive  # type: ignore[assignment]
        self._timer: asyncio.TimerHandle | None = None
        self._phase = _IDLE
        self._head_bytes = 0  # of the current head, in packets before this one
        self._packet = 0  # bytes of the packet being parsed
        self._begun = 0  # requests begun in the packet being parsed
        self._cut = False  # a refusal is under way: the rest of what comes is dropped
        self._opened = 0  # the order it was opened in
        self._max_head = self.limits.max_header_bytes
        self._idle_since: float | None = None  # when its last answer ended, if idle since
        self._keep_alive: asyncio.TimerHandle | None = None

    # The connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._opened = next(_OPENED)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            self._cut = True
            transport.write(_TOO_MANY)
            transport.close()
            return
        self._timer = self.loop.call_later(self.limits.header_timeout, self._timed_out)

    def _make_room(self) -> bool:
        """At the limit: close the connection least worth keeping among those with no
        request in flight (a head still coming, then one never used, then an idle one;
        the oldest first), and say whether there was one."""
        spare = [
            c
            for c in self.connections
            if isinstance(c, LimitedProtocol) and c is not self and c._spare() is not None
        ]
        victim = min(spare, key=LimitedProtocol._spare, default=None)  # type: ignore[arg-type]
        now = time.monotonic()
        if now - LimitedProtocol._warned_at > 10:
            LimitedProtocol._warned_at = now
            log.warning(
                "%d connections open (--max-connections): %s",
                self.limits.max_connections,
                "closing an idle or slow one for each new one"
                if victim is not None
                else "every one is busy, refusing new ones with 503",
            )
        if victim is None:
            return False
        victim.transport.close()
        return True

    def _spare(self) -> tuple[int, int] | None:
        """How little this connection is worth keeping (lowest first), or ``None`` if it
        has a request in flight or is already closing."""
        cycle = self.cycle
        if self.transport.is_closing() or self._phase == _BODY:
            return None
        if cycle is not None and not cycle.response_complete:
            return None
        rank = 0 if self._phase == _HEAD else 1 if cycle is None else 2
        return rank, self._opened

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            self._keep_alive = None
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:  # type: ignore[override]
        """The client will send nothing more (a half-close: ``shutdown(SHUT_WR)``, as
        ``nc`` and some HTTP/1.0 clients do after a request). The requests it sent whole
        are still answered, and the connection is closed after the last of them: uvicorn
        closes it at once, and an answer not sent by then was lost (any that waited on a
        thread, a store or a delay). A request left unfinished can never be answered, and
        an answer without end (an event stream under way) ends with the client's input:
        the connection closes now, as before (the app hears the client left)."""
        cycle = self.cycle
        if (
            self._phase != _IDLE
            or cycle is None
            or cycle.response_complete
            or (cycle.response_started and cycle.chunked_encoding)  # a stream
            or self.transport.is_closing()
        ):
            return None
        self._disarm()
        cycle.keep_alive = False  # the last request sent (pipelined: the last answered)
        return True

    def data_received(self, data: bytes) -> None:
        if self._cut:
            return
        self._idle_since = None  # not idle: the keep-alive check finds it so (below)
        self._packet = len(data)
        self._begun = 0
        before = self._phase
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Served as plain HTTP (the mock speaks no WebSocket), the connection's last
            # request: nothing after it is parsed, and its body (if any) is cut short.
            self._cut = True
            if self.cycle is not None:
                self.cycle.keep_alive = False
                self.cycle.more_body = False
                self.cycle.message_event.set()
            self._phase = _IDLE
            self._disarm()
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Refused):
                return
            reason = str(exc).rstrip(".") or "unreadable"
            log.info("%s - invalid HTTP request: %s", _peer(self.client), reason)
            message = f"Invalid HTTP request received: {reason[:1].lower()}{reason[1:]}."
            if self._phase == _BODY:  # its app is reading the body: it sees the client go
                self.send_400_response(message)
            else:  # in its route's envelope when its path could be read, as a 431 is
                self._refuse(400, message)
            return
        if self._phase == _HEAD:
            if not self._begun:  # the whole packet is more of the head
                self._head_bytes += len(data)
            elif before == _IDLE and self._begun == 1:  # the head starts the packet
                self._head_bytes = len(data)
            else:  # it starts after another request's end: what is known of it
                self._head_bytes = self._head_size()
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head()
            elif self._timer is None:
                self._timer = self.loop.call_later(self.limits.header_timeout, self._timed_out)
        elif self._phase == _BODY and self._timer is None:
            self._timer = self.loop.call_later(self.limits.body_timeout, self._timed_out)

    # Parser callbacks (uvicorn's, called directly: per request, super() costs)

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._phase = _HEAD
        self._head_bytes = 0
        self._begun += 1

    def on_headers_complete(self) -> None:
        # Counted exactly only when the packets of this head could exceed the limit.
        if self._head_bytes + self._packet > self._max_head and self._head_size() > self._max_head:
            self._refuse_head()
            raise _Refused
        self._phase = _BODY
        if self._timer is not None:
            self._disarm()
        HttpToolsProtocol.on_headers_complete(self)
        # uvicorn's cycle for this request (started, or queued behind a pipelined one),
        # made to send its answer's head with the first part of its body (_Corked).
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # (an upgrade makes none)
            cycle.__class__ = _CorkedCycle
            cycle.transport = _Cork(self.transport, self.loop)

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        if self._timer is not None:
            self._disarm()
        HttpToolsProtocol.on_message_complete(self)

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive time: uvicorn arms a timer as each answer ends
        # and cancels it as the next request comes, a timer made and cancelled per request
        # (~2 % of a request's time on the bench's 409 path). Here the connection notes
        # when it became idle, and one timer, armed if none is, checks when it fires.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self._keep_alive is None:
            self._keep_alive = self.loop.call_later(self.limits.keep_alive, self._kept_alive)

    def _kept_alive(self) -> None:
        """The keep-alive timer: close the connection if it has been idle for the
        keep-alive time; else look again when it would have been (if it is idle now: a
        connection busy now arms it again as its answer ends)."""
        self._keep_alive = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return
        left = idle_since + self.limits.keep_alive - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self._keep_alive = self.loop.call_later(left, self._kept_alive)

    # Limits

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        waiting = cycle is not None and cycle.waiting_for_100_continue
        if self.flow.read_paused or (self._phase == _BODY and waiting):
            # The mock is not reading (a pipelined request waits, the app has not asked
            # for the body yet): not the client's delay. Look again later.
            timeout = (
                self.limits.body_timeout if self._phase == _BODY else self.limits.header_timeout
            )
            self._timer = self.loop.call_later(timeout, self._timed_out)
            return
        if self._phase == _IDLE:  # opened, and nothing sent
            self.transport.close()
        elif self._phase == _HEAD:
            self._refuse(
                408, f"Request headers not received within {self.limits.header_timeout:g} s."
            )
        elif cycle is None or cycle.response_started:  # answered before the body came
            self.transport.close()
        else:
            cycle.disconnected = True  # the app reading the body sees the client gone
            cycle.message_event.set()
            self._refuse(408, f"Request body not received within {self.limits.body_timeout:g} s.")

    def _refuse_head(self) -> None:
        limit = self.limits.max_header_bytes
        if len(self.url) + _TARGET_SLACK >= max(self._head_bytes, self._head_size()):
            self._refuse(414, f"The request target is longer than {limit} bytes.", plain=True)
        else:
            self._refuse(431, f"Request header fields are larger than {limit} bytes.")

    def _refuse(self, status: int, message: str, *, plain: bool = False) -> None:
        """Answer the request being read with ``status``, in the envelope of its route
        (plain if ``plain``, or its path cannot be read), and close the connection."""
        whole_head = self._phase == _BODY  # else the head is unfinished or too large
        self._cut = True
        self._phase = _IDLE
        self._disarm()
        self.logger.debug("%s - %d: %s", _peer(self.client), status, message)
        scope = {**self.scope, "state": self.app_state.copy()}
        if not whole_head:
            scope.update(method="GET", path="/", raw_path=b"/", query_string=b"", headers=[])
            try:
                method = self.parser.get_method().decode("ascii")
                path = httptools.parse_url(self.url).path.decode("ascii")
            except (httptools.HttpParserError, UnicodeDecodeError):
                plain = True
            else:
                scope.update(method=method, path=path, raw_path=path.encode())
        # Nothing more is parsed: let go of what the parser holds (a head too large).
        self.parser = None  # type: ignore[assignment]
        app = PlainTextResponse(message, status) if plain else type(self).refusal(status, message)
        cycle = RequestResponseCycle(
            scope=scope,  # type: ignore[arg-type]
            transport=_Lingering(self.transport, self.loop),  # type: ignore[arg-type]
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=False,
            on_response=self.on_response_complete,
        )
        cycle.more_body = False
        running, self.cycle = self.cycle, cycle
        if running is None or running.response_complete or running.disconnected:
            self._start_asgi_task(cycle, app)  # type: ignore[arg-type]
        else:  # a request before it is still answering: this answer follows it
            self.pipeline.appendleft((cycle, app))  # type: ignore[arg-type]


class _CorkedCycle(RequestResponseCycle):
    """uvicorn's request cycle, its answer's head held until the first part of the body.

    uvicorn writes the head (status line and header fields) as ``http.response.start``
    comes, and the body as ``http.response.body`` comes: two writes, two packets, for an
    answer whose body follows, as nearly every answer's does. Held, the head goes out with
    the body in one write: a system call and a packet fewer per answer (on the benchmark's
    409 path, ~35 % of the server's time went to those writes). An answer of a known
    length is no use to its client before its body anyway: its head waits for it, also
    while the mock journals the exchange in a store it awaits (Redis, SQLite). A stream's
    head (chunked: ``GET /__mock/events``) goes out by itself at the event loop's next
    turn, as it would have.
    """

    transport: _Cork

    async def send(self, message: ASGISendEvent) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started:
            cork = self.transport
            cork.holding = True
            await RequestResponseCycle.send(self, message)
            if self.chunked_encoding:  # a stream: its head goes out as the loop turns
                cork.flush_soon()
            return
        await RequestResponseCycle.send(self, message)
        if kind == "http.response.body" and self.response_complete:
            # Answered: all of it written now, as uvicorn would have (a HEAD answer's body
            # is never written, so nothing else would send its head before the loop turns).
            self.transport.flush()


class _Cork(asyncio.Transport):
    """The transport a :class:`_CorkedCycle` writes to: holds what is written while
    :attr:`holding` (the head) until the next write, :meth:`flush` or :meth:`close`.
    Anything else a transport does is the connection's own."""

    __slots__ = ("_held", "_loop", "_transport", "holding")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | bytearray | memoryview | None = None
        self.holding = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.holding:
            self.holding = False
            self._held = data
            return
        held = self._held
        if held is not None:
            self._held = None
            data = b"".join((held, data))
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def flush_soon(self) -> None:
        self._loop.call_soon(self.flush)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")


class _Lingering:
    """The transport of a refused request's answer: closing it shuts only the sending side
    (the client sees the answer end), and the connection closes when the client closes
    its side, or after :data:`LINGER` seconds. What arrives meanwhile is dropped."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        if self._transport.is_closing():
            return
        if self._transport.can_write_eof():
            self._transport.write_eof()
        self._loop.call_later(LINGER, self._transport.close)


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "-"


def http_protocol(limits: ConnectionLimits, refusal: Refusal) -> type[LimitedProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)``, with these limits."""
    return type(
        "LimitedProtocol", (LimitedProtocol,), {"limits": limits, "refusal": staticmethod(refusal)}
    )


def config(
    app: ASGIApp | str,
    *,
    limits: ConnectionLimits,
    refusal: Refusal,
    log_level: str = "info",
    access_log: bool = False,
    **bind: Any,
) -> uvicorn.Config:
    """uvicorn's configuration as ``mock-server`` serves: this module's protocol with
    ``limits``, lifespan on, no WebSocket, logging left to the caller; ``bind`` as
    ``uvicorn.Config`` takes it (``host``, ``port``), unless :meth:`Server.run` is given
    sockets. The benchmark serves its bare handler with it too (``bench/serve.py``)."""
    return uvicorn.Config(
        app,
        lifespan="on",
        # The control plane's loopback rule trusts the peer address only: never a
        # client's X-Forwarded-For (uvicorn would, from $FORWARDED_ALLOW_IPS).
        proxy_headers=False,
        log_config=None,
        log_level=log_level,
        access_log=access_log,
        http=http_protocol(limits, refusal),
        ws="none",  # no WebSocket: an Upgrade request is plain HTTP, under the same limits
        **bind,
    )


SHUTDOWN_GRACE = 5.0
"""Seconds answers in flight get on SIGTERM or SIGINT (``mock-server --shutdown-grace``)."""

WATCHDOG = 2.0
"""Seconds past the grace after which a server still stopping exits anyway (exit 0)."""


_STOPPING = threading.Event()


def stopping() -> bool:
    """Whether this process's server is stopping (its shutdown has begun): what a long
    answer (``GET /__mock/events``) checks to end within the grace, not at its end."""
    return _STOPPING.is_set()


class Server(uvicorn.Server):
    """uvicorn's server, stopping within ``grace`` seconds of SIGTERM or SIGINT, exit 0."""

    def __init__(self, config: uvicorn.Config, *, grace: float = SHUTDOWN_GRACE) -> None:
        super().__init__(config)
        self.grace = grace
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: object) -> None:
        # Not re-raised once stopped (uvicorn's way, exit 143): stopping asked is exit 0.
        if self.should_exit and sig == signal.SIGINT:  # a second SIGINT: no more waiting
            self.force_exit = True
        self.should_exit = True
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.grace + WATCHDOG, _overstayed, (self.grace,))
            self._watchdog.daemon = True
            self._watchdog.start()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        _STOPPING.clear()
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        _STOPPING.set()
        state = self.server_state
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(state.connections):
            connection.shutdown()  # idle ones close; busy ones close after their answer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        if state.connections:
            log.info(
                "stopping: %d connection(s) busy; waiting up to %g s (--shutdown-grace)",
                len(state.connections),
                self.grace,
            )
        while (state.connections or state.tasks) and not self.force_exit:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        if state.connections or state.tasks:
            log.warning(
                "stopping: closing %d connection(s) still busy after %g s (an unfinished "
                "request or a long answer)",
                len(state.connections),
                self.grace,
            )
            for connection in list(state.connections):
                connection.transport.abort()
            await _end(state.tasks)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


async def _end(tasks: set[asyncio.Task[None]]) -> None:
    """The requests left once their connections are closed: those reading see the client
    gone and return; the others (a fault's delay) are cancelled, without a traceback."""
    if tasks:
        await asyncio.wait(set(tasks), timeout=0.2)
    left = set(tasks)
    if not left:
        return
    quiet = _CancelledQuietly()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    try:
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=1.0)
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)


class _CancelledQuietly(logging.Filter):
    """Drop uvicorn's traceback for a request cancelled at shutdown (we said it once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def _overstayed(grace: float) -> None:
    log.error("still stopping %g s after the grace; exiting now", WATCHDOG)
    logging.shutdown()
    os._exit(0)
