"""What the application needs of each API it serves."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from mock_server.contract import Contract
from mock_server.state.base import Record
from mock_server.state.journal import Reason
from mock_server.state.sessions import SessionStore as Store

__all__ = ["CONTEXT", "KEPT_HEADERS", "Handler", "OwnRoute", "ServedApi", "because"]

CONTEXT = "mock"
"""The key of the request's ``http.context.Context`` in the scope's ``state``."""

Handler = Callable[[Request, Store], Awaitable[Response]]
"""Answers one operation over the store of the caller's session."""


KEPT_HEADERS = 256
"""Authorization headers whose reading an API keeps (each one naming a fixture's key,
spelt as a client sent it): a client sends the same one every time. Beyond, the others
are read each time."""


def because(request: Request, reason: Reason) -> None:
    """Say why the handler answers so: its journal entry's ``reason``, kept as given (the
    domain's outcome, the refusal raised) and rendered only when the entry is."""
    context: Any = request.scope["state"][CONTEXT]
    context.reason = reason


@dataclass(frozen=True)
class OwnRoute:
    """A route the mock serves beside an API's declared ones (not in its spec): matched only
    after the declared ones miss, answered by ``operations[operation]``."""

    operation: str
    """The handler's key in ``operations``, and the journal's name for it."""
    methods: frozenset[str]
    pattern: re.Pattern[str]
    """Matched against the path below the API's base path; named groups: path params."""


class ServedApi(Protocol):
    """One vendor API: its contract, a handler per operation, and its error envelope."""

    @property
    def name(self) -> str:
        """``craftkit`` or ``firma``: the ``api`` of fixtures, faults and the journal."""
        ...

    @property
    def contract(self) -> Contract: ...

    @property
    def operations(self) -> Mapping[str, Handler]:
        """operationId (or ``"POST /path"`` where the spec has none) -> handler."""
        ...

    @property
    def own_routes(self) -> Sequence[OwnRoute]:
        """Routes of the mock's own beside the spec's (a completed request's PDFs)."""
        ...

    def seed(self) -> Mapping[str, Iterable[tuple[str, Record]]]:
        """The fixture world as store rows: what a new or reset session starts from."""
        ...

    async def refusal(
        self,
        request: Request,
        store: Store | None,
        status: int,
        headers: Mapping[str, str],
        message: str | None = None,
    ) -> Response:
        """An error outside the handlers (unknown path 404, 405, bad ``Prefer``) in this
        API's envelope; ``store`` is ``None`` when the session has none (a bad session
        name, the store unreachable)."""
        ...

    async def answer_headers(
        self, request: Request, store: Store | None, status: int
    ) -> Mapping[str, str]:
        """Headers this API adds to every answer, forced ones included (Firma's quota)."""
        ...

    async def forced_body(
        self,
        operation: str,
        request: Request,
        store: Store,
        status: int,
        body: object,
        headers: Mapping[str, str],
    ) -> object:
        """The body of a forced ``status`` answer without a named example, made coherent
        with the request where the spec's sample cannot be (a cancel's 200 names the
        addressed request, ``cancelled``) and with the answer's ``headers`` (Firma's 429:
        ``details.retry_after`` is ``Retry-After``); else ``body`` as it is."""
        ...

    def reads(self, operation: str, request: Request) -> Sequence[tuple[str, str, str]]:
        """The records (api, collection, key) ``operation`` will act on, if the request's
        path or headers name them: read as the request begins, in the same round trip."""
        ...

    def counts(self, operation: str, request: Request) -> Sequence[tuple[str, str, str, float]]:
        """The windows (api, collection, key, length in seconds) ``operation`` will count
        an event in (:meth:`~mock_server.state.sessions.SessionStore.count`) before it
        reads the body, if the request's headers name them: counted as the request begins,
        in the same round trip, unless a fault is taken. Only for a request answered by the
        handler (no ``Prefer`` asked)."""
        ...

    def describe(self) -> str:
        """One line for the start-up log: fixture file and what it holds."""
        ...
