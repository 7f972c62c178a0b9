"""The Redis the tests run against (tests/_redis.py): real, reachable through redis-py's
asyncio client, and able to be lost, hung and brought back as the store's tests need."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests._redis import (
    INSTALL,
    RedisServer,
    RedisServerError,
    RedisServerFactory,
    RedisServerMissing,
    find_redis_server,
)
from tests.conftest import ensured, make_rule

# A hang guard for awaits that must end (a failing connection, a socket timeout):
# far above what they take, so it never decides an outcome by speed.
BOUND = 15.0


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[Redis]:
    """A client that tries once and waits at most a second for its socket: an error,
    not redis-py's default retries with back-off."""
    client = Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        await client.aclose()


# --- where redis-server comes from (no server) -------------------------------------


def test_a_missing_redis_server_fails_with_one_line_saying_how_to_install_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(RedisServerMissing) as missing:
        find_redis_server(path=str(tmp_path), fallback=tmp_path / "redis-server")
    assert str(missing.value) == INSTALL
    assert "\n" not in INSTALL and "sudo apt-get install redis-server" in INSTALL


def test_make_test_and_test_fast_ensure_redis_server_first() -> None:
    for target in ("test", "test-fast"):
        assert "redis-server" in make_rule(target)[0], f"{target} does not ensure redis-server"
    assert "tools/ensure_redis_server" in make_rule("redis-server")[1]


# --- the server (real sockets) ------------------------------------------------------


@pytest.mark.e2e
def test_ensure_redis_server_prints_the_one_the_fixtures_start() -> None:
    assert ensured("redis_server").samefile(find_redis_server())


@pytest.mark.e2e
@pytest.mark.anyio
async def test_the_server_answers_redis_py_on_loopback_with_no_persistence(
    redis_server: RedisServer, redis_url: str
) -> None:
    assert redis_url == redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    async with connect(redis_url) as client:
        assert await client.ping() is True
        config = await client.config_get("*")
    assert config["bind"] == "127.0.0.1"
    assert config["port"] == str(redis_server.port)
    assert Path(str(config["dir"])).samefile(redis_server.directory)
    assert config["save"] == ""
    assert config["appendonly"] == "no"
    assert config["daemonize"] == "no"


@pytest.mark.e2e
@pytest.mark.anyio
async def test_redis_url_is_empty_in_every_database(
    redis_server: RedisServer, redis_url: str
) -> None:
    for db in (0, 5):
        async with connect(redis_server.url_for(db)) as client:
            await client.set("left-by-a-test", "1")
    redis_server.reset()
    for db in (0, 5):
        async with connect(redis_server.url_for(db)) as client:
            assert await client.dbsize() == 0


@pytest.mark.e2e
@pytest.mark.anyio
async def test_stop_loses_redis_and_start_brings_it_back_on_the_same_url(
    redis_server: RedisServer, redis_url: str
) -> None:
    before = redis_server.pid
    try:
        async with connect(redis_url) as client:
            await client.set("key", "value")
            redis_server.stop()
            assert not redis_server.running
            with anyio.fail_after(BOUND), pytest.raises(redis.exceptions.ConnectionError):
                await client.ping()
            redis_server.start()
            # The same client reconnects by itself: the same URL, a new process.
            assert redis_url == redis_server.url
            assert redis_server.pid != before
            with anyio.fail_after(BOUND):
                assert await client.ping() is True
                assert await client.get("key") is None  # no persistence by default
    finally:
        redis_server.reset()


@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_killed_redis_refuses_connections_until_started(
    redis_server: RedisServer, redis_url: str
) -> None:
    try:
        redis_server.kill()
        async with connect(redis_url) as client:
            with anyio.fail_after(BOUND), pytest.raises(redis.exceptions.ConnectionError):
                await client.ping()
        redis_server.start()
        async with connect(redis_url) as client:
            assert await client.ping() is True
    finally:
        redis_server.reset()


@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_paused_redis_times_out_and_answers_once_resumed(
    redis_server: RedisServer, redis_url: str
) -> None:
    try:
        async with connect(redis_url) as client:
            assert await client.ping() is True
            redis_server.pause()
            with anyio.fail_after(BOUND), pytest.raises(redis.exceptions.TimeoutError):
                await client.ping()
            redis_server.resume()
            with anyio.fail_after(BOUND):
                assert await client.ping() is True
    finally:
        redis_server.reset()


@pytest.mark.e2e
@pytest.mark.anyio
async def test_a_server_of_the_tests_own_takes_its_options(
    redis_server_factory: RedisServerFactory, redis_server: RedisServer
) -> None:
    durable = redis_server_factory("--appendonly", "yes", "--appendfsync", "always")
    assert durable.port != redis_server.port
    async with connect(durable.url) as client:
        await client.set("key", "kept")
    durable.kill()
    durable.start()
    async with connect(durable.url) as client:
        assert await client.get("key") == "kept"


@pytest.mark.e2e
def test_a_server_that_cannot_start_says_why_with_its_log(tmp_path: Path) -> None:
    server = RedisServer(find_redis_server(), tmp_path, ("--no-such-directive", "x"))
    with pytest.raises(RedisServerError, match="no-such-directive") as failed:
        server.start()
    assert "did not come up on 127.0.0.1" in str(failed.value)
    assert not server.running
