"""The session layer: ``X-Mock-Session`` -> the request's session; a lost store -> 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.http.context import context
from mock_server.http.refusals import Availability, Refusals
from mock_server.live import Live
from mock_server.state import SessionRefused, Sessions, StoreUnavailable
from mock_server.state.sessions import HEADER

__all__ = ["SessionLayer"]


class SessionLayer:
    """Give the request its session (created on first use), then run ``app``.

    A malformed session name is a 400, and a store that cannot be reached a 503 with
    ``Retry-After``, in the envelope of the route (``control``: the control plane's;
    else the vendor API owning the path), whenever the store is lost before the answer
    started. A control-plane request begins its session here; a vendor request once
    routed (the dispatcher begins it with its operation and records, in one round trip).
    A control-plane path in ``sessionless`` reads no session (``GET /__mock/sessions``:
    listing the sessions creates none): ``X-Mock-Session`` is not read, the context has none.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        live: Callable[[], Live],
        start: Callable[[], Awaitable[None]],
        owner: Callable[[str], str],
        refusals: Refusals,
        availability: Availability,
        control: bool,
        sessionless: frozenset[str] = frozenset(),
    ) -> None:
        self._app = app
        self._live = live
        self._start = start
        self._owner = owner
        self._refusals = refusals
        self._availability = availability
        self._control = control
        self._sessionless = sessionless
        self._started = False
        """Whether ``start`` has returned once (it is idempotent: then no need to await it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = context(scope)
        if not self._control:
            ctx.api = self._owner(scope["path"])
        try:
            if not self._started:
                await self._start()
                self._started = True
            if ctx.session is None:  # else handed on by the express lane, begun (lane.py)
                ctx.live = live = self._live()
                if scope["path"].rstrip("/") not in self._sessionless:
                    name = Sessions.name_of(_header(scope))
                    ctx.session = session = live.sessions.session(name)
                    if self._control:
                        await session.begin()
                        # Said back only by a round trip to the store: a sessionless path
                        # has made none yet (a 503 its app answers would follow a false
                        # "back").
                        self._availability.back()
        except SessionRefused as refused:
            await self._refusals.answer(
                scope, receive, send, control=self._control, status=400,
                message=str(refused), headers={},
            )  # fmt: skip
            return
        except StoreUnavailable as exc:
            self._availability.lost(exc)
            await self._refusals.unavailable(scope, receive, send, exc, control=self._control)
            return
        try:
            await self._app(scope, receive, send)
        except StoreUnavailable as exc:
            self._availability.lost(exc)
            if not ctx.started:
                await self._refusals.unavailable(scope, receive, send, exc, control=self._control)
        else:
            if not self._control:  # a control request said so once its session began; a
                # 503 its app answered for a store lost since returns normally here
                self._availability.back()


def _header(scope: Scope) -> str | None:
    """The ``X-Mock-Session`` value, or ``None``; two or more are refused (which one the
    client meant is anyone's guess: the first one won, silently).

    >>> _header({"headers": [(b"x-mock-session", b"a")]}), _header({"headers": []})
    ('a', None)
    >>> _header({"headers": [(b"x-mock-session", b"a"), (b"x-mock-session", b"b")]})
    Traceback (most recent call last):
    mock_server.state.sessions.SessionRefused: Send one X-Mock-Session header, not 2.
    """
    values = [value for key, value in scope["headers"] if key == HEADER]
    if len(values) > 1:
        raise SessionRefused(f"Send one X-Mock-Session header, not {len(values)}.")
    return str(values[0].decode("latin-1")) if values else None
