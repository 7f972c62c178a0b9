"""The mock's HTTP protocol sends an answer's head with its body, in one write.

Driven as uvicorn drives it (``connection_made``, ``data_received``) over a transport
that records each write: a write is a system call and, on TCP with ``TCP_NODELAY`` (as
uvloop and asyncio set it), a packet of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from mock_server.serving import ConnectionLimits, http_protocol

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Recording(asyncio.Transport):
    """A connection's transport that keeps what is written to it, a write each."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def served(
    app: Any, *requests: bytes, transport: Recording | None = None, seconds: float = 0.05
) -> Recording:
    """What ``app`` writes, served by the mock's protocol, for ``requests`` sent at once
    (one ``REQUEST`` if none), once ``seconds`` have passed."""
    config = uvicorn.Config(app, log_level="critical")
    config.load()
    protocol = http_protocol(ConnectionLimits(), lambda status, message: app)(
        config=config, server_state=ServerState(), app_state={}
    )
    transport = transport or Recording()
    protocol.connection_made(transport)
    protocol.data_received(b"".join(requests or [REQUEST]))
    await asyncio.sleep(seconds)
    protocol.connection_lost(None)
    return transport


def test_an_answer_goes_out_in_one_write_head_and_body_together() -> None:
    transport = asyncio.run(served(PlainTextResponse("hello", 409)))
    assert len(transport.writes) == 1, transport.writes
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 409 Conflict\r\n")
    assert b"content-length: 5" in head
    assert body == b"hello"


def test_pipelined_requests_get_one_write_each_in_order() -> None:
    second = REQUEST.replace(b"GET /", b"GET /b")
    transport = asyncio.run(served(PlainTextResponse("a"), REQUEST, second))
    assert len(transport.writes) == 2, transport.writes
    for write in transport.writes:
        assert write.startswith(b"HTTP/1.1 200 OK\r\n") and write.endswith(b"\r\n\r\na")


def test_an_answer_of_a_known_length_waits_for_its_body_across_turns_of_the_loop() -> None:
    """The journal awaits its store (Redis, SQLite) before an answer's body goes on: the
    head of an answer of a known length still goes out with its body."""

    async def journalled(scope: Scope, receive: Receive, send: Send) -> None:
        start = {
            "type": "http.response.start",
            "status": 409,
            "headers": [(b"content-length", b"2")],
        }
        await send(start)
        await asyncio.sleep(0.01)  # the loop turns: a store's round trip
        await send({"type": "http.response.body", "body": b"{}"})

    transport = asyncio.run(served(journalled))
    assert len(transport.writes) == 1, transport.writes
    assert transport.writes[0].startswith(b"HTTP/1.1 409 Conflict\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n{}")


def test_a_head_whose_body_does_not_follow_goes_out_at_the_loops_next_turn() -> None:
    """A stream (the event stream's shape): its head, then parts of its body over time."""
    transport = Recording()
    seen: list[tuple[str, int]] = []

    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]}
        await send(start)
        seen.append(("started", len(transport.writes)))
        await asyncio.sleep(0.01)
        seen.append(("before the first part", len(transport.writes)))
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    asyncio.run(served(stream, transport=transport))
    # Held while the app ran on after its start (no turn of the loop yet), out before its
    # body's first part: a client sees the stream's head as soon as it would have.
    assert seen == [("started", 0), ("before the first part", 1)]
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")
    assert b"".join(transport.writes[1:]) == b"9\r\ndata: 1\n\n\r\n0\r\n\r\n"


@pytest.mark.parametrize("close_before_turn", [True, False])
def test_a_held_head_is_written_before_the_connection_closes(close_before_turn: bool) -> None:
    """An app that starts its answer and fails (uvicorn closes the connection): the head
    goes out first, as it did when uvicorn wrote it at once."""

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        length = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        if not close_before_turn:
            await asyncio.sleep(0)
        raise RuntimeError("the app failed after its start")

    transport = asyncio.run(served(failing))
    assert transport.closed
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_head_answer_is_written_whole_as_the_answer_completes() -> None:
    """A HEAD answer's body is never written: its head goes out as the answer completes,
    not a turn of the loop later (a server stopping closes answered connections)."""
    transport = Recording()
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("hello")(scope, receive, send)
        seen.append(len(transport.writes))

    asyncio.run(served(app, REQUEST.replace(b"GET", b"HEAD"), transport=transport))
    assert seen == [1]
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(
        b"content-length: 5\r\ncontent-type: text/plain; charset=utf-8\r\n\r\n"
    )
