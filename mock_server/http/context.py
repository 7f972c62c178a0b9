"""One typed context per request, which the layers fill in order and the later ones read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Message, Scope, Send

from mock_server.served import CONTEXT

if TYPE_CHECKING:  # the layers import these; the context only names them
    from mock_server.live import Live
    from mock_server.state import Session
    from mock_server.state.journal import Reason

__all__ = ["SESSION_CREATED", "Context", "context"]

_KEY = CONTEXT

SESSION_CREATED = (b"x-mock-session-created", b"true")
"""On an answer whose session did not exist (new, or forgotten: idle, evicted): the
request started from the fixtures, whatever the suite did before."""


@dataclass(slots=True)
class Context:
    """What the layers know of a request, set as they learn it."""

    server_send: Send
    """The server's own ``send``: a fault's ``drop`` closes its transport."""
    live: Live | None = None
    """The fixture world the request started with (``--watch`` may swap it since)."""
    session: Session | None = None
    api: str | None = None
    """The vendor API owning the path (the one whose envelope refusals use)."""
    operation: str | None = None
    simulated: str | None = None
    """``"prefer"`` or ``"fault"`` when the answer was forced rather than computed."""
    reason: Reason | None = None
    """Why the mock answered so, for the journal: set by whoever decided (the handler from
    its domain outcome or refusal, a fault, a ``Prefer``, the error boundary), rendered
    only when the journal entry is."""
    started: bool = False
    """Whether the answer has started (then it can no longer change)."""
    vary_origin: bool = False
    """Add ``Origin`` to the answer's ``Vary`` (set by the CORS layer for a request without
    ``Origin``, as Starlette's CORS middleware would for one with it)."""
    handled: BaseException | None = None
    """What raised as the express lane (``lane.py``) began the session or ran the handler,
    handing the request on to the layers: the dispatcher raises it in place of doing that
    again (and lets go of it: it holds the frames that hold this context)."""
    began: tuple[float, float] | None = None
    """(The clock's time, ``time.perf_counter()``) the express lane took the request at,
    for the journal's entry when it hands the request on."""

    def attach(self, scope: Scope) -> Context:
        scope.setdefault("state", {})[_KEY] = self
        return self

    def detach(self, scope: Scope) -> None:
        """The request is over: drop the references that make it a cycle."""
        scope.get("state", {}).pop(_KEY, None)
        self.server_send = _closed

    async def send(self, message: Message) -> None:
        """The ``send`` every layer gets: the server's, keeping :attr:`started` (one
        wrapper for all layers, rather than one per layer that needs to know), and
        saying :data:`SESSION_CREATED` when the request's session was created."""
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            sent = await self.head(headers)
            if sent is not headers:
                message["headers"] = sent
        await self.server_send(message)

    async def head(self, headers: Iterable[tuple[bytes, bytes]]) -> Iterable[tuple[bytes, bytes]]:
        """The answer starts with ``headers``: what :meth:`send` sends as its headers
        (``headers`` itself if nothing is added)."""
        session = self.session
        if session is not None and not session.begun:
            await session.begin()  # answered before it was routed (404, 405): it counts
        return self.headers_out(headers)

    def headers_out(self, headers: Iterable[tuple[bytes, bytes]]) -> Iterable[tuple[bytes, bytes]]:
        """:meth:`head` once the request's session has begun (or it has none), for a sender
        of an answer's messages to the server itself (the express lane's)."""
        session = self.session
        if session is not None and session.created:
            headers = [*headers, SESSION_CREATED]
        self.started = True
        if self.vary_origin:
            headers = _vary_origin(headers)
        return headers


def _vary_origin(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers with ``Origin`` added to ``Vary`` (one ``Vary`` header).

    >>> _vary_origin([(b"vary", b"Accept"), (b"x", b"1")])
    [(b'x', b'1'), (b'vary', b'Accept, Origin')]
    >>> _vary_origin([])
    [(b'vary', b'Origin')]
    """
    for name, _ in headers:
        if name.lower() == b"vary":
            break
    else:  # the common case: no Vary yet
        return [*headers, _VARY_ORIGIN]
    vary = [value for name, value in headers if name.lower() == b"vary"]
    kept = [(n, v) for n, v in headers if n.lower() != b"vary"]
    kept.append((b"vary", b", ".join([*vary, b"Origin"])))
    return kept


_VARY_ORIGIN = (b"vary", b"Origin")


def context(scope: Scope) -> Context:
    """The request's context (set by the app as the request arrives)."""
    found: Context = scope["state"][_KEY]
    return found


async def _closed(message: Message) -> None:
    raise RuntimeError(f"a request's answer sent after it ended: {message.get('type')}")
