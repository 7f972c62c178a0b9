"""The express lane: a vendor operation's ordinary request, answered with fewer layers.

Most requests a mock serves are ordinary: a declared operation, no browser's ``Origin``,
no ``Prefer``, one session, no fault armed. For those, the outer layers of
``http/__init__.py`` pass the request on and add one known thing each (CORS its
``Vary: Origin``, the session layer its session, the dispatcher its route); what a
request cost the mock was in good part the layers' calls and objects (issue #12). The
lane does those things in one function, with their own parts: the route table,
:class:`~mock_server.state.sessions.Session`, the journal's :class:`Tee` (the exchange
teed and journalled as the journal layer does it), the operation's own handler, the
error boundary's :func:`failed`. No rule of the mock is written twice; the order of
things is the layers' (the session begins, and its fault is taken, before the body is
asked for; the handler reads the body itself).

Anything else goes the layered way: a request the lane does not take (checked before
any I/O) as it came; one whose session's beginning raised (a store lost) or has a fault
armed for the call, with its session begun; one whose handler raised, with what raised
and the body's messages read so far replayed. The layers then give it as they would have
(the dispatcher raises what raised in place of doing it again), and journal it from when
the lane took it. ``tests/mock_server/test_express_lane.py`` sends generated requests
through both ways and checks they answer, journal and change state alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from mock_server._http import JsonResponse
from mock_server.clock import Clock
from mock_server.http.boundary import PASSED_ON, failed
from mock_server.http.context import Context
from mock_server.http.dispatch import begin_call
from mock_server.http.forced import query_asks
from mock_server.http.journal import Tee
from mock_server.http.refusals import Availability
from mock_server.live import Live
from mock_server.routes import RouteTable
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
"""Headers that make a request no ordinary one."""


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
        live = self._live()
        api_name, operation = self._api_at[matched.base_path], matched.operation_id
        scope["path_params"] = matched.path_params
        ctx = Context(send, live, None, api_name, operation)  # (by place: half the cost)
        ctx.vary_origin = True  # no Origin: what the CORS layer sets (http/cors.py)
        ctx.attach(scope)
        try:
            api = live.api(api_name)
            ctx.session = session = live.sessions.session(name)
            tee = Tee(scope, receive, ctx.send, session.log, self._clock, None, True)
            ctx.began = tee.began
            request = Request(scope, tee.receive)
            try:
                # (no Prefer here, nor ?__: the answer is the handler's)
                await begin_call(session, api, operation, request, may_be_forced=False)
            except Exception as exc:  # a store lost: the dispatcher raises it as begin would
                ctx.handled = exc
                await self._layered(scope, receive, send, ctx)
                return
            if session.fault is not None:  # the dispatcher applies it (nothing read yet)
                await self._layered(scope, receive, send, ctx)
                return
            try:
                response = await api.operations[operation](request, session.store(api_name))
            except Exception as exc:
                ctx.handled = exc
                await self._layered(scope, tee.replay(), send, ctx)
                return
            try:
                if type(response) is JsonResponse:  # its messages sent as the layers send them
                    status, headers, body = (
                        response.status_code,
                        response.raw_headers,
                        response.body,
                    )
                    await tee.start(status, headers)
                    sent = ctx.headers_out(headers)  # (the session has begun)
                    await send({"type": "http.response.start", "status": status, "headers": sent})
                    await tee.end(body)
                    await send({"type": "http.response.body", "body": body})
                else:
                    await response(scope, tee.receive, tee.send)
            except PASSED_ON:
                raise
            except Exception as exc:  # the answer's sending failed: as the error boundary says
                await failed(scope, tee.receive, tee.send, exc)
            finally:
                if not tee.logged:  # as the journal layer: no answer, still journalled
                    await tee.log_once()
            self._availability.back()  # as the session layer says after a vendor request
        finally:
            ctx.handled = None  # (the layers let go of it as they raise it)
            ctx.detach(scope)  # (again, if the layers did: it is idempotent)


def _session_name(scope: Scope) -> str | None:
    """The session an ordinary request names (its one ``X-Mock-Session``, or none), or
    ``None`` for a request the lane does not take (see the module)."""
    query = scope["query_string"]
    if query and query_asks(query):
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
