"""Serve an ASGI app with uvicorn on a free loopback port, in a background thread.

The harness talks to targets over real sockets, as it would to staging. Every
wait is bounded, and shutdown cancels requests still running (the ``hang``
fault) after ``timeout_graceful_shutdown``, so a test never blocks on a target.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AppSlot", "serve"]


@contextlib.contextmanager
def serve(
    app: ASGIApp, *, startup_timeout: float = 5.0, shutdown_timeout: float = 5.0
) -> Iterator[str]:
    """Run ``app`` on ``127.0.0.1:<free port>`` and yield its base URL (no trailing slash).

    Example::

        with serve(craftkit_app(fixture)) as url:
            httpx.post(f"{url}/v1/signatures/{sid}/cancel")
    """
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        log_config=None,  # leave logging to the caller (pytest captures it)
        access_log=False,
        # Requests still running at shutdown (the ``hang`` fault) are cancelled after this.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="target-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"target server did not start within {startup_timeout}s")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)


class AppSlot:
    """An ASGI app that forwards to whichever app was put in it last.

    Starting a server costs a few hundred milliseconds; a test table of
    faulty targets keeps one server running and swaps the target per row.

    Example::

        slot = AppSlot()
        with serve(slot) as url:
            slot.app = firma_app(fixture, frozenset({"cascade"}))
    """

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("AppSlot is empty: assign a target to .app first")
        await self.app(scope, receive, send)
