"""``capture``: an exchange is logged before its answer's last byte, and a store that fails
to log it never costs the client its answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from mock_server.http.context import Context
from mock_server.http.journal import _Unjournalled, capture
from mock_server.state import StoreUnavailable
from mock_server.state.journal import Entry

pytestmark = pytest.mark.anyio


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"a", "more_body": True})
    await send({"type": "http.response.body", "body": b"b"})


def scope() -> Scope:
    made: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": [], "state": {}}

    async def unused(message: Message) -> None:
        raise AssertionError("not the server's send")

    Context(server_send=unused).attach(made)
    return made


async def run(log: Any) -> list[Message]:
    sent: list[Message] = []
    bodies = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        return bodies.pop(0) if bodies else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await capture(answer, scope(), receive, send, log=log, clock=lambda: 5.0)
    return sent


async def test_the_entry_is_logged_before_the_last_byte_goes_out() -> None:
    order: list[str] = []
    sent: list[Message] = []

    async def log(entry: Entry) -> None:
        order.append(f"logged after {len(sent)} messages")
        assert entry.status == 200 and entry.to_json(1)["request"]["body"] == "{}"

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await capture(answer, scope(), receive, send, log=log, clock=lambda: 5.0)
    assert order == ["logged after 2 messages"], "logged before the final body message"
    assert len(sent) == 3


async def test_a_store_that_cannot_log_still_lets_the_answer_out() -> None:
    async def log(entry: Entry) -> None:
        raise StoreUnavailable("gone")

    sent = await run(log)
    assert [m.get("body") for m in sent[1:]] == [b"a", b"b"]
    assert sent[-1].get("more_body", False) is False


def test_exchanges_a_lost_store_cannot_take_are_said_without_a_line_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """README: while the store is lost "the log says so once", not once per request."""
    now = [100.0]
    lost = _Unjournalled(clock=lambda: now[0])
    gone = StoreUnavailable("redis://127.0.0.1:1/0 unreachable")
    with caplog.at_level(logging.WARNING, logger="mock_server.journal"):
        for _ in range(500):  # a burst while the store is gone
            lost.lost(scope(), gone)
            now[0] += 0.01
        now[0] += _Unjournalled.EVERY
        lost.lost(scope(), gone)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert said[0] == "POST /x not journalled: redis://127.0.0.1:1/0 unreachable"
    assert said[1].endswith("(499 more since the last said)")
