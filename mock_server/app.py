"""The ASGI application: Connexion routes each request to the operation its spec declares.

Layers, outermost first::

    ErrorBoundary      renders 404/405/500 in the envelope of the API owning the path
    RoutingMiddleware  Connexion: spec paths + base paths -> operation id, path params
    Dispatcher         operation id -> the API's handler

Connexion's security and validation middlewares are left out on purpose: they
validate with Draft 4 (wrong for OAS 3.1), rebuild validators per request, and
answer ``application/problem+json``, which neither contract declares. Each
handler validates with validators compiled once from the original spec.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

with warnings.catch_warnings():
    # Connexion imports starlette.testclient, which warns about httpx on import:
    # noise for our users, and nothing we use.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from connexion.middleware.routing import RoutingMiddleware
    from connexion.resolver import Resolution, Resolver
    from connexion.spec import Specification

from mock_server.clock import Clock, system_clock
from mock_server.contract import Contract
from mock_server.craftkit import CraftkitApi
from mock_server.craftkit import load_world as load_craftkit
from mock_server.errors import FixtureError
from mock_server.firma import FirmaApi
from mock_server.firma import load_world as load_firma
from mock_server.fixtures import FixtureFile, did_you_mean, read_fixture
from mock_server.served import ServedApi
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import MemoryStore

__all__ = ["MockApp", "create_app", "operation_id"]

log = logging.getLogger("mock_server")

_ROUTING = "connexion_routing"


def operation_id(method: str, path: str, declared: str | None) -> str:
    """The id an operation is dispatched by: its ``operationId``, else ``"POST /path"``."""
    return declared or f"{method.upper()} {path}"


class _OperationIds(Resolver):  # type: ignore[misc]
    """Connexion resolves operations to functions; the dispatcher only needs their ids."""

    def resolve(self, operation: Any) -> Resolution:
        oid = operation_id(operation.method, operation.path, operation.operation_id)
        return Resolution(_unused, oid)


def _unused() -> None:  # pragma: no cover - never called, the dispatcher answers
    raise AssertionError("operations are answered by the Dispatcher")


@dataclass(frozen=True)
class Mount:
    base_path: str
    api: ServedApi


class MockApp:
    """Both vendor APIs in one ASGI app, each at every base path its ``servers`` name."""

    def __init__(self, apis: list[ServedApi]) -> None:
        self.apis = apis
        self.mounts = sorted(
            (Mount(path, api) for api in apis for path in api.contract.base_paths),
            key=lambda m: len(m.base_path),
            reverse=True,
        )
        self._handlers = {
            (m.base_path, oid): handler
            for m in self.mounts
            for oid, handler in m.api.operations.items()
        }
        self._routing = RoutingMiddleware(self._dispatch)
        for mount in self.mounts:
            self._routing.add_api(
                Specification.load(mount.api.contract.for_connexion()),
                base_path=mount.base_path,
                resolver=_OperationIds(),
            )

    def owner(self, path: str) -> ServedApi:
        """The API whose base path is the longest prefix of ``path``."""
        for mount in self.mounts:
            if path == mount.base_path or path.startswith(mount.base_path + "/"):
                return mount.api
        return self.mounts[-1].api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        # Starlette's router raises HTTPException (rather than answering text/plain)
        # when it finds "app" in the scope; the boundary below renders it.
        scope["app"] = self
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._routing(scope, receive, tracking_send)
        except HTTPException as exc:
            await self._refuse(scope, receive, send, exc.status_code, exc.headers or {})
        except Exception:
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            if not started:
                await self._refuse(scope, receive, send, 500, {})

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, headers: Mapping[str, str]
    ) -> None:
        request = Request(scope, receive)
        response = self.owner(scope["path"]).refusal(request, status, headers)
        await response(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        routing = scope.get("extensions", {}).get(_ROUTING, {})
        handler = self._handlers.get(
            (routing.get("api_base_path", ""), routing.get("operation_id"))
        )
        if handler is None:
            raise HTTPException(404)
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> MockApp:
    """Load specs and fixtures (raising :class:`~mock_server.errors.StartupError` on bad
    input) and build the app.

    >>> app = create_app(Settings())
    >>> [type(api).__name__ for api in app.apis]
    ['CraftkitApi', 'FirmaApi']
    """
    settings = settings or Settings()
    files = _fixture_files(settings)
    contracts = {name: Contract.load(name, path) for name, path in settings.specs.items()}
    craftkit_world = load_craftkit(files["craftkit"], contracts["craftkit"])
    firma_world = load_firma(files["firma"], contracts["firma"])
    craftkit = CraftkitApi(
        contracts["craftkit"],
        craftkit_world,
        MemoryStore(craftkit_world.seed()),
        max_body_bytes=settings.max_body_bytes,
    )
    firma = FirmaApi(
        contracts["firma"],
        firma_world,
        MemoryStore(firma_world.seed()),
        clock=clock,
        max_body_bytes=settings.max_body_bytes,
    )
    return MockApp([craftkit, firma])


def _fixture_files(settings: Settings) -> dict[str, FixtureFile]:
    """One fixture per API: the files given, sorted by their ``api:`` key, then defaults."""
    files: dict[str, FixtureFile] = {}
    for path in settings.fixtures:
        fixture = read_fixture(path, settings.environ)
        if fixture.api not in DEFAULT_FIXTURES:
            raise FixtureError(
                [
                    f"{fixture.shown}: api: {fixture.api!r} is not an API this mock serves"
                    f"{did_you_mean(fixture.api, DEFAULT_FIXTURES)}"
                ]
            )
        if fixture.api in files:
            raise FixtureError(
                [
                    f"{fixture.shown}: a second {fixture.api} fixture "
                    f"(already {files[fixture.api].shown}); give one file per API"
                ]
            )
        files[fixture.api] = fixture
    for api, path in DEFAULT_FIXTURES.items():
        if api not in files:
            files[api] = read_fixture(path, settings.environ)
    return files
