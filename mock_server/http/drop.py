"""A fault's ``drop``: close the client's connection without an answer."""

from __future__ import annotations

import asyncio

from starlette.types import Send

__all__ = ["ConnectionDropped", "drop"]


class ConnectionDropped(Exception):
    """A fault's ``drop`` where the server offers no transport to close (not uvicorn)."""


async def drop(server_send: Send) -> None:
    """Close the client's connection without a response (uvicorn's transport; else raise)."""
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionDropped("fault: connection dropped")
    transport.close()
    # Let the server notice the disconnect before the app returns, so it neither
    # logs an error nor tries to answer 500 on the closed socket.
    for _ in range(3):
        await asyncio.sleep(0)
