"""The harness stays bounded against anything a target sends (issue #10).

Every request ends within ``--timeout``, body included; a body over the size cap
(after decompression) is refused while it streams; no ``Retry-After`` makes it wait
longer than a minute; the run's ``--max-time`` stops everything; a bug in the harness
exits 3, not 1.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from conformance.cli import main
from conformance.client import (
    MAX_WAIT,
    AnswerTooLarge,
    AnswerTooSlow,
    Budget,
    Client,
    Clock,
    OutOfTime,
    TargetUnresponsive,
    read_bounded,
)
from conformance.errors import UsageError
from conformance.runner import Report
from conformance.settings import Settings
from tests.conformance.servers import serve
from tests.conftest import ROOT

CRAFTKIT = str(ROOT / "fixtures/craftkit.yaml")
MiB = 1 << 20
FOREVER = math.inf

# ---------------------------------------------------------------- reading a body


def pieces(data: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def test_a_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip.compress(bytes(64 * MiB), 9)
    assert len(bomb) < MiB, "the test is a bomb: small on the wire"
    tracemalloc.start()
    try:
        with pytest.raises(AnswerTooLarge, match="after gzip decompression"):
            read_bounded(pieces(bomb), "gzip", deadline=FOREVER, seconds=1, limit=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"decoding held {peak} bytes at once"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("gzip", lambda b: gzip.compress(b[:3]) + gzip.compress(b[3:]), id="members"),
        pytest.param("deflate", zlib.compress, id="deflate-zlib"),
        pytest.param(
            "deflate",
            lambda b: (lambda z: z.compress(b) + z.flush())(zlib.compressobj(wbits=-15)),
            id="deflate-raw",
        ),
        pytest.param("", lambda b: b, id="identity"),
        pytest.param("br", lambda b: b, id="unknown-kept-as-is"),
    ],
)
def test_encodings_are_decoded_as_they_stream(encoding: str, encode: object) -> None:
    body = b'{"ok": true, "padding": "' + b"x" * 200_000 + b'"}'
    wire = encode(body)  # type: ignore[operator]
    assert read_bounded(pieces(wire, 1000), encoding, deadline=FOREVER, seconds=1) == body


def test_a_plain_body_over_the_cap_is_refused_as_it_streams() -> None:
    with pytest.raises(AnswerTooLarge, match=r"larger than 1048576 bytes; reading"):
        read_bounded(pieces(bytes(3 * MiB)), "", deadline=FOREVER, seconds=1, limit=MiB)


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    def never() -> Iterator[bytes]:
        raise AssertionError("read a body it had refused")
        yield b""  # pragma: no cover

    for declared in ("3000000000", str(MiB + 1)):
        with pytest.raises(AnswerTooLarge):
            read_bounded(
                never(), "", deadline=FOREVER, seconds=1, limit=MiB, declared_length=declared
            )


def test_a_body_still_coming_at_the_deadline_is_abandoned() -> None:
    with pytest.raises(AnswerTooSlow, match="did not finish within 2 s"):
        read_bounded(iter([b"{", b"}"]), "", deadline=-FOREVER, seconds=2)


# ---------------------------------------------------------------- the client, over a socket

RETRY_AFTER = {"hour": "3600", "minute": "30"}


async def trickle() -> AsyncIterator[bytes]:
    yield b'{"a": "'
    while True:
        await asyncio.sleep(0.05)
        yield b"."


async def headers_then_nothing() -> AsyncIterator[bytes]:
    yield b"{"
    await asyncio.sleep(30)  # cancelled when the client goes away


async def endpoint(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind == "trickle":
        return StreamingResponse(trickle(), media_type="application/json")
    if kind == "stall":
        return StreamingResponse(headers_then_nothing(), media_type="application/json")
    if kind == "huge":
        return StreamingResponse(pieces(bytes(12 * MiB)), media_type="application/json")
    if kind == "bomb":
        return Response(gzip.compress(bytes(32 * MiB)), headers={"Content-Encoding": "gzip"})
    if kind == "gzip":
        return Response(
            gzip.compress(b'{"ok": true}'),
            headers={"Content-Encoding": "gzip"},
            media_type="application/json",
        )
    return Response(b"{}", 429, headers={"Retry-After": RETRY_AFTER[kind]})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(Starlette(routes=[Route("/{kind}", endpoint, methods=["GET"])])) as base:
        yield base


class Recorded:
    """A clock whose sleeps cost nothing and are remembered."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def clock(self) -> Clock:
        return Clock(sleep=self.sleeps.append)


@pytest.mark.loopback
@pytest.mark.parametrize("kind", ["trickle", "stall"])
def test_the_timeout_covers_the_body(url: str, kind: str) -> None:
    client = Client(url, timeout=0.5)
    try:
        exchange = client.send("GET", f"/{kind}")
    finally:
        client.close()
    assert exchange.response is None and exchange.error_code == "transport"
    assert exchange.error is not None and "within 0.5 s" in exchange.error


@pytest.mark.loopback
@pytest.mark.parametrize("kind", ["huge", "bomb"])
def test_a_body_over_the_cap_is_response_too_large(url: str, kind: str) -> None:
    client = Client(url, timeout=5, max_body=MiB)
    try:
        exchange = client.send("GET", f"/{kind}")
    finally:
        client.close()
    assert exchange.response is None and exchange.error_code == "response_too_large"


@pytest.mark.loopback
def test_a_compressed_answer_reaches_the_checks_decoded(url: str) -> None:
    client = Client(url, timeout=5)
    try:
        exchange = client.send("GET", "/gzip")
    finally:
        client.close()
    assert exchange.json() == {"ok": True}
    assert exchange.response is not None and "content-encoding" not in exchange.response.headers


@pytest.mark.loopback
def test_a_retry_after_of_an_hour_is_not_waited_for(url: str) -> None:
    recorded = Recorded()
    client = Client(url, timeout=5, clock=recorded.clock())
    try:
        first = client.send("GET", "/hour")
        assert first.rate_limited and recorded.sleeps == []
        assert [wait for _, wait in client.refused_waits] == [3600.0]
        client.send("GET", "/hour")
        with pytest.raises(TargetUnresponsive, match="kept answering 429"):
            client.send("GET", "/hour")
    finally:
        client.close()


@pytest.mark.loopback
def test_a_retry_after_within_a_minute_is_waited_for_then_retried(url: str) -> None:
    recorded = Recorded()
    client = Client(url, timeout=5, clock=recorded.clock())
    try:
        assert client.send("GET", "/minute").rate_limited
    finally:
        client.close()
    assert recorded.sleeps == [30.0, 30.0, 30.0] and max(recorded.sleeps) <= MAX_WAIT


def test_no_request_and_no_wait_past_the_budget() -> None:
    spent = Budget(1e-9)
    client = Client("http://127.0.0.1:9", timeout=1, budget=spent)
    try:
        with pytest.raises(OutOfTime):
            client.send("GET", "/x")
        assert spent.spent
        roomy = Client("http://127.0.0.1:9", timeout=1, budget=Budget(5.0))
        with pytest.raises(OutOfTime, match="would pass while waiting"):
            roomy.pause(60)
        roomy.close()
    finally:
        client.close()


def test_an_infinite_budget_lets_every_wait_through() -> None:
    """``--max-time inf``: no wait is refused for the budget, however long (each is still
    capped at MAX_WAIT by the client's own rule)."""
    recorded = Recorded()
    budget = Budget(math.inf)
    client = Client("http://127.0.0.1:9", timeout=1, budget=budget, clock=recorded.clock())
    try:
        client.pause(86_400.0)
        budget.check()
    finally:
        client.close()
    assert recorded.sleeps == [86_400.0] and not budget.spent


# ---------------------------------------------------------------- settings and exit codes


def test_a_bug_in_the_harness_exits_3_with_where_to_report_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(settings: Settings) -> Report:
        raise KeyError("a harness bug")

    monkeypatch.setattr("conformance.runner.run", broken)
    code = main(["run", "craftkit", "--base-url", "http://127.0.0.1:9", "--fixtures", CRAFTKIT])
    assert code == 3, "1 means violations; a harness bug is not one"
    assert "internal error" in caplog.text and "please report it" in caplog.text
    assert "Traceback" not in caplog.text, "the traceback only at --log-level DEBUG"


@pytest.mark.parametrize(
    ("option", "message"),
    [({"max_time": 0.0}, "--max-time"), ({"rate_limit_wait": -1.0}, "--rate-limit-wait")],
)
def test_bounds_must_make_sense(option: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Settings(api="craftkit", base_url="http://h", fixtures=Path(CRAFTKIT), **option)  # type: ignore[arg-type]


def test_help_names_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for text in ("--max-time", "--rate-limit-wait", "response_too_large", "3 internal error"):
        assert text in out
