"""The ASGI application: Connexion routes each request to the operation its spec declares.

Layers of a vendor request, outermost first::

    CORS               Starlette's middleware: preflight for every route
    Session            X-Mock-Session -> an isolated world; the journal records the exchange
    ErrorBoundary      renders 404/405/500 in the envelope of the API owning the path
    RoutingMiddleware  Connexion: spec paths + base paths -> operation id, path params
    Dispatcher         a fault or Prefer header forces a documented answer; else the handler

``/__mock`` goes to the control plane (its own Connexion app, ``control/``)
and ``/`` and ``/docs`` to the documentation pages.

Connexion's security and validation middlewares are left out on purpose: they
validate with Draft 4 (wrong for OAS 3.1), rebuild validators per request, and
answer ``application/problem+json``, which neither contract declares. Each
handler validates with validators compiled once from the original spec.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Message, Receive, Scope, Send

with warnings.catch_warnings():
    # Connexion imports starlette.testclient, which warns about httpx on import:
    # noise for our users, and nothing we use.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from connexion.middleware.routing import RoutingMiddleware
    from connexion.resolver import Resolution, Resolver
    from connexion.spec import Specification

from mock_server import _scope
from mock_server._http import json_response, problem_response
from mock_server.clock import Clock, system_clock
from mock_server.contract import Contract
from mock_server.control import BASE_PATH, DOCUMENT, ControlAccess, ControlPlane
from mock_server.cors import cors_options
from mock_server.craftkit import CraftkitApi
from mock_server.craftkit import load_world as load_craftkit
from mock_server.docs import DocsApp, Document
from mock_server.documented import PreferRefused, documented_operations, parse_prefer
from mock_server.errors import FixtureError, StartupError
from mock_server.firma import FirmaApi
from mock_server.firma import load_world as load_firma
from mock_server.fixtures import FixtureFile, did_you_mean, read_fixture
from mock_server.live import Live
from mock_server.routes import RouteTable
from mock_server.served import ServedApi
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.state import (
    Backend,
    Session,
    SessionRefused,
    Sessions,
    StoreUnavailable,
)
from mock_server.state import open_backend as open_store
from mock_server.state.journal import capture
from mock_server.state.sessions import HEADER as SESSION_HEADER

__all__ = ["RETRY_AFTER", "ConnectionDropped", "MockApp", "create_app", "operation_id"]

log = logging.getLogger("mock_server")

RETRY_AFTER = 2
"""Seconds a client is asked to wait when the state store is unreachable (503)."""

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
class _Mount:
    base_path: str
    api: str


class ConnectionDropped(Exception):
    """A fault's ``drop`` where the server offers no transport to close (not uvicorn)."""


class MockApp:
    """Both vendor APIs, the control plane and the docs in one ASGI app.

    Routing by path, outermost first: CORS (every route, preflight included),
    then ``/__mock`` (control plane), ``/`` and ``/docs`` (documentation), and
    everything else to the vendor API whose base path is the longest prefix.
    """

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        load: Callable[[], Live],
        *,
        settings: Settings,
        clock: Clock,
        backend: Backend,
    ) -> None:
        self._load = load
        self.live = load()
        self.clock = clock
        self.backend = backend
        self._bound = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unavailable_since: float | None = None
        self.documented = {name: documented_operations(c) for name, c in contracts.items()}
        self.mounts = sorted(
            (_Mount(path, name) for name, c in contracts.items() for path in c.base_paths),
            key=lambda m: len(m.base_path),
            reverse=True,
        )
        self._api_at = {m.base_path: m.api for m in self.mounts}
        self._routing = RoutingMiddleware(self._dispatch)
        routed = {name: c.for_connexion() for name, c in contracts.items()}  # once per spec
        for mount in self.mounts:
            self._routing.add_api(
                Specification.load(routed[mount.api]),
                base_path=mount.base_path,
                resolver=_OperationIds(),
            )
        self._routes = RouteTable.from_router(self._routing.router.routes)
        self.control = ControlPlane(
            Contract.load("control", DOCUMENT), clock=clock, documented=self.documented
        )
        self._control = self.control.asgi()
        served_at = {name: c.base_paths for name, c in contracts.items()} | {"control": [BASE_PATH]}
        documents = _documents([*contracts.values(), self.control.contract], served_at)
        self.docs = DocsApp(documents)
        self._control_docs = "/docs/?urls.primaryName=" + quote(documents[-1].title)
        self._app = CORSMiddleware(self._route, **cors_options(settings.cors_origins))
        # The control plane refuses pages CORS would refuse (see control/access.py).
        self._access = ControlAccess(
            settings.admin_token, origin_allowed=self._app.is_allowed_origin
        )

    @property
    def apis(self) -> list[ServedApi]:
        return self.live.apis

    async def start(self) -> None:
        """Connect to the store and serve the fixture world from it (idempotent).

        Raises :class:`~mock_server.state.StoreUnavailable` if the store does not
        answer. In-process clients (tests) need not call it: the first request does.
        """
        self._loop = asyncio.get_running_loop()
        if self._bound:
            return
        await self.backend.open()
        await self.live.bind(self.backend, self.clock)
        self._bound = True

    async def stop(self) -> None:
        await self.backend.close()

    async def reload(self) -> bool:
        """Read the fixtures again; on success every session restarts from them.

        A bad edit is logged (file, record, field, fix) and the last good world
        stays live. Returns whether the new fixtures were taken. The new world
        gets a new namespace in the store, which every worker serving the same
        files adopts, so each session restarts once, not once per worker.
        """
        live = self._read()
        if live is None:
            return False
        await self.start()
        old = self.live.sessions.namespace
        await live.bind(self.backend, self.clock)
        self.live = live
        if live.sessions.namespace != old:
            await self.backend.forget(old)
        log.info("fixtures reloaded; every session starts again from them")
        for api in live.apis:
            log.info("%s: %s", api.name, api.describe())
        return True

    def reread(self) -> None:
        """Before :meth:`start`: take the fixtures as they are now, not as they were when
        this app was built. For a worker forked again under ``--watch``: the files may
        have changed since, and it must serve the world the other workers serve. A bad
        file is logged and the world built before stays."""
        if self._bound:
            raise RuntimeError("reread() is for an app not yet started; use reload()")
        live = self._read()
        if live is not None:
            self.live = live

    def _read(self) -> Live | None:
        """The fixtures read again, or ``None`` (logged) if they are refused."""
        try:
            return self._load()
        except StartupError as exc:
            problems = exc.problems if isinstance(exc, FixtureError) else [str(exc)]
            log.error(
                "fixtures changed but were refused; still serving the last good world:\n  %s",
                "\n  ".join(problems),
            )
            return None

    def reload_from_thread(self) -> bool:
        """:meth:`reload` on the server's event loop, for the fixture watcher's thread."""
        loop = self._loop
        if loop is None or threading.current_thread() is threading.main_thread():
            return asyncio.run(self.reload())
        return asyncio.run_coroutine_threadsafe(self.reload(), loop).result(timeout=60)

    def owner(self, path: str) -> str:
        """The API whose base path is the longest prefix of ``path``."""
        for mount in self.mounts:
            if path == mount.base_path or path.startswith(mount.base_path + "/"):
                return mount.api
        return self.mounts[-1].api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        state = scope.setdefault("state", {})
        state[_scope.SERVER_SEND] = send
        for name, _ in scope["headers"]:
            if name == b"origin":  # a browser's request: CORS decides
                await self._app(scope, receive, send)
                return
        # No Origin: what CORSMiddleware does then (only Vary: Origin), without its objects.
        await self._route(scope, receive, _VaryOrigin(send))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except StoreUnavailable as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        # "/" is also Craftkit's base path: only a browser's GET there is the landing page.
        if DocsApp.owns(path) and (path != "/" or scope["method"] in ("GET", "HEAD")):
            await self.docs(scope, receive, send)
            return
        control = path == BASE_PATH or path.startswith(BASE_PATH + "/")
        if control:
            refusal = self._access.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if path in (BASE_PATH, BASE_PATH + "/") and scope["method"] in ("GET", "HEAD"):
                await RedirectResponse(self._control_docs)(scope, receive, send)
                return
        try:
            if not self._bound:
                await self.start()
            live = self.live
            state = scope["state"]
            state[_scope.LIVE] = live
            name = Sessions.name_of(_header(scope, SESSION_HEADER))
            session = live.sessions.session(name)
            if control:  # a vendor request begins once routed (see _dispatch)
                await session.begin()
                self._available()
        except SessionRefused as refused:
            await self._without_session(scope, receive, send, control, 400, str(refused), {})
            return
        except StoreUnavailable as exc:
            self._unavailable(exc)
            message = f"the mock's state store is unreachable ({exc}); retry shortly"
            headers = {"Retry-After": str(RETRY_AFTER)}
            await self._without_session(scope, receive, send, control, 503, message, headers)
            return
        state[_scope.SESSION_NAME] = name
        state[_scope.SESSION] = session
        if control:
            await self._guarded(self._control, scope, receive, send, control=True)
            return
        state[_scope.API] = self.owner(path)
        await self._guarded(self._journalled, scope, receive, send, control=False)

    async def _journalled(self, scope: Scope, receive: Receive, send: Send) -> None:
        session: Session = scope["state"][_scope.SESSION]
        await capture(self._vendor, scope, receive, send, log=session.log, clock=self.clock)

    async def _guarded(
        self, app: Any, scope: Scope, receive: Receive, send: Send, *, control: bool
    ) -> None:
        """Run ``app``; if the store is lost meanwhile, answer 503 (if nothing was sent yet)."""
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            if not started:
                message = f"the mock's state store is unreachable ({exc}); retry shortly"
                headers = {"Retry-After": str(RETRY_AFTER)}
                await self._without_session(scope, receive, send, control, 503, message, headers)
        else:
            self._available()

    async def _without_session(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        control: bool,
        status: int,
        message: str,
        headers: Mapping[str, str],
    ) -> None:
        """An answer given without a session: in the control plane's or the API's envelope."""
        if control:
            response: Response = problem_response(status, message, headers=headers)
        else:
            api = self.live.api(self.owner(scope["path"]))
            response = await api.refusal(Request(scope), None, status, headers, message)
        await response(scope, receive, send)

    def _unavailable(self, exc: StoreUnavailable) -> None:
        if self._unavailable_since is None:
            self._unavailable_since = time.monotonic()
            log.error(
                "state store %s unreachable: %s; answering 503 until it is back",
                self.backend.url,
                exc,
            )

    def _available(self) -> None:
        if self._unavailable_since is not None:
            lost = time.monotonic() - self._unavailable_since
            self._unavailable_since = None
            log.info("state store %s is back after %.1f s", self.backend.url, lost)

    async def _vendor(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's router raises HTTPException (rather than answering text/plain)
        # when it finds "app" in the scope; the boundary below renders it.
        scope["app"] = self
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            matched = self._routes.match(scope["method"], scope["path"])
            if matched is None:  # Connexion's router answers: 404, 405 with Allow
                await self._routing(scope, receive, tracking_send)
            else:  # what Connexion's router would do, without its per-request objects
                scope.setdefault("path_params", {}).update(matched.path_params)
                scope.setdefault("extensions", {})[_ROUTING] = {
                    "api_base_path": matched.base_path,
                    "operation_id": matched.operation_id,
                }
                await self._dispatch(scope, receive, tracking_send)
        except HTTPException as exc:
            await self._refuse(scope, receive, send, exc.status_code, exc.headers or {})
        except (ConnectionDropped, StoreUnavailable):
            raise
        except ClientDisconnect:  # the client left mid-request: nobody to answer, no error
            log.debug("client left during %s %s", scope["method"], scope["path"])
        except Exception:
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            if not started:
                await self._refuse(scope, receive, send, 500, {})

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, headers: Mapping[str, str]
    ) -> None:
        state = scope["state"]
        api = state[_scope.LIVE].api(state[_scope.API])
        store = state[_scope.SESSION].store(api.name)
        response = await api.refusal(Request(scope, receive), store, status, headers)
        await response(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        routing = scope.get("extensions", {}).get(_ROUTING, {})
        state = scope["state"]
        operation = routing.get("operation_id")
        if operation is None:  # a path no spec declares
            raise HTTPException(404)
        api: ServedApi = state[_scope.LIVE].api(self._api_at[routing["api_base_path"]])
        handler = api.operations[operation]
        state[_scope.API], state[_scope.OPERATION] = api.name, operation
        session: Session = state[_scope.SESSION]
        request = Request(scope, receive)
        # One round trip: the session, the fault for this call, the records it will act on.
        await session.begin((api.name, operation), api.reads(operation, request))
        store = session.store(api.name)
        fault = session.fault
        response: Response | None = None
        if fault is not None:
            state[_scope.SIMULATED] = "fault"
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.drop:
                await _drop(state[_scope.SERVER_SEND])
                return
            if fault.status is not None:
                response = await self._documented(api, operation, request, fault.status, None)
        if response is None:
            response = await self._preferred(api, operation, request)
        if response is None:
            response = await handler(request, store)
        await response(scope, receive, send)

    async def _preferred(self, api: ServedApi, operation: str, request: Request) -> Response | None:
        """The documented answer a ``Prefer: code=..., example=...`` header asks for, if any."""
        prefer = request.headers.get("prefer")
        if not prefer:
            return None
        state = request.scope["state"]
        try:
            code, example = parse_prefer(prefer)
            if code is None and example is None:
                return None
            response = await self._documented(api, operation, request, code, example)
        except PreferRefused as refused:
            store = state[_scope.SESSION].store(api.name)
            return await api.refusal(request, store, 400, {}, f"Prefer: {refused}")
        state[_scope.SIMULATED] = "prefer"
        return response

    async def _documented(
        self,
        api: ServedApi,
        operation: str,
        request: Request,
        code: int | None,
        example: str | None,
    ) -> Response:
        response, body = self.documented[api.name][operation].choose(code, example)
        store = request.scope["state"][_scope.SESSION].store(api.name)
        headers = {name: str(value) for name, value in response.headers.items()}
        headers.update(await api.answer_headers(request, store, response.status))
        return json_response(response.status, body, headers)


class _VaryOrigin:
    """``send``, adding ``Origin`` to the answer's ``Vary`` (as CORSMiddleware would)."""

    __slots__ = ("_send",)

    def __init__(self, send: Send) -> None:
        self._send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            vary = [value for name, value in headers if name.lower() == b"vary"]
            kept = [(n, v) for n, v in headers if n.lower() != b"vary"] if vary else list(headers)
            kept.append((b"vary", b", ".join([*vary, b"Origin"])))
            message["headers"] = kept
        await self._send(message)


async def _drop(server_send: Send) -> None:
    """Close the client's connection without a response (uvicorn's transport; else raise)."""
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionDropped("fault: connection dropped")
    transport.close()
    # Let the server notice the disconnect before the app returns, so it neither
    # logs an error nor tries to answer 500 on the closed socket.
    for _ in range(3):
        await asyncio.sleep(0)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _documents(contracts: list[Contract], served_at: Mapping[str, list[str]]) -> list[Document]:
    """What the docs pages show: each contract where this mock serves it (control plane last)."""
    return [
        Document(
            name=contract.name,
            title=f"{contract.document['info']['title']} (OpenAPI {contract.version})",
            document=contract.document,
            base_paths=served_at[contract.name],
        )
        for contract in contracts
    ]


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> MockApp:
    """Load specs and fixtures (raising :class:`~mock_server.errors.StartupError` on bad
    input) and build the app.

    >>> app = create_app(Settings())
    >>> [type(api).__name__ for api in app.apis]
    ['CraftkitApi', 'FirmaApi']
    """
    settings = settings or Settings()
    contracts = {name: Contract.load(name, path) for name, path in settings.specs.items()}

    def load() -> Live:
        files = _fixture_files(settings)
        craftkit_world = load_craftkit(files["craftkit"], contracts["craftkit"])
        firma_world = load_firma(files["firma"], contracts["firma"])
        for name, world in (("craftkit", craftkit_world), ("firma", firma_world)):
            for note in world.notes:  # what the fixture left out and the mock made up
                log.info("%s: %s", name, note)
        craftkit = CraftkitApi(
            contracts["craftkit"], craftkit_world, max_body_bytes=settings.max_body_bytes
        )
        firma = FirmaApi(
            contracts["firma"], firma_world, clock=clock, max_body_bytes=settings.max_body_bytes
        )
        return Live(craftkit, firma)

    backend = open_store(settings.store, limits=settings.limits, environ=settings.environ)
    return MockApp(contracts, load, settings=settings, clock=clock, backend=backend)


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
