"""The dispatcher: the operation a request names, then a fault, a ``Prefer``, or the handler.

Connexion routes: it loads each spec and defines its routes under every base path;
a table built from those routes (``routes.py``) replays its decisions for the requests
it routes to an operation, and anything else (an unknown path, an undeclared method)
goes through Connexion's router, which raises the 404 or 405 the error boundary renders.

Connexion's security and validation middlewares are left out on purpose: they
validate with Draft 4 (wrong for OAS 3.1), rebuild validators per request, and
answer ``application/problem+json``, which neither contract declares. Each
handler validates with validators compiled once from the original spec.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

with warnings.catch_warnings():
    # Connexion imports starlette.testclient, which warns about httpx on import:
    # noise for our users, and nothing we use.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from connexion.middleware.routing import RoutingMiddleware
    from connexion.resolver import Resolution, Resolver
    from connexion.spec import Specification

from mock_server.contract import Contract
from mock_server.http.context import context
from mock_server.http.drop import drop
from mock_server.http.forced import ForcedAnswers
from mock_server.routes import RouteTable
from mock_server.served import ServedApi
from mock_server.state.sessions import Session

__all__ = ["Dispatcher", "NotDeclared", "begin_call", "operation_id"]

_ROUTING = "connexion_routing"


def operation_id(method: str, path: str, declared: str | None) -> str:
    """The id an operation is dispatched by: its ``operationId``, else ``"POST /path"``."""
    return declared or f"{method.upper()} {path}"


async def begin_call(
    session: Session, api: ServedApi, operation: str, request: Request, *, may_be_forced: bool
) -> None:
    """The request to ``api``'s ``operation`` begins (once), in one round trip where the
    store can: the session, the fault for this call, and on a store that works ahead
    (:attr:`Session.reads_ahead`) the records the handler will act on and the windows it
    will count, unless the answer ``may_be_forced`` (a ``Prefer``, ``?__``: a forced
    answer counts nothing)."""
    if session.reads_ahead and not session.begun:
        counts = () if may_be_forced else api.counts(operation, request)
        await session.begin((api.name, operation), api.reads(operation, request), counts)
    else:
        await session.begin((api.name, operation))


class NotDeclared(HTTPException):
    """A path no spec declares: a 404 whose message names the closest declared one."""

    def __init__(self, message: str) -> None:
        super().__init__(404)
        self.message = message


class _OperationIds(Resolver):  # type: ignore[misc]
    """Connexion resolves operations to functions; the dispatcher only needs their ids."""

    def resolve(self, operation: Any) -> Resolution:
        oid = operation_id(operation.method, operation.path, operation.operation_id)
        return Resolution(_unused, oid)


def _unused() -> None:  # pragma: no cover - never called, the dispatcher answers
    raise AssertionError("operations are answered by the Dispatcher")


class Dispatcher:
    """Route the request to its operation and answer it."""

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        mounts: Sequence[tuple[str, str]],
        forced: ForcedAnswers,
    ) -> None:
        """``mounts``: (base path, API name), longest base path first."""
        self.api_at = dict(mounts)
        """Base path -> the API served there."""
        self._forced = forced
        self._routing = RoutingMiddleware(self._routed)
        # One Specification per spec (Connexion validates each against the OpenAPI schema
        # as it loads it: ~15 ms each), added under each of its base paths in turn: adding
        # sets the spec's base path and builds that mount's routes from it there and then.
        specs = {name: Specification.load(c.for_connexion()) for name, c in contracts.items()}
        for base_path, api in mounts:
            self._routing.add_api(specs[api], base_path=base_path, resolver=_OperationIds())
        self.routes = RouteTable.from_router(self._routing.router.routes)
        """Connexion's routes as a table (``routes.py``); the express lane routes by it too."""
        # A declared path with a slash added is no operation: a 404 naming the path without
        # it, in the API's envelope (Starlette's routers answered a 307 to it, a status
        # neither contract declares, which a client follows with its POST).
        self._routing.router.redirect_slashes = False
        for mount in self._routing.router.routes:
            inner = getattr(mount, "app", None)
            if isinstance(inner, Router):
                inner.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self.routes.match(scope["method"], scope["path"])
        if matched is None:
            own = self._own_route(scope)  # only once the declared routes missed
            if own is not None:
                await self._answer(scope, receive, send, *own)
                return
            await self._routing(scope, receive, send)  # Connexion answers: 404, 405
            return
        # What Connexion's router would hand on, without its per-request objects.
        scope["path_params"] = matched.path_params
        await self._answer(scope, receive, send, matched.base_path, matched.operation_id)

    def _own_route(self, scope: Scope) -> tuple[str, str] | None:
        """(base path, operation) of a route of the mock's own the request names (its
        path params set), or ``None``."""
        ctx = context(scope)
        assert ctx.live is not None
        path: str = scope["path"]
        for base_path, name in self.api_at.items():
            if base_path and not path.startswith(base_path + "/"):
                continue
            for route in ctx.live.api(name).own_routes:
                found = route.pattern.fullmatch(path[len(base_path) :])
                if found is not None and scope["method"] in route.methods:
                    scope["path_params"] = found.groupdict()
                    return base_path, route.operation
        return None

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Connexion's router's endpoint (a request the table did not match)."""
        routing = scope.get("extensions", {}).get(_ROUTING, {})
        operation = routing.get("operation_id")
        if operation is None:  # a path no spec declares
            closest = self.routes.closest(scope["path"])
            raise NotDeclared(
                f"No operation is declared at {scope['method']} {scope['path']}; "
                f"the closest declared is {closest}."
            )
        await self._answer(scope, receive, send, routing["api_base_path"], operation)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, base_path: str, operation: str
    ) -> None:
        ctx = context(scope)
        assert ctx.live is not None and ctx.session is not None
        api = ctx.live.api(self.api_at[base_path])
        handler = api.operations[operation]
        ctx.api, ctx.operation = api.name, operation
        session = ctx.session
        request = Request(scope, receive)
        # (Begun already, or its beginning raised, if the express lane handed it on: then a
        # no-op, and what raised is raised below in place of the handler's answer.)
        asked = self._forced.asked(request)
        await begin_call(session, api, operation, request, may_be_forced=asked)
        store = session.store(api.name)
        fault = session.fault
        response: Response | None = None
        if fault is not None:
            ctx.simulated, ctx.reason = "fault", fault
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.drop:
                await drop(ctx.server_send)
                return
            if fault.status is not None:
                response = await self._forced.documented_answer(
                    ctx, api, operation, request, fault.status, None
                )
        if response is None and asked:
            response = await self._forced.preferred(ctx, api, operation, request)
        if response is None:
            handled = ctx.handled  # what raised as the express lane ran it (lane.py)
            if handled is not None:
                ctx.handled = None  # the exception holds frames that hold the context
                try:
                    raise handled
                finally:
                    del handled
            response = await handler(request, store)
        await response(scope, receive, send)
