"""What the application needs of each API it serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from mock_server.contract import Contract

__all__ = ["Handler", "ServedApi"]

Handler = Callable[[Request], Awaitable[Response]]


class ServedApi(Protocol):
    """One vendor API: its contract, a handler per operation, and its error envelope."""

    @property
    def contract(self) -> Contract: ...

    @property
    def operations(self) -> Mapping[str, Handler]:
        """operationId (or ``"POST /path"`` where the spec has none) -> handler."""
        ...

    def refusal(self, request: Request, status: int, headers: Mapping[str, str]) -> Response:
        """A routing-level error (unknown path 404, 405, 500) in this API's envelope."""
        ...

    def describe(self) -> str:
        """One line for the start-up log: fixture file and what it holds."""
        ...
