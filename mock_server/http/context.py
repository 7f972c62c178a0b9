"""One typed context per request, which the layers fill in order and the later ones read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Message, Scope, Send

if TYPE_CHECKING:  # the layers import these; the context only names them
    from mock_server.live import Live
    from mock_server.state import Session

__all__ = ["Context", "TrackedSend", "context"]

_KEY = "mock"


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

    def attach(self, scope: Scope) -> Context:
        scope.setdefault("state", {})[_KEY] = self
        return self


def context(scope: Scope) -> Context:
    """The request's context (set by the app as the request arrives)."""
    found: Context = scope["state"][_KEY]
    return found


class TrackedSend:
    """``send``, remembering whether the answer has started (then it can no longer change)."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
