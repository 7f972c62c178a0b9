"""Answers given outside the handlers, each in the envelope of the route it answers for:
the control plane's ``application/problem+json``, or the vendor API's own."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mock_server._http import problem_response
from mock_server.http.context import context
from mock_server.live import Live
from mock_server.state import StoreUnavailable

__all__ = ["RETRY_AFTER", "Availability", "Refusals", "unavailable"]

log = logging.getLogger("mock_server")

RETRY_AFTER = 2
"""Seconds a client is asked to wait when the state store is unreachable (503)."""


def unavailable(exc: StoreUnavailable) -> tuple[str, dict[str, str]]:
    """The message and headers of a 503 for a store that cannot be reached."""
    message = f"the mock's state store is unreachable ({exc}); retry shortly"
    return message, {"Retry-After": str(RETRY_AFTER)}


class Refusals:
    """Refusals without a session (a bad session name, the store unreachable)."""

    def __init__(self, live: Callable[[], Live], owner: Callable[[str], str]) -> None:
        self._live = live
        self._owner = owner

    async def answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        control: bool,
        status: int,
        message: str,
        headers: Mapping[str, str],
    ) -> None:
        if control:
            response: Response = problem_response(status, message, headers=headers)
        else:
            ctx = context(scope)
            live = ctx.live or self._live()
            api = live.api(ctx.api or self._owner(scope["path"]))
            response = await api.refusal(Request(scope), None, status, headers, message)
        await response(scope, receive, send)

    async def unavailable(
        self, scope: Scope, receive: Receive, send: Send, exc: StoreUnavailable, *, control: bool
    ) -> None:
        message, headers = unavailable(exc)
        await self.answer(
            scope, receive, send, control=control, status=503, message=message, headers=headers
        )


class Availability:
    """Whether the store answers, said in the log once when it changes (not per request)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lost_at: float | None = None

    def lost(self, exc: StoreUnavailable) -> None:
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.error(
                "state store %s unreachable: %s; answering 503 until it is back", self._url, exc
            )

    def back(self) -> None:
        if self._lost_at is not None:
            lost = time.monotonic() - self._lost_at
            self._lost_at = None
            log.info("state store %s is back after %.1f s", self._url, lost)
