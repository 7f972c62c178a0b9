"""The express lane (``mock_server/http/lane.py``) answers as the layers do.

Two apps over the same fixtures and clock, one with the lane and one without, get the
same generated requests, in the same order: every answer must be the same bytes (status,
headers in order, body), and every session's journal and records the same after. The
requests are what the lane takes (ordinary ones) and what it hands to the layers before
or after it began (a browser's ``Origin``, ``Prefer``, a bad or doubled session, a fault
armed, a body in two messages, a client gone), so both of its ways are compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse

from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.craftkit.api import CraftkitApi
from mock_server.http.context import Context
from mock_server.http.lane import ExpressLane
from mock_server.served import CONTEXT
from mock_server.state import StoreUnavailable
from mock_server.state.memory import MemoryBackend
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    FIRMA_GLOBEX_KEY,
    GLOBEX_KEY,
    FrozenClock,
    jwts,
    signature_requests,
)

Messages = list[dict[str, Any]]

SESSIONS = [None, "alpha", "Beta.2"]
"""Sessions the requests name (``None``: no header, the default session)."""

SIGNATURES = [r["id"] for r in signature_requests()]
JWTS = [j["jwt_id"] for j in jwts()]


def _ids(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(str.upper),
        st.sampled_from(["00000000-0000-4000-8000-000000000000", "not-a-uuid", "%20", "1"]),
    )


authorizations = st.sampled_from(
    [
        None,
        f"Bearer {ACME_TEST_KEY}",
        f"bearer  {ACME_TEST_KEY} ",
        f"Bearer {GLOBEX_KEY}",
        "Bearer ck_test_nobody",
        "Bearer",
        "Basic abc",
        FIRMA_ACME_KEYS[0],
        f"Bearer {FIRMA_ACME_KEYS[1]}",
        FIRMA_GLOBEX_KEY,
        "firma_nobody",
    ]
)
session_headers = st.one_of(
    st.sampled_from(SESSIONS).map(lambda name: [] if name is None else [name]),
    st.sampled_from([["bad name!"], ["alpha", "alpha"], [" alpha "], [""]]),
)
extras = st.lists(
    st.sampled_from(
        [
            ("origin", "http://localhost:3000"),
            ("origin", "https://evil.example"),
            ("prefer", "code=409"),
            ("prefer", "dynamic=false"),
            ("prefer", "return=minimal"),
            ("expect", "100-continue"),
            ("x-request-id", "abc"),
            ("authorization", f"Bearer {ACME_TEST_KEY}"),
        ]
    ),
    max_size=2,
)
content_types = st.sampled_from([None, "application/json", "text/plain", "application/x+json"])
queries = st.sampled_from([b"", b"x=1", b"__code=409", b"%5F%5Fcode=404", b"__nope=1"])


@st.composite
def bodies(draw: st.DrawFn, api: str) -> bytes:
    if api == "craftkit":
        return draw(
            st.sampled_from(
                [b"", b"{}", b'{"reason": "customer request"}', b'{"reason": 5}', b"{", b" ", b"[]"]
            )
        )
    jwt_id = draw(_ids(JWTS))
    return draw(
        st.sampled_from(
            [
                json.dumps({"jwt_id": jwt_id}).encode(),
                b"",
                b"{}",
                b'{"jwt_id": 7}',
                b"not json",
                json.dumps({"jwt_id": jwt_id, "extra": True}).encode(),
            ]
        )
    )


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    api = draw(st.sampled_from(["craftkit", "firma"]))
    if api == "craftkit":
        path = f"/v1/signatures/{draw(_ids(SIGNATURES))}/cancel"
    else:
        path = f"{draw(st.sampled_from(FIRMA_BASES))}/jwt/revoke-signing-request"
    headers: list[tuple[str, str]] = [("host", "localhost")]
    authorization = draw(authorizations)
    if authorization is not None:
        headers.append(("authorization", authorization))
    headers += [("x-mock-session", name) for name in draw(session_headers)]
    content_type = draw(content_types)
    if content_type is not None:
        headers.append(("content-type", content_type))
    headers += draw(extras)
    body = draw(bodies(api))
    return {
        "method": draw(st.sampled_from(["POST", "POST", "POST", "GET"])),
        "path": path,
        "query": draw(queries),
        "headers": headers,
        "body": body,
        "split": draw(st.booleans()) and len(body) > 1,
        "gone": draw(st.integers(0, 19)) == 0,
    }


@st.composite
def faults(draw: st.DrawFn) -> dict[str, Any]:
    api = draw(st.sampled_from(["craftkit", "firma"]))
    operation = "cancelSignature" if api == "craftkit" else "POST /jwt/revoke-signing-request"
    status = draw(st.sampled_from([None, 200, 404] if api == "craftkit" else [None, 400, 429]))
    fault: dict[str, Any] = {"api": api, "operation": operation, "times": draw(st.integers(1, 2))}
    if status is not None:
        fault["status"] = status
    else:
        fault["delay_ms"] = 1
    return {"fault": fault, "session": draw(st.sampled_from(SESSIONS))}


steps = st.lists(st.one_of(requests(), requests(), requests(), faults()), min_size=1, max_size=8)

REPLAYED = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
"""How the steps are replayed (one sequence at a time, on apps a fixture may give):
each test sets only how many."""


async def exchange(app: MockApp, request: dict[str, Any]) -> Messages:
    """One request through ``app`` as a server would send it; what the app sent back, and
    when it asked for the body."""
    body: bytes = request["body"]
    parts = [body[:1], body[1:]] if request["split"] else [body]
    incoming: Messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if request["gone"]:
        incoming = []

    sent: Messages = []

    async def receive() -> dict[str, Any]:
        sent.append({"type": "(asked for the body)"})  # when, against what was sent
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    headers = [(name.encode(), value.encode("latin-1")) for name, value in request["headers"]]
    if body and not request["split"]:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request["method"],
        "scheme": "http",
        "path": request["path"],
        "raw_path": request["path"].encode(),
        "query_string": request["query"],
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50123),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return [dict(message, headers=list(message.get("headers", []))) for message in sent]


def status_of(sent: Messages) -> int:
    status: int = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status


async def control(
    app: MockApp, method: str, path: str, session: str | None, body: Any = None
) -> Any:
    headers = [("host", "localhost")]
    if session is not None:
        headers.append(("x-mock-session", session))
    content = b""
    if body is not None:
        headers.append(("content-type", "application/json"))
        content = json.dumps(body).encode()
    request = {"method": method, "path": path, "query": b"", "headers": headers, "body": content}
    sent = await exchange(app, {**request, "split": False, "gone": False})
    sent = [message for message in sent if message["type"].startswith("http.")]
    assert sent[0]["status"] < 300, sent
    return json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def seen(app: MockApp) -> dict[str | None, Any]:
    """Every session's journal (less each exchange's duration) and records."""
    found: dict[str | None, Any] = {}
    for session in SESSIONS:
        journal = await control(app, "GET", "/__mock/requests", session)
        for entry in journal["requests"] if isinstance(journal, dict) else journal:
            entry.pop("durationMs")
        found[session] = (journal, await control(app, "GET", "/__mock/state", session))
    return found


async def replay(apps: tuple[MockApp, MockApp], steps: list[dict[str, Any]]) -> None:
    """``steps`` sent to both ``apps`` (on one frozen clock, a quarter second apart), each
    request to one then the other: both must answer it alike (the faults set in both)."""
    clock = apps[0].clock
    assert isinstance(clock, FrozenClock) and apps[1].clock is clock
    for step in steps:
        clock.now += 0.25
        if "fault" in step:
            for app in apps:
                await control(app, "POST", "/__mock/faults", step["session"], step["fault"])
            continue
        first, second = await exchange(apps[0], step), await exchange(apps[1], step)
        assert first == second, step


@contextlib.asynccontextmanager
async def started(*apps: MockApp) -> AsyncIterator[tuple[MockApp, ...]]:
    """``apps`` started, and stopped after."""
    for app in apps:
        await app.start()
    try:
        yield apps
    finally:
        for app in apps:
            await app.stop()


CLOCK = FrozenClock()
LANE = create_app(Settings(), clock=CLOCK)
LAYERS = create_app(Settings(), clock=CLOCK, lane=False)


def test_the_apps_compared_differ_in_the_lane_only() -> None:
    assert isinstance(LANE._lane, ExpressLane) and LAYERS._lane is None


@settings(REPLAYED, max_examples=150)
@given(steps=steps)
def test_the_lane_answers_journals_and_changes_state_as_the_layers_do(
    steps: list[dict[str, Any]],
) -> None:
    async def run() -> None:
        for app in (LANE, LAYERS):
            await app.start()
        await replay((LANE, LAYERS), steps)
        assert await seen(LANE) == await seen(LAYERS)

    asyncio.run(run())


@pytest.fixture
async def apps_on(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[MockApp, MockApp]]:
    """An app with the lane and one without, each on a store of its own of the kind the
    test is parametrised with (``store``): two SQLite files, or two Redis databases."""
    store: str = request.param
    if store == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}" for name in ("lane.db", "layers.db")]
    else:
        url: str = request.getfixturevalue("redis_url")
        urls = [url, url.rsplit("/", 1)[0] + "/1"]
    clock = FrozenClock()
    async with started(
        create_app(Settings(store=urls[0]), clock=clock, lane=True),
        create_app(Settings(store=urls[1]), clock=clock, lane=False),
    ) as (lane, layers):
        yield lane, layers


@pytest.mark.anyio
@pytest.mark.parametrize("apps_on", ["sqlite", "redis"], indirect=True)
@settings(REPLAYED, max_examples=20)
@given(steps=steps)
async def test_on_a_shared_store_too(
    apps_on: tuple[MockApp, MockApp], steps: list[dict[str, Any]]
) -> None:
    """As above, on the stores several workers share (Redis reads the records a request
    will act on as it begins: what the lane hands on carries them)."""
    await replay(apps_on, steps)
    assert await seen(apps_on[0]) == await seen(apps_on[1])


@pytest.mark.anyio
@pytest.mark.parametrize("answer", ["raises", "plain text", "store lost"])
async def test_what_the_lane_does_not_answer_itself_the_layers_answer_alike(
    answer: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the lane hands on with what raised or the handler's answer: the dispatcher
    raises or gives it, as it would have its own; nothing ran twice (a handler, or a
    session's beginning: a hung store would make the client wait for it twice)."""
    calls: list[str] = []

    async def handler(self: CraftkitApi, request: Any, store: Any) -> Any:
        calls.append(request.scope["path"])
        if answer == "raises":
            raise RuntimeError("a bug")
        return PlainTextResponse("plain", 200)

    async def begin(self: MemoryBackend, *args: Any, **kwargs: Any) -> Any:
        calls.append("begin")
        raise StoreUnavailable("lost")

    if answer == "store lost":
        monkeypatch.setattr(MemoryBackend, "begin", begin)
    else:
        monkeypatch.setattr(CraftkitApi, "cancel_signature", handler)
    clock = FrozenClock()
    answers = []
    for lane in (True, False):
        app = create_app(Settings(), clock=clock, lane=lane)
        await app.start()
        request = {
            "method": "POST",
            "path": f"/v1/signatures/{SIGNATURES[0]}/cancel",
            "query": b"",
            "headers": [("host", "localhost"), ("authorization", f"Bearer {ACME_TEST_KEY}")],
            "body": b"",
            "split": False,
            "gone": False,
        }
        answers.append(await exchange(app, request))
        if answer != "store lost":  # (the control plane begins its session too)
            journal = await control(app, "GET", "/__mock/requests", None)
            entries = journal["requests"] if isinstance(journal, dict) else journal
            statuses = [entry["response"]["status"] for entry in entries]
            assert statuses == [status_of(answers[-1])]
    assert answers[0] == answers[1]
    assert status_of(answers[0]) == {"raises": 500, "plain text": 200, "store lost": 503}[answer]
    assert len(calls) == 2, "once per app: what the lane did was handed on, not done again"


def request_to(path: str, headers: list[tuple[str, str]], body: bytes = b"") -> dict[str, Any]:
    return {
        "method": "POST",
        "path": path,
        "query": b"",
        "headers": [("host", "localhost"), *headers],
        "body": body,
        "split": False,
        "gone": False,
    }


CANCEL_SENT = [
    request_to(f"/v1/signatures/{r['id']}/cancel", [("authorization", f"Bearer {ACME_TEST_KEY}")])
    for r in signature_requests(project="proj_acme", status="sent")
    if "mock" not in r
][:2]
REVOKE_NOBODY = request_to(
    f"{FIRMA_BASES[1]}/jwt/revoke-signing-request",
    [("authorization", FIRMA_ACME_KEYS[0]), ("content-type", "application/json")],
    b'{"jwt_id": "00000000-0000-4000-8000-000000000000"}',
)


async def slow_then_quick(app: MockApp, slow: dict[str, Any], quick: dict[str, Any]) -> Messages:
    """``slow`` arrives first, its body late; ``quick`` arrives second, whole: what each
    was answered (the slow one's first)."""
    gate = asyncio.Event()

    async def held() -> Messages:
        real = app.__call__

        async def gated(scope: Any, receive: Any, send: Any) -> None:
            async def late() -> Any:
                await gate.wait()
                return await receive()

            await real(scope, late, send)

        return await exchange(gated, slow)  # type: ignore[arg-type]

    first = asyncio.ensure_future(held())
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(exchange(app, quick))
    await asyncio.sleep(0.01)
    gate.set()
    return [*(await first), *(await second)]


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["fault", "quota"])
async def test_concurrent_requests_take_a_fault_or_a_quota_in_the_order_they_came(
    case: str,
) -> None:
    """The session begins (and its fault, a Firma key's write, is taken) as a request
    comes, before its body does, as the dispatcher begins it: a request whose body is slow
    does not give its turn to one that came after it."""
    answers = []
    for lane in (True, False):
        app = create_app(Settings(), clock=FrozenClock(), lane=lane)
        await app.start()
        if case == "fault":
            fault = {"api": "craftkit", "operation": "cancelSignature", "status": 404, "times": 1}
            await control(app, "POST", "/__mock/faults", None, fault)
            answers.append(await slow_then_quick(app, *CANCEL_SENT))
        else:
            answers.append(await slow_then_quick(app, REVOKE_NOBODY, REVOKE_NOBODY))
    assert answers[0] == answers[1]
    starts = [m for m in answers[0] if m["type"] == "http.response.start"]
    if case == "fault":
        assert [m["status"] for m in starts] == [404, 200], "the first to come took the fault"
    else:
        remaining = [dict(m["headers"])[b"x-ratelimit-remaining"] for m in starts]
        assert remaining == [b"119", b"118"], "the first to come counted first"


@pytest.mark.anyio
async def test_a_request_handed_on_is_journalled_from_when_the_lane_took_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FrozenClock()
    started = clock.now

    async def handler(self: CraftkitApi, request: Any, store: Any) -> Any:
        clock.now += 5  # the handler takes 5 s, then fails
        raise RuntimeError("a bug")

    monkeypatch.setattr(CraftkitApi, "cancel_signature", handler)
    entries = []
    for lane in (True, False):
        clock.now = started
        app = create_app(Settings(), clock=clock, lane=lane)
        await app.start()
        assert status_of(await exchange(app, CANCEL_SENT[0])) == 500
        journal = await control(app, "GET", "/__mock/requests", None)
        [entry] = journal["requests"] if isinstance(journal, dict) else journal
        entries.append(entry["at"])
    assert entries[0] == entries[1], "the lane's start, not the layers' once handed on"


@pytest.mark.anyio
@pytest.mark.parametrize("failure", ["handler", "begin"])
async def test_no_context_outlives_a_request_handed_on_with_what_raised(
    failure: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What raised holds the frames that hold the request's context: handed on, it is let
    go of, or every failed request (a 500; a 503 while the store is lost) would leave a
    reference cycle for the collector (which a frozen heap never frees)."""

    async def handler(self: CraftkitApi, request: Any, store: Any) -> Any:
        raise RuntimeError("a bug")

    async def begin(self: MemoryBackend, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("lost")

    if failure == "handler":
        monkeypatch.setattr(CraftkitApi, "cancel_signature", handler)
    else:
        monkeypatch.setattr(MemoryBackend, "begin", begin)
    app = create_app(Settings(), clock=FrozenClock())
    await app.start()
    # (A log record kept by pytest would hold the traceback, and with it the context.)
    caplog.set_level(logging.CRITICAL, logger="mock_server")
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, Context)}  # other tests'
    gc.disable()
    try:
        for _ in range(10):
            assert status_of(await exchange(app, CANCEL_SENT[0])) in (500, 503)
        alive = [o for o in gc.get_objects() if isinstance(o, Context) and id(o) not in before]
    finally:
        gc.enable()
    assert alive == []


@pytest.mark.anyio
async def test_a_request_cancelled_in_the_lane_leaves_no_context_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a server stopping cancels the requests in flight."""
    waiting = asyncio.Event()

    async def handler(self: CraftkitApi, request: Any, store: Any) -> Any:
        waiting.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(CraftkitApi, "cancel_signature", handler)
    app = create_app(Settings(), clock=FrozenClock())
    await app.start()
    scope: dict[str, Any] = {}
    real = app.__call__

    async def keeping(given: Any, receive: Any, send: Any) -> None:
        scope.update(given=given)
        await real(given, receive, send)

    task = asyncio.ensure_future(exchange(keeping, CANCEL_SENT[0]))  # type: ignore[arg-type]
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert CONTEXT not in scope["given"]["state"]


@pytest.mark.anyio
async def test_a_journal_that_fails_otherwise_than_unreachable_is_logged_as_the_layers_log_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def log(self: MemoryBackend, *args: Any) -> None:
        raise ValueError("a bug in the store")

    monkeypatch.setattr(MemoryBackend, "log", log)
    seen_by = []
    for lane in (True, False):
        caplog.clear()
        app = create_app(Settings(), clock=FrozenClock(), lane=lane)
        await app.start()
        sent = await exchange(app, CANCEL_SENT[0])
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        seen_by.append((sent, errors))
    assert seen_by[0] == seen_by[1]
    assert seen_by[0][1] == [f"unexpected error answering POST {CANCEL_SENT[0]['path']}"]


@pytest.fixture
async def memory_and_redis(redis_url: str) -> AsyncIterator[tuple[MockApp, MockApp]]:
    """An app on the memory store and one on Redis, both with the lane, on one clock."""
    clock = FrozenClock()
    async with started(
        create_app(Settings(), clock=clock),
        create_app(Settings(store=redis_url.rsplit("/", 1)[0] + "/2"), clock=clock),
    ) as (memory, redis):
        yield memory, redis


@pytest.mark.anyio
@settings(REPLAYED, max_examples=40)
@given(steps=steps)
async def test_redis_counts_a_write_as_it_begins_as_memory_counts_it_in_the_handler(
    memory_and_redis: tuple[MockApp, MockApp], steps: list[dict[str, Any]]
) -> None:
    """Redis counts a Firma write in its rate window in the script that begins the request
    (a round trip saved), unless a fault is taken or a ``Prefer`` may force the answer;
    the memory store counts it as the handler asks. The same answers either way."""
    await replay(memory_and_redis, steps)
    for session in SESSIONS:
        states = [await control(app, "GET", "/__mock/state", session) for app in memory_and_redis]
        assert states[0] == states[1], session


@pytest.mark.anyio
@pytest.mark.parametrize("edge", ["first write", "the window running out"])
async def test_a_write_is_counted_as_of_when_its_request_began_on_every_store(
    memory_and_redis: tuple[MockApp, MockApp], edge: str
) -> None:
    """The clock moves while a request begins (its round trip to the store): Redis counts
    the write in that round trip, the memory store in the handler, both as of the time the
    request began, so a write near a second's or a window's end gets the same answer and
    quota headers from both."""
    clock = memory_and_redis[0].clock
    assert isinstance(clock, FrozenClock)
    for app in memory_and_redis:
        begin = app.backend.begin

        async def slow_begin(*args: Any, _begin: Any = begin, **kwargs: Any) -> Any:
            begun = await _begin(*args, **kwargs)
            clock.now += 0.02  # the round trip took 20 ms
            return begun

        app.backend.begin = slow_begin  # type: ignore[method-assign]
    revoke = {
        "method": "POST",
        "path": f"{FIRMA_BASES[0]}/jwt/revoke-signing-request",
        "query": b"",
        "headers": [
            ("host", "localhost"),
            ("authorization", FIRMA_ACME_KEYS[0]),
            ("content-type", "application/json"),
        ],
        "body": json.dumps({"jwt_id": "00000000-0000-4000-8000-000000000000"}).encode(),
        "split": False,
        "gone": False,
    }
    seen = []
    for app in memory_and_redis:
        clock.now = 1_795_000_000.99  # begins in one second; its handler runs in the next
        if edge == "the window running out":
            for _ in range(120):  # the fixtures' write_per_minute: the next is the 121st
                clock.now += 0.0001
                assert status_of(await exchange(app, revoke)) == 404
            clock.now = 1_795_000_000.99 + 59.99  # the window ends as the request is under way
        sent = await exchange(app, revoke)
        head = next(m for m in sent if m["type"] == "http.response.start")
        seen.append((head["status"], [h for h in head["headers"] if h[0] != b"content-length"]))
    assert seen[0] == seen[1]
