"""The Redis store's own surface: passwords (in the URL or ``$REDIS_PASSWORD``), URLs refused
at start-up, and what a lost or refusing Redis raises. The behaviour every store shares is
in test_backends.py."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
import uvloop
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import TimeoutError as RedisTimeoutError

from mock_server.state import (
    Decision,
    Limits,
    Record,
    StoreRefused,
    StoreUnavailable,
    StoreUrlError,
    open_backend,
)
from mock_server.state.base import Read
from mock_server.state.journal import Entry, exchange
from mock_server.state.redis import (
    _CAS,
    _LOG,
    BATCH,
    IN_FLIGHT,
    TIMEOUT,
    RedisBackend,
    _Connection,
    _Script,
)
from tests._redis import RedisServer, RedisServerFactory, command

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-for-the-test"


async def test_a_password_in_the_url_or_the_environment_opens_a_protected_redis(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory("--requirepass", PASSWORD)
    in_url = open_backend(f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0")
    from_env = open_backend(server.url, environ={"REDIS_PASSWORD": PASSWORD})
    try:
        await in_url.open()
        await from_env.open()
        assert PASSWORD not in in_url.url, "the URL as logs show it hides the password"
        await in_url.touch("ns", "s", 1.0)
        assert await from_env.sessions("ns") == ["s"], "both see one store"
    finally:
        await in_url.close()
        await from_env.close()


async def test_without_the_password_opening_fails_saying_so(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory("--requirepass", PASSWORD)
    for url, environ in ((server.url, {}), (server.url, {"REDIS_PASSWORD": "wrong"})):
        backend = open_backend(url, environ=environ)
        try:
            with pytest.raises(StoreRefused, match=r"^Redis refused the credentials \("):
                await backend.open()
        finally:
            await backend.close()


async def test_a_redis_that_refuses_the_password_later_is_unavailable_saying_why(
    redis_server_factory: RedisServerFactory,
) -> None:
    """The password changed while the mock ran, its connection then lost: each request's
    503 (and the log) says Redis refused the credentials, not merely "unreachable"."""
    server = redis_server_factory("--requirepass", PASSWORD)
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    backend = await opened(url)
    admin = aioredis.Redis.from_url(url)
    try:
        await backend.touch("ns", "s", 1.0)
        await admin.config_set("requirepass", "changed-password")
        await admin.client_kill_filter(_type="normal", skipme=True)  # the store's connection
        with pytest.raises(StoreUnavailable) as first:
            await asyncio.wait_for(backend.touch("ns", "s", 2.0), TIMEOUT + 5)
        if not isinstance(first.value, StoreRefused):  # sent before the loss was seen
            assert "lost" in str(first.value) or "closed" in str(first.value), first.value
        with pytest.raises(StoreRefused) as refused:
            await asyncio.wait_for(backend.touch("ns", "s", 3.0), TIMEOUT + 5)
    finally:
        await admin.aclose()
        await backend.close()
    assert str(refused.value).startswith(
        "Redis refused the credentials (the password in the URL: invalid username-password "
        "pair or user is disabled); give those it expects: "
    )
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("redis://", "no host"),
        ("redis://127.0.0.1:6379/zero", "'zero' is not a database number"),
        ("redis://127.0.0.1:99999/0", "'99999' is not a port"),
        ("redis://127.0.0.1:notaport/0", "'notaport' is not a port"),
        ("redis://127.0.0.1:0/0", "'0' is not a port"),  # redis-py took it for 6379
        ("redis://127.0.0.1:6379/²", "'²' is not a database number"),  # redis-py used 0
        ("redis://[::1/0", "not a URL"),
        # redis-py would read a query as connection options: a wrong one hung start-up
        ("redis://127.0.0.1:6379/0?foo=bar", "a query string .*; write redis://HOST:PORT/DB"),
        ("redis://127.0.0.1:6379/0?socket_timeout=abc", "a query string .*; write redis://"),
        ("redis://127.0.0.1:6379/0#x", "a fragment .*; write redis://HOST:PORT/DB"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_fix(url: str, names: str) -> None:
    with pytest.raises(StoreUrlError, match=names) as refused:
        open_backend(url)
    assert str(refused.value).endswith("e.g. redis://127.0.0.1:6379/0"), "the fix"


@pytest.mark.parametrize("scheme", ["REDISS", "RedisS", "rediss"])
def test_rediss_in_any_case_is_redis_over_tls(scheme: str) -> None:
    backend = open_backend(f"{scheme}://cache.internal:6380/0")
    assert isinstance(backend, RedisBackend)
    assert backend.url == "rediss://cache.internal:6380/0"
    assert issubclass(backend._pipeline._pool.connection_class, SSLConnection)


@pytest.mark.parametrize(
    ("options", "db", "fix"),
    [
        ((), 99999, "it has 16 (its databases setting): give a DB from 0 to 15"),
        (("--databases", "4"), 4, "it has 4 (its databases setting): give a DB from 0 to 3"),
        (
            ("--rename-command", "CONFIG", ""),
            16,
            "give a DB from 0 to 15 (Redis's default; its databases setting may allow more)",
        ),
    ],
    ids=["default", "databases-4", "config-disabled"],
)
async def test_a_database_redis_lacks_is_refused_naming_those_it_has(
    redis_server_factory: RedisServerFactory, options: tuple[str, ...], db: int, fix: str
) -> None:
    """Not "cannot reach it; start it": Redis runs, the URL names a database it lacks."""
    server = redis_server_factory(*options)
    backend = open_backend(server.url_for(db))
    try:
        with pytest.raises(StoreUrlError) as refused:
            await asyncio.wait_for(backend.open(), 10)
    finally:
        await backend.close()
    assert (
        str(refused.value) == f"--store '{server.url_for(db)}': Redis has no database {db}; {fix}"
    )


async def test_a_connection_that_cannot_even_be_made_fails_its_commands_never_hangs() -> None:
    """redis-py's pool may raise making a connection (here: an option it does not know):
    the commands waiting for it fail at once, and a later one tries again."""
    pool = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0?foo=bar")
    backend = RedisBackend(pool, url="redis://127.0.0.1:1/0", limits=Limits())
    try:
        for _ in range(2):
            with pytest.raises(StoreUnavailable, match="foo"):
                await asyncio.wait_for(backend.open(), 5)
    finally:
        await asyncio.wait_for(backend.close(), 5)


TABLE = "craftkit.signature_requests"
SENT: Record = {"id": "a", "status": "sent"}


def cancel(record: Record | None) -> Decision[str]:
    if record is None or record["status"] != "sent":
        return Decision("409")
    return Decision("200", {**record, "status": "cancelled"})


def entry() -> Entry:
    return Entry(
        at=1.0,
        session="s",
        api="craftkit",
        operation="cancelSignature",
        simulated=None,
        method="POST",
        path="/v1/x",
        query="",
        status=200,
        request=exchange([], b"", 0),
        response=exchange([], b"{}", 2),
        duration_ms=1.0,
    )


async def opened(url: str) -> RedisBackend:
    backend = open_backend(url)
    assert isinstance(backend, RedisBackend)
    await backend.open()
    return backend


async def test_scripts_lost_by_redis_are_loaded_again_and_only_the_refused_ones_run_again(
    redis_url: str,
) -> None:
    """Redis restarted (its scripts gone) under load: in one pipeline, commands before another
    client's SCRIPT LOAD are refused (NOSCRIPT), those after it run. Only the refused ones
    may be sent again: a cancel that ran must not run twice (its 200 turned into a 409)."""
    backend = await opened(redis_url)
    other_worker = aioredis.Redis.from_url(redis_url)

    async def load(script: _Script) -> Any:
        return await backend._pipeline.send(script.load)

    try:
        await other_worker.script_flush()
        outcomes = await asyncio.gather(
            backend.take_fault("ns", "s", "firma", "op"),  # refused: NOSCRIPT
            # another worker loading the scripts again, its SCRIPT LOAD landing here
            load(_CAS),
            load(_LOG),
            # read as the request began: its compare-and-set goes in this pipeline, and runs
            backend.transition("ns", "s", TABLE, "a", SENT, cancel, read=Read(None)),
            backend.log("ns", "s", entry()),  # runs
        )
        assert outcomes[3] == "200", "the cancel that ran answers 200"
        assert len(await backend.journal("ns", "s")) == 1, "the exchange logged once"
    finally:
        await other_worker.aclose()
        await backend.close()


async def test_a_worker_moving_to_a_new_world_never_deletes_what_another_wrote_there(
    redis_url: str,
) -> None:
    """Two workers see a fixture edit at once: the first moves the store to the new world and
    forgets the old one (a SCAN of the whole keyspace: it takes a while); the second adopts
    the new world at once and serves it. What the second acknowledged meanwhile stays."""
    first, second = await opened(redis_url), await opened(redis_url)
    forgetting, go_on = asyncio.Event(), asyncio.Event()
    forget = first.forget

    async def slow_forget(namespace: str) -> None:
        forgetting.set()
        await go_on.wait()
        await forget(namespace)

    try:
        await first.world("fp-1")
        await second.world("fp-1")
        first.forget = slow_forget  # type: ignore[method-assign]
        moving = asyncio.ensure_future(first.world("fp-2"))
        await forgetting.wait()
        namespace = await second.world("fp-2")
        await second.touch(namespace, "s", 1.0)
        assert await second.transition(namespace, "s", TABLE, "a", SENT, cancel) == "200"
        go_on.set()
        assert await moving == namespace
        assert await second.transition(namespace, "s", TABLE, "a", SENT, cancel) == "409"
    finally:
        go_on.set()
        await first.close()
        await second.close()


async def test_a_world_served_again_starts_afresh_whatever_a_late_worker_left_in_it(
    redis_url: str,
) -> None:
    first, late = await opened(redis_url), await opened(redis_url)
    try:
        old = await first.world("fp-1")
        await late.world("fp-1")
        await first.world("fp-2")  # an edit; the late worker has not seen it yet
        await late.touch(old, "s", 1.0)
        assert await late.transition(old, "s", TABLE, "a", SENT, cancel) == "200"
        again = await first.world("fp-1")  # the edit undone
        assert await first.sessions(again) == []
        assert (await first.touch(again, "s", 2.0)).created
        assert await first.get(again, "s", TABLE, "a") is None
    finally:
        await first.close()
        await late.close()


async def test_commands_queued_behind_a_hung_redis_are_refused_with_it_never_sent(
    redis_server: RedisServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis hangs under load: the batches on their way time out (503), and so does every
    command queued behind them, at once and unsent, rather than each batch of them going to
    the hung Redis in turn (a 503 after several timeouts, and an effect once Redis wakes)."""
    backend = await opened(redis_url)
    sent: list[int] = []
    write = _Connection.write

    def counted(connection: _Connection, commands: list[bytes], futures: Any) -> None:
        sent.append(len(commands))
        write(connection, commands, futures)

    monkeypatch.setattr(_Connection, "write", counted)
    redis_server.pause()
    try:
        outcomes = await asyncio.gather(
            *(backend.touch("ns", f"s{i}", 1.0) for i in range(4 * BATCH * IN_FLIGHT)),
            return_exceptions=True,
        )
    finally:
        redis_server.resume()
        await backend.close()
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
    assert len(sent) <= IN_FLIGHT, f"batches sent to a hung Redis: {sent}"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_loop_busy_beyond_the_timeout_is_no_timeout_when_redis_answered_in_time(
    redis_server: RedisServer, redis_url: str, loop: str
) -> None:
    """The worker's event loop busy with CPU work for longer than the timeout (16 batch
    creates of 1,000 records at once) while a command waits for Redis, which answers
    well within it: the answer is there, unread, when the loop looks at the deadline,
    and it counts. It was a 503 ("no answer within 2 s"): the timer ran before the
    reading task resumed. The work here runs in an I/O callback (as a server's protocol
    does), after which uvloop runs due timers before it reads again."""

    async def busy_while_waiting() -> tuple[Any, ...]:
        backend = await opened(redis_url)
        busy, wake = socket.socketpair()

        def work() -> None:
            busy.recv(1)
            time.sleep(TIMEOUT + 0.5)  # the loop busy: no other callback runs

        running = asyncio.get_running_loop()
        running.add_reader(busy.fileno(), work)
        try:
            redis_server.pause()  # so the command surely waits when the loop turns busy
            threading.Timer(0.3, redis_server.resume).start()  # answers after ~0.3 s
            touched = asyncio.ensure_future(backend.touch("ns", "s", 1.0))
            await asyncio.sleep(0.1)
            wake.send(b"x")
            return (await touched, await backend.sessions("ns"))
        finally:
            running.remove_reader(busy.fileno())
            busy.close()
            wake.close()
            await backend.close()

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None)
    with runner:
        touched, sessions = runner.run(busy_while_waiting())
    assert touched.created and sessions == ["s"], "answered, on the same connection"


async def test_a_hung_redis_still_times_out_while_the_loop_was_busy(
    redis_server: RedisServer, redis_url: str
) -> None:
    """The other side of the test above: nothing came, so the deadline holds."""
    backend = await opened(redis_url)
    try:
        redis_server.pause()
        touched = asyncio.ensure_future(backend.touch("ns", "s", 1.0))
        await asyncio.sleep(0.1)
        time.sleep(TIMEOUT + 0.5)  # the loop busy: no other task runs
        with pytest.raises(StoreUnavailable, match=f"no answer within {TIMEOUT:g} s"):
            await touched
    finally:
        redis_server.resume()
        await backend.close()


CLIENTS = 200
"""Concurrent callers of one store (a worker's requests) in the crash test."""
SLACK = 1.0
"""Seconds a call may take beyond :data:`TIMEOUT` (one loop shared by 200 callers)."""

Call = tuple[float, float, BaseException | None]
"""When a call began and ended (the loop's clock), and what it raised, if anything."""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_calls_under_load_while_redis_crashes_and_restarts_fail_fast_then_succeed(
    redis_server: RedisServer, redis_url: str, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 callers keep calling while redis-server is SIGKILLed twice and started again on
    the same port (empty: its scripts gone too): first under load, then at the worst
    moment, as the store takes over the connection redis-py has just set up (Redis
    started again, killed right after the handshake: the end of the stream seen by
    redis-py's reader, not by the store). Every call either succeeds or raises
    StoreUnavailable within about TIMEOUT, and every call that begins once Redis is back
    succeeds. A reviewer's script doing this hung (the batches sent on the dead
    connection waited for ever): everything here is bounded, so it fails instead."""
    seam_armed = False
    seam_started, seam_done = asyncio.Event(), asyncio.Event()  # made again in the test's loop
    connect = Connection.connect
    step = ["opening"]

    async def connect_then_crash(connection: Connection) -> None:
        nonlocal seam_armed
        await connect(connection)
        if seam_armed:
            seam_armed = False
            await seam_started.wait()  # start() returned: the server is the test's to kill
            await asyncio.to_thread(redis_server.kill)
            assert connection._reader is not None
            assert await asyncio.wait_for(connection._reader.read(), TIMEOUT) == b""
            seam_done.set()

    monkeypatch.setattr(Connection, "connect", connect_then_crash)

    async def scenario() -> tuple[list[Call], float]:
        nonlocal seam_armed, seam_started, seam_done
        seam_started, seam_done = asyncio.Event(), asyncio.Event()
        running = asyncio.get_running_loop()
        backend = await opened(redis_url)
        calls: list[Call] = []
        stop = asyncio.Event()
        progress = asyncio.Condition()

        async def caller(index: int) -> None:
            session = f"s{index % 20}"
            for turn in range(100_000):  # bounded; stop ends it long before
                if stop.is_set():
                    return
                started = running.time()
                outcome: BaseException | None = None
                try:
                    if turn % 3 == 0:
                        await backend.touch("ns", session, 1.0)
                    elif turn % 3 == 1:
                        await backend.transition("ns", session, TABLE, f"k{index}", SENT, cancel)
                    else:
                        await backend.log("ns", session, entry())
                except Exception as exc:  # recorded, judged below
                    outcome = exc
                calls.append((started, running.time(), outcome))
                async with progress:
                    progress.notify_all()
                if outcome is not None:
                    await asyncio.sleep(0.01)  # pacing: a Redis gone refuses at once

        async def until(predicate: Callable[[], bool]) -> None:
            async with progress:
                await progress.wait_for(predicate)

        def succeeded_since(moment: float) -> int:
            return sum(1 for start, _, outcome in calls if start >= moment and outcome is None)

        def failed_since(moment: float) -> bool:
            return any(start >= moment and outcome is not None for start, _, outcome in calls)

        callers = [asyncio.ensure_future(caller(i)) for i in range(CLIENTS)]
        try:
            step[0] = "calls before any crash"
            await until(lambda: succeeded_since(0) >= CLIENTS)
            step[0] = "crash 1 (under load): a call failing"
            await asyncio.to_thread(redis_server.kill)
            gone = running.time()
            await until(lambda: failed_since(gone))
            seam_armed = True
            step[0] = "crash 2 (at the take-over): Redis started, then killed"
            await asyncio.to_thread(redis_server.start)
            seam_started.set()
            await seam_done.wait()
            gone = running.time()
            step[0] = "crash 2 (at the take-over): a call failing"
            await until(lambda: failed_since(gone))
            step[0] = "Redis back: calls succeeding"
            await asyncio.to_thread(redis_server.start)
            back = running.time()
            await until(lambda: succeeded_since(back) >= CLIENTS)
            step[0] = "the callers' last calls ending"
            stop.set()
            _, pending = await asyncio.wait(callers, timeout=TIMEOUT + SLACK)
            assert not pending, f"{len(pending)} callers still waiting for a reply"
        finally:
            for task in callers:
                task.cancel()  # bounded, whatever happened
            await asyncio.wait(callers, timeout=TIMEOUT + SLACK)
            await backend.close()
        return calls, back

    async def bounded() -> tuple[list[Call], float]:
        try:
            async with asyncio.timeout(60):
                return await scenario()
        except TimeoutError:
            pytest.fail(f"hung at: {step[0]}")

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None)
    with runner:
        calls, back = runner.run(bounded())
    unexpected = [o for _, _, o in calls if o is not None and not isinstance(o, StoreUnavailable)]
    assert not unexpected, f"errors other than StoreUnavailable: {unexpected[:3]}"
    slow = [end - start for start, end, _ in calls if end - start > TIMEOUT + SLACK]
    assert not slow, f"{len(slow)} calls took over {TIMEOUT + SLACK:g} s, up to {max(slow):.1f} s"
    failed_once_back = [o for start, _, o in calls if start >= back and o is not None]
    assert not failed_once_back, f"calls failed once Redis was back: {failed_once_back[:3]}"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("how", ["client-kill", "transport-closed"])
def test_a_connection_closed_as_the_store_takes_it_over_fails_its_commands_at_once(
    redis_server: RedisServer, redis_url: str, loop: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis may end a connection between redis-py's handshake and the store taking it
    over (CLIENT KILL, ``timeout``, a crash as in the test above): the commands waiting
    for it fail with the connection error, at once, and the next command connects again.
    They waited for ever (the deadline looked again every RECHECK at the end of the stream,
    which nobody read) or made ``poll.register(-1)`` raise in the watchdog.

    No real trigger lands exactly there on its own (``maxclients`` reached makes redis-py's
    ``connect()`` itself fail: tried), so a wrapper of ``connect()`` acts at that seam:
    ``client-kill`` has Redis close the connection (CLIENT KILL) and waits until redis-py's
    reader has seen its end; ``transport-closed`` closes the transport there (the end
    delivered to redis-py's protocol, the socket's descriptor -1)."""
    connect = Connection.connect
    closed: list[Connection] = []

    async def connect_then_close(connection: Connection) -> None:
        await connect(connection)
        if closed:
            return
        closed.append(connection)
        assert connection._writer is not None and connection._reader is not None
        if how == "client-kill":
            host, port = connection._writer.get_extra_info("sockname")[:2]
            killed = command(redis_server.port, "CLIENT", "KILL", "ADDR", f"{host}:{port}")
            assert killed == b":1"
        else:
            connection._writer.transport.abort()
        assert await asyncio.wait_for(connection._reader.read(), TIMEOUT) == b""

    monkeypatch.setattr(Connection, "connect", connect_then_close)

    async def scenario() -> tuple[list[Any], float, Any]:
        backend = open_backend(redis_url)  # not opened: its first command connects
        running = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(30):
                started = running.time()
                outcomes = await asyncio.gather(
                    *(backend.touch("ns", f"s{i}", 1.0) for i in range(10)),
                    return_exceptions=True,
                )
                elapsed = running.time() - started
                return outcomes, elapsed, await backend.touch("ns", "s", 1.0)
        except TimeoutError:
            pytest.fail("the commands still waited after 30 s")
        finally:
            await backend.close()

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None)
    with runner:
        outcomes, elapsed, then = runner.run(scenario())
    assert len(closed) == 1
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes), outcomes
    assert all("closed as it was set up" in str(outcome) for outcome in outcomes), outcomes
    assert elapsed < TIMEOUT, "failed at once, not by the deadline"
    assert then.created, "the next command connected again"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_closed_socket_has_nothing_unread_so_its_batch_times_out(
    redis_url: str, loop: str
) -> None:
    """The deadline's look at the socket (is a reply there, unread?) on a connection whose
    transport is closed, its descriptor -1: nothing is unread, and the batch times out.
    It was ``poll.register(-1)``: ValueError in the watchdog, which never looked again,
    so the batch waited for ever."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])

    async def scenario() -> tuple[int, bool, BaseException | None]:
        backend = open_backend(redis_url)
        assert isinstance(backend, RedisBackend)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert writer.transport.get_extra_info("socket")  # as redis-py asks (TCP_NODELAY)
        writer.transport.abort()
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # its end delivered
        connection = _Connection(backend._pipeline, writer, "closed")
        fd = writer.transport.get_extra_info("socket").fileno()
        unread = connection._unread()
        running = asyncio.get_running_loop()
        reply = running.create_future()
        connection._waiting.append(reply)  # a batch past its deadline, as write() makes it
        connection._batches.append([1, running.time()])
        connection._check()
        await backend.close()
        return fd, unread, reply.exception()

    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop if loop == "uvloop" else None)
    with runner:
        fd, unread, error = runner.run(scenario())
    assert fd == -1, "the seam this test is about: a closed socket"
    assert not unread
    assert isinstance(error, RedisTimeoutError)


async def test_a_command_after_close_is_refused_and_connects_to_nothing(redis_url: str) -> None:
    """close() is the end: a command after it (a request still running as the worker
    stops) fails saying so, and opens no connection. It connected again, a connection
    nobody would close."""
    backend = await opened(redis_url)
    await backend.touch("ns", "s", 1.0)
    await backend.close()
    counter = aioredis.Redis.from_url(redis_url)
    try:
        before = (await counter.info("stats"))["total_connections_received"]
        with pytest.raises(StoreUnavailable, match="the mock closed its connection to Redis"):
            await asyncio.wait_for(backend.touch("ns", "s", 2.0), TIMEOUT)
        after = (await counter.info("stats"))["total_connections_received"]
    finally:
        await counter.aclose()
    assert after == before, "no connection opened"


async def test_journal_items_kept_before_their_size_was_stored_are_read_and_dropped(
    redis_url: str,
) -> None:
    """Items written as "id JSON" (before the entry's size was kept with it, e.g. by a Redis
    that persisted them) still read, and count their length when the cap drops them."""
    backend = open_backend(redis_url, limits=Limits(journal_bytes=20_000))
    assert isinstance(backend, RedisBackend)
    await backend.open()
    other = aioredis.Redis.from_url(redis_url, decode_responses=True)
    prefix = "mock:ns:s:s:"
    old = "7 " + json.dumps(entry().stored(), separators=(",", ":"))
    try:
        await other.set("mock:seq", 7)
        await other.rpush(f"{prefix}journal", old)
        await other.incrby(f"{prefix}jbytes", len(old))
        [logged] = await backend.journal("ns", "s")
        assert logged.id == 7 and logged.body["request"]["path"] == "/v1/x"
        for _ in range(2 * 20_000 // entry().size):
            await backend.log("ns", "s", entry())
        ids = [logged.id for logged in await backend.journal("ns", "s")]
        assert 7 not in ids and len(ids) == 20_000 // entry().size
        assert await other.get(f"{prefix}jbytes") == str(len(ids) * entry().size)
    finally:
        await other.aclose()
        await backend.close()
