"""The express lane: a vendor operation's ordinary request, answered without the layers.

Most requests a mock serves are ordinary: a declared operation, no browser's ``Origin``,
no ``Prefer``, one session, no fault armed, the body in one message. For those, every
layer of ``http/__init__.py`` passes the request on and adds one known thing to the
answer (CORS its ``Vary: Origin``, the session layer its session, the journal its
entry); what a request costs the mock was mostly the layers' calls and objects (issue
#12). The lane does those same things in one function, with the layers' own parts
(:class:`~mock_server.state.sessions.Session`, the handler, :func:`exchange_entry`,
:meth:`Context.answer_headers`), and runs the operation's own handler: no rule of the
mock is written twice.

Anything else goes the layered way, with what the lane has done so far handed on: a
request it does not take (checked before any I/O) goes there as it came; one it took
goes there once the lane meets what it does not do (a fault armed for the call, a body
in several messages or a client gone, a session whose beginning raised (a store lost), a
handler that raised or answered other than JSON), with its session begun, its body's
message replayed, and what raised or the handler's answer in its context, for the
dispatcher to raise or give in place of beginning again or running the handler again.
``tests/mock_server/test_express_lane.py`` sends generated requests through both ways
and checks they answer, journal and change state alike.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from mock_server._http import JsonResponse
from mock_server.clock import Clock
from mock_server.http.context import Context
from mock_server.http.forced import query_asks
from mock_server.http.journal import exchange_entry, keep
from mock_server.http.refusals import Availability
from mock_server.live import Live
from mock_server.routes import RouteTable
from mock_server.state.journal import BODY_LIMIT, Exchange
from mock_server.state.sessions import HEADER, SessionRefused, Sessions

__all__ = ["ExpressLane", "Layered"]

Layered = Callable[[Scope, Receive, Send, Context | None], Awaitable[None]]
"""The layered way (``MockApp``): a request, and the context the lane made, if any."""

_NOT_TAKEN = frozenset(
    (
        b"origin",  # a browser's: CORS decides (http/cors.py)
        b"prefer",  # a forced answer, maybe (http/forced.py)
    )
)
"""Headers that make a request no ordinary one. (``Expect: 100-continue`` does not: the
lane reads the body before it answers, as the journal layer would before the answer
starts, so the client is asked for its body at the same point of the exchange.)"""


class ExpressLane:
    """Answer an ordinary request of a declared vendor operation; else the layered way."""

    def __init__(
        self,
        layered: Layered,
        *,
        routes: RouteTable,
        api_at: Mapping[str, str],
        live: Callable[[], Live],
        clock: Clock,
        availability: Availability,
    ) -> None:
        self._layered = layered
        self._routes = routes
        self._api_at = api_at
        self._live = live
        self._clock = clock
        self._availability = availability

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = _session_name(scope)
        matched = self._routes.match(scope["method"], scope["path"]) if name else None
        if matched is None or name is None:
            await self._layered(scope, receive, send, None)
            return
        at, started = self._clock(), time.perf_counter()
        live = self._live()
        api_name = self._api_at[matched.base_path]
        api = live.api(api_name)
        operation = matched.operation_id
        scope["path_params"] = matched.path_params
        ctx = Context(server_send=send, live=live, api=api_name, operation=operation)
        ctx.vary_origin = True  # no Origin: what the CORS layer sets (http/cors.py)
        ctx.attach(scope)
        message = await receive()
        replay = _Replay(message, receive)
        request = Request(scope, replay)
        ctx.session = session = live.sessions.session(name)
        try:
            reads = api.reads(operation, request) if session.reads_ahead else ()
            await session.begin((api_name, operation), reads)
        except Exception as exc:  # a store lost: the dispatcher raises it as its begin would
            ctx.handled = exc
            await self._layered(scope, _Replay(message, receive), send, ctx)
            return
        if (
            session.fault is not None
            or message["type"] != "http.request"
            or message.get("more_body", False)
        ):
            await self._layered(scope, _Replay(message, receive), send, ctx)
            return
        try:
            response = await api.operations[operation](request, session.store(api_name))
        except Exception as exc:
            ctx.handled = exc
            await self._layered(scope, _Replay(message, receive), send, ctx)
            return
        if type(response) is not JsonResponse:
            ctx.handled = response
            await self._layered(scope, _Replay(message, receive), send, ctx)
            return
        try:
            await self._answer(scope, ctx, response, message, at, started)
        finally:
            ctx.detach(scope)
        self._availability.back()  # as the session layer says after a vendor request

    async def _answer(
        self,
        scope: Scope,
        ctx: Context,
        response: JsonResponse,
        message: Message,
        at: float,
        started: float,
    ) -> None:
        """Send the answer, journalled before its body as the journal layer does."""
        status, raw, content = response.status_code, response.raw_headers, bytes(response.body)
        body: bytes = message.get("body", b"")
        session = ctx.session
        assert session is not None
        entry = exchange_entry(
            scope,
            ctx,
            at=at,
            started=started,
            status=status,
            # Each body kept up to the journal's limit, as the journal layer's Body keeps it.
            request=Exchange.of(scope["headers"], body[:BODY_LIMIT], len(body)),
            # The answer's headers as the layers below CORS and sessions sent them.
            response=Exchange.of(raw, content[:BODY_LIMIT], len(content)),
        )
        send = ctx.server_send
        await send(
            {"type": "http.response.start", "status": status, "headers": ctx.answer_headers(raw)}
        )
        await keep(session.log, entry, scope)
        await send({"type": "http.response.body", "body": content})


def _session_name(scope: Scope) -> str | None:
    """The session an ordinary request names (its one ``X-Mock-Session``, or none), or
    ``None`` for a request the lane does not take (see the module)."""
    if query_asks(scope["query_string"]):
        return None
    header: str | None = None
    for key, value in scope["headers"]:
        if key == HEADER:
            if header is not None:
                return None  # two: the session layer refuses them
            header = value.decode("latin-1")
        elif key in _NOT_TAKEN:
            return None
    try:
        return Sessions.name_of(header)
    except SessionRefused:  # the session layer's 400
        return None


class _Replay:
    """``receive`` for what follows: the body's message the lane read, then the server's."""

    __slots__ = ("_message", "_receive")

    def __init__(self, message: Message, receive: Receive) -> None:
        self._message: Message | None = message
        self._receive = receive

    async def __call__(self) -> Message:
        message = self._message
        if message is None:
            return await self._receive()
        self._message = None
        return message
