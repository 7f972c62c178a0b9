"""The ASGI application: assembly of the request pipeline (``http/``), start-up and reload.

Routing by path, outermost first: CORS (every route, preflight included), then
``/__mock`` (control plane: its own Connexion app, ``control/``), ``/`` and
``/docs`` (documentation pages), and everything else to the vendor API whose base
path is the longest prefix. The layers of each route are in ``http/__init__.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from urllib.parse import quote

from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server._http import problem_response
from mock_server.clock import Clock, system_clock
from mock_server.contract import Contract
from mock_server.control import (
    BASE_PATH,
    DOCUMENT,
    SESSIONLESS,
    ControlAccess,
    ControlPlane,
    HostRule,
    Throttle,
)
from mock_server.control.page import Page
from mock_server.craftkit import CraftkitApi
from mock_server.craftkit import load_world as load_craftkit
from mock_server.docs import DocsApp, Document
from mock_server.documented import documented_operations
from mock_server.errors import FixtureError, StartupError
from mock_server.firma import FirmaApi
from mock_server.firma import load_world as load_firma
from mock_server.fixtures import FixtureFile, did_you_mean, read_fixture
from mock_server.http import (
    RETRY_AFTER,
    Availability,
    ConnectionDropped,
    Context,
    Cors,
    Dispatcher,
    ErrorBoundary,
    ExpressLane,
    ForcedAnswers,
    Journal,
    Refusals,
    SessionLayer,
    operation_id,
)
from mock_server.live import Live
from mock_server.served import ServedApi
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.state import Backend, StoreUnavailable
from mock_server.state import open_backend as open_store

__all__ = ["RETRY_AFTER", "ConnectionDropped", "MockApp", "create_app", "operation_id"]

log = logging.getLogger("mock_server")


class MockApp:
    """Both vendor APIs, the control plane and the docs in one ASGI app."""

    def __init__(
        self,
        contracts: Mapping[str, Contract],
        load: Callable[[], Live],
        *,
        settings: Settings,
        clock: Clock,
        backend: Backend,
        lane: bool = True,
    ) -> None:
        """``lane``: answer ordinary vendor requests by the express lane (``http/lane.py``);
        off, every request goes through the layers (the lane's tests compare the two)."""
        self._load = load
        self.live = load()
        self.clock = clock
        self.backend = backend
        self._bound = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.documented = {name: documented_operations(c) for name, c in contracts.items()}
        # (base path, API), longest first: the owner of a path is the first that prefixes it.
        self.mounts = sorted(
            ((path, name) for name, c in contracts.items() for path in c.base_paths),
            key=lambda mount: len(mount[0]),
            reverse=True,
        )
        self.control = ControlPlane(
            Contract.load("control", DOCUMENT),
            clock=clock,
            documented=self.documented,
            max_body_bytes=settings.max_body_bytes,
        )
        served_at = {name: c.base_paths for name, c in contracts.items()} | {"control": [BASE_PATH]}
        documents = _documents([*contracts.values(), self.control.contract], served_at)
        self.docs = DocsApp(documents)
        self.page = Page()
        self._control_docs = "/docs/?urls.primaryName=" + quote(documents[-1].title)

        availability = Availability(backend.url)
        self._refusals = refusals = Refusals(lambda: self.live, self.owner)

        def sessions(app: ASGIApp, *, control: bool) -> SessionLayer:
            return SessionLayer(
                app,
                live=lambda: self.live,
                start=self.start,
                owner=self.owner,
                refusals=refusals,
                availability=availability,
                control=control,
                sessionless=SESSIONLESS if control else frozenset(),
            )

        dispatcher = Dispatcher(contracts, self.mounts, ForcedAnswers(self.documented))
        self.routes = dispatcher.routes
        """The vendor operations' routes (Connexion's, as a table: ``routes.py``)."""
        self._vendor = sessions(Journal(ErrorBoundary(dispatcher), clock=clock), control=False)
        self._lane: ExpressLane | None = None
        if lane:
            self._lane = ExpressLane(
                self._layered,
                routes=dispatcher.routes,
                api_at=dispatcher.api_at,
                live=lambda: self.live,
                clock=clock,
                availability=availability,
            )
        # Built at its first request: Connexion loading the control plane's document is
        # ~50 ms of start-up that serving the vendor APIs does not need (issue #12, ready).
        self._control = sessions(
            _BuiltOnFirstUse(lambda: self.control.asgi(availability)), control=True
        )
        self._app = Cors(self._route, settings.cors_origins)
        # The control plane refuses pages CORS would refuse, and it and the docs refuse
        # Host names not this machine's unless a token guards them (see control/access.py).
        hosts = HostRule(settings.host, settings.allowed_hosts)
        self._docs_hosts = hosts if settings.admin_token is None else None
        self._access = ControlAccess(
            settings.admin_token,
            origin_allowed=self._app.is_allowed_origin,
            hosts=hosts,
            throttle=Throttle(clock),  # the app's clock: tests move it
        )

    @property
    def apis(self) -> list[ServedApi]:
        return self.live.apis

    async def start(self) -> None:
        """Connect to the store and serve the fixture world from it (idempotent).

        Raises :class:`~mock_server.state.StoreUnavailable` if the store does not
        answer. In-process clients (tests) need not call it: the first request does.
        """
        if self._bound:
            return
        self._loop = asyncio.get_running_loop()
        await self.backend.open()
        await self.live.bind(self.backend, self.clock)
        self._bound = True

    async def stop(self) -> None:
        await self.backend.close()

    async def reload(self) -> bool:
        """Read the fixtures again; on success every session restarts from them (unless
        their records are as before: then every session keeps its state, and serves the
        new keys and quotas).

        A bad edit is logged (file, record, field, fix) and the last good world
        stays live. Returns whether the new fixtures were taken. The new world
        gets a new namespace in the store, which every worker serving the same
        files adopts, so each session restarts once, not once per worker.
        """
        live = self._read()
        return live is not None and await self._take(live)

    async def _take(self, live: Live) -> bool:
        """Serve ``live``, fixtures read anew (:meth:`reload`)."""
        await self.start()
        old = self.live.sessions.namespace
        await live.bind(self.backend, self.clock)
        self.live = live
        if live.sessions.namespace != old:
            await self.backend.forget(old)
            log.info("fixtures reloaded; every session starts again from them")
        else:  # a comment, a reformat, a bad edit undone: the world the sessions started from
            log.info(
                "fixtures reloaded: their records are as before (the edit changed no record: a "
                "key, a quota, a comment), so every session keeps its state; POST /__mock/reset "
                "starts one again"
            )
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
        """:meth:`reload`, for the fixture watcher's thread: the files read and checked in
        that thread, while the server's event loop goes on answering (a world of tens of
        thousands of records takes seconds), then taken on the loop."""
        loop = self._loop
        if loop is None or threading.current_thread() is threading.main_thread():
            return asyncio.run(self.reload())
        live = self._read()
        if live is None:
            return False
        return asyncio.run_coroutine_threadsafe(self._take(live), loop).result(timeout=60)

    def owner(self, path: str) -> str:
        """The API whose base path is the longest prefix of ``path``."""
        for base_path, api in self.mounts:
            if path == base_path or path.startswith(base_path + "/"):
                return api
        return self.mounts[-1][1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        lane = self._lane
        if lane is not None and self._bound:  # (the layers start the store first)
            await lane(scope, receive, send)
        else:
            await self._layered(scope, receive, send, None)

    async def _layered(
        self, scope: Scope, receive: Receive, send: Send, ctx: Context | None
    ) -> None:
        """The request through the layers; ``ctx``: the one the express lane made."""
        if ctx is None:
            ctx = Context(server_send=send).attach(scope)
        try:
            await self._app(scope, receive, ctx.send)
        finally:
            # scope -> context -> the server's send -> its cycle -> scope: a reference
            # cycle per request, which only the garbage collector would free (and a frozen
            # one never: mock_server/collector.py). Broken here, it is freed at once.
            ctx.detach(scope)

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

    def refusal(self, status: int, message: str) -> ASGIApp:
        """An answer for a request that could not be read whole (``serving.py``: a head too
        large, a client too slow), in the envelope of the route its path names."""

        async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
            path: str = scope["path"]
            if path == BASE_PATH or path.startswith(BASE_PATH + "/"):
                response: Response = problem_response(status, message)
            elif DocsApp.answers(path, scope["method"]):
                response = PlainTextResponse(message, status)
            else:
                Context(server_send=send).attach(scope)
                await self._refusals.answer(
                    scope, receive, send, control=False, status=status, message=message,
                    headers={},
                )  # fmt: skip
                return
            await response(scope, receive, send)

        return refuse

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        # "/" and "/favicon.ico" are under Craftkit's base path too: only a GET there is the docs'.
        if DocsApp.answers(path, scope["method"]):
            hosts = self._docs_hosts
            refusal = hosts.refusal(scope, control=False) if hosts is not None else None
            await (refusal or self.docs)(scope, receive, send)
            return
        if path == BASE_PATH or path.startswith(BASE_PATH + "/"):
            if path == HEALTH and scope["method"] in ("GET", "HEAD"):
                await (await self._health())(scope, receive, send)
                return
            if Page.owns(path):
                refusal = self._access.page_refusal(scope)
                await (refusal or self.page)(scope, receive, send)
                return
            refusal = self._access.refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if path in (BASE_PATH, BASE_PATH + "/") and scope["method"] in ("GET", "HEAD"):
                await RedirectResponse(self._control_docs)(scope, receive, send)
                return
            await self._control(scope, receive, send)
            return
        await self._vendor(scope, receive, send)

    async def _health(self) -> Response:
        """``GET /__mock/health``: 200 with the store's kind and sessions, 503 (problem+json,
        ``Retry-After``) while the store cannot be reached. Before the access rules (a
        container's probe has no token and comes from another address) and without a
        session (a probe creates none): it shows nothing else."""
        scheme = self.backend.url.partition(":")[0]
        kind = "redis" if scheme == "rediss" else scheme
        try:
            await self.start()
            sessions = len(await self.live.sessions.names())
        except StoreUnavailable:
            return problem_response(
                503,
                f"the mock's state store ({kind}) is unreachable; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        return JSONResponse({"status": "ok", "store": kind, "sessions": sessions})


HEALTH = BASE_PATH + "/health"


class _BuiltOnFirstUse:
    """An ASGI app built when its first request arrives (once: building never awaits)."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build: Callable[[], ASGIApp] | None = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            assert self._build is not None
            self._app, self._build = self._build(), None
        await self._app(scope, receive, send)


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


def create_app(
    settings: Settings | None = None, *, clock: Clock = system_clock, lane: bool = True
) -> MockApp:
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
    return MockApp(contracts, load, settings=settings, clock=clock, backend=backend, lane=lane)


def _fixture_files(settings: Settings) -> dict[str, FixtureFile]:
    """One fixture per API: the files given, sorted by their ``api:`` key, then defaults."""
    files: dict[str, FixtureFile] = {}
    for path in settings.fixtures:
        fixture = read_fixture(path, settings.environ)
        if fixture.api not in DEFAULT_FIXTURES:
            apis = " or ".join(f"api: {api}" for api in DEFAULT_FIXTURES)
            given = fixture.data.get("api")
            if given is None or given == "":
                problem = f"missing: add {apis} (which API the file describes)"
            else:
                problem = (
                    f"{given!r} is not an API this mock serves"
                    f"{did_you_mean(str(given), DEFAULT_FIXTURES)}"
                )
            raise FixtureError([f"{fixture.shown}: api: {problem}"])
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
