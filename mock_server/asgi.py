"""The app as ``mock-server`` serves it, for any ASGI server: :func:`serve_app`.

``mock-server`` runs it under uvicorn; another server imports it as a factory::

    granian --interface asgi --factory mock_server:serve_app    # bundled fixtures, memory

For other fixtures or a store, a module of your own returns ``serve_app(Settings(...))``
(README: "Under another ASGI server").
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mock_server import collector
from mock_server.app import MockApp, create_app
from mock_server.settings import Settings
from mock_server.state import StoreRefused, StoreUnavailable, open_backend
from mock_server.state.urls import EXAMPLES as STORE_EXAMPLES
from mock_server.state.urls import StoreUrlError, normalised

__all__ = ["LOG_FORMAT", "check_store", "serve_app"]

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
"""How :func:`serve_app` logs when nothing configured logging before (``mock-server``'s lines)."""


def serve_app(settings: Settings | None = None) -> MockApp:
    """What ``mock-server`` does before it serves: the store checked (:func:`check_store`),
    the app built (:func:`~mock_server.app.create_app`), then the garbage collector's
    policy (:mod:`mock_server.collector`: what exists then, frozen).

    ``settings`` default to ``Settings()``: the bundled fixtures, the memory store. The
    environment is never read: ``Settings(environ=dict(os.environ))`` gives the fixtures
    their ``${VAR}`` s and Redis its ``$REDIS_PASSWORD``. Logging is configured as
    ``mock-server`` does it (INFO, to stderr) unless the root logger has handlers already.
    Raises :class:`~mock_server.errors.StartupError` (a fixture or store refused).
    """
    settings = settings if settings is not None else Settings()
    logging.basicConfig(level="INFO", format=LOG_FORMAT, stream=sys.stderr)  # else a no-op
    check_store(settings)
    app = create_app(settings)
    # The fixture world, specs and validators live as long as the process: kept out of the
    # collector's generations, a full collection no longer walks them (p99 latency), and
    # forked workers share their pages instead of copying them when the collector runs.
    collector.settle()
    return app


def check_store(settings: Settings) -> None:
    """Refuse, at start-up, a store that cannot serve as asked (:class:`StoreUrlError`, a
    :class:`~mock_server.errors.StartupError`, with the fix)."""
    if settings.workers > 1 and normalised(settings.store) == "memory":
        raise StoreUrlError(
            f"--workers {settings.workers} needs a store the workers share; the memory store "
            "is one process's own. Give --store sqlite:///path/to/mock.db (one host) or "
            "--store redis://127.0.0.1:6379/0 (any number of hosts)"
        )
    backend = open_backend(settings.store, limits=settings.limits, environ=settings.environ)

    async def probe() -> None:
        try:
            await backend.open()
        finally:
            await backend.close()

    try:
        _run(probe())
    except StoreRefused as exc:  # it runs, and refuses what the URL says: its reason has the fix
        raise StoreUrlError.of(settings.store, str(exc)) from exc
    except StoreUnavailable as exc:
        # A server may be down: start it. A file's reason says what is wrong with it.
        reason = (
            f"{exc}; give another"
            if backend.url.startswith("sqlite")
            else f"cannot reach it ({exc}); start it, or give another"
        )
        raise StoreUrlError.of(settings.store, f"{reason} --store ({STORE_EXAMPLES})") from exc


def _run(job: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(job)``, also from a thread whose event loop runs (a server that calls
    its factory from its loop, as ``uvicorn --factory`` does): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(job)
        return
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, job).result()
