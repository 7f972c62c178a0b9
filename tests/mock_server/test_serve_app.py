"""``serve_app``: the app as ``mock-server`` serves it, for another ASGI server's factory.

``mock-server`` itself starts through it (the e2e tests); Granian imports it in the
benchmark's smoke test (tests/e2e/test_bench.py). Here: what it does besides
``create_app``, in-process.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from mock_server import MockApp, Settings, StartupError, serve_app
from tests._redis import RedisServerFactory
from tests.conftest import ContractClient


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    """What ``serve_app`` freezes goes back to the collector, and its policy goes: the test
    process lives on."""
    callbacks = list(gc.callbacks)
    yield
    gc.callbacks[:] = callbacks
    gc.unfreeze()


def test_the_collector_s_policy_is_in_force_once_the_app_is_built() -> None:
    before = gc.get_freeze_count()
    serve_app(Settings())
    frozen = gc.get_freeze_count()
    assert frozen > before, "what start-up built is frozen"
    survivors = [[n] for n in range(1000)]
    gc.collect()
    assert gc.get_freeze_count() == frozen, (
        "nothing made while serving is frozen: what dies after a freeze in a cycle leaks"
    )
    assert survivors


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        pytest.param(
            Settings(workers=2), "--workers 2 needs a store the workers share", id="memory-2"
        ),
        pytest.param(
            Settings(workers=2, store="MEMORY"),
            "--workers 2 needs a store the workers share",
            id="memory-in-capitals-2",
        ),
        pytest.param(
            Settings(store="redis://127.0.0.1:1/0"),
            "--store 'redis://127.0.0.1:1/0': cannot reach it",
            id="store-unreachable",
        ),
        pytest.param(
            Settings(store="sqlite:////nonexistent-dir/x.db"),
            "--store 'sqlite:////nonexistent-dir/x.db': cannot open /nonexistent-dir/x.db: the "
            "directory /nonexistent-dir does not exist (create it, or give another path); give "
            "another --store (",
            id="sqlite-file-in-no-directory",  # not "cannot reach it; start it": a file
        ),
        pytest.param(
            Settings(store="memory://x"),
            "--store 'memory://x': the memory store is 'memory' alone; give one of memory, ",
            id="memory-with-more",
        ),
    ],
)
def test_a_store_that_cannot_serve_is_refused_as_the_cli_refuses_it(
    settings: Settings, refusal: str
) -> None:
    with pytest.raises(StartupError, match="^" + re.escape(refusal)):
        serve_app(settings)


PASSWORD = "s3cret-for-the-test"
SO_FIX = (
    "; give those it expects: redis://:PASSWORD@HOST:PORT/DB, redis://USER:PASSWORD@HOST:PORT/DB"
    " (an ACL user), or the password in $REDIS_PASSWORD (none if Redis has none)"
)


@pytest.mark.parametrize(
    ("url", "environ", "refusal"),
    [
        pytest.param(
            "redis://:wrong@127.0.0.1:{port}/0",
            {},
            "--store 'redis://:***@127.0.0.1:{port}/0': Redis refused the credentials (the "
            "password in the URL: invalid username-password pair or user is disabled)" + SO_FIX,
            id="wrong-password",
        ),
        pytest.param(
            "redis://127.0.0.1:{port}/0",
            {},
            "--store 'redis://127.0.0.1:{port}/0': Redis refused the credentials (no password: "
            "Authentication required)" + SO_FIX,
            id="no-password",
        ),
        pytest.param(
            "redis://127.0.0.1:{port}/0",
            {"REDIS_PASSWORD": "wrong"},
            "--store 'redis://127.0.0.1:{port}/0': Redis refused the credentials (the password "
            "in $REDIS_PASSWORD: invalid username-password pair or user is disabled)" + SO_FIX,
            id="wrong-password-in-the-environment",
        ),
        pytest.param(
            f"redis://carol:{PASSWORD}@127.0.0.1:{{port}}/0",
            {},
            "--store 'redis://carol:***@127.0.0.1:{port}/0': Redis refused the credentials (user "
            "'carol' with the password in the URL: invalid username-password pair or user is "
            "disabled)" + SO_FIX,
            id="unknown-user",
        ),
        pytest.param(
            "redis://bob:bob-s3cret@127.0.0.1:{port}/0",
            {},
            "--store 'redis://bob:***@127.0.0.1:{port}/0': Redis refused user 'bob' a command "
            "the mock needs (this user has no permissions to run the 'script|load' command); "
            "allow it the mock's commands and keys (e.g. ACL SETUSER bob +@all ~mock:*), or give "
            "another user in the URL",
            id="user-without-permission",
        ),
    ],
)
def test_credentials_redis_refuses_are_said_so_not_unreachable(
    redis_server_factory: RedisServerFactory, url: str, environ: dict[str, str], refusal: str
) -> None:
    """Not "cannot reach it; start it": Redis runs, and refuses who the URL says."""
    redis = redis_server_factory(
        "--requirepass", PASSWORD, "--user", "bob", "on", ">bob-s3cret", "~*", "+ping"
    )
    with pytest.raises(StartupError) as refused:
        serve_app(Settings(store=url.format(port=redis.port), environ=environ))
    message = str(refused.value)
    assert message == refusal.format(port=redis.port)
    assert "wrong" not in message and "s3cret" not in message, "no password shown"


@pytest.mark.anyio
async def test_a_server_may_call_it_from_its_running_event_loop(
    tmp_path: Path,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
) -> None:
    """As ``uvicorn --factory`` does: the store's probe runs on a loop of its own."""
    app = serve_app(Settings(store=f"sqlite:///{tmp_path / 'mock.db'}"))
    try:
        async with client_for(app) as mock:
            assert (await mock.http.post("/__mock/firma/jwts/batch", json=[{}])).status_code == 201
            assert len(await mock.jwts()) == len((await mock.state("other"))["firma"]["jwts"]) + 1
    finally:
        await app.stop()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("store", "kind"),
    [
        ("MEMORY", "memory"),
        ("Memory", "memory"),
        ("SQLITE:///{tmp}/mock.db", "sqlite"),
        ("SQLite:///{tmp}/mock.db", "sqlite"),
        ("REDIS://{redis}", "redis"),
        ("Redis://{redis}", "redis"),
    ],
)
async def test_a_store_scheme_is_read_in_any_case(
    store: str,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
) -> None:
    """URL schemes are case-insensitive (RFC 3986, 3.1): REDIS:// was refused as an
    unknown scheme while SQLITE:// was taken (and its health named the kind 'SQLITE')."""
    if "{redis}" in store:
        store = store.format(redis=request.getfixturevalue("redis_url").removeprefix("redis://"))
    app = serve_app(Settings(store=store.format(tmp=tmp_path)))
    try:
        async with client_for(app) as mock:
            health = await mock.http.get("/__mock/health")
            assert (health.status_code, health.json()["store"]) == (200, kind)
            assert (await mock.http.post("/__mock/firma/jwts/batch", json=[{}])).status_code == 201
    finally:
        await app.stop()
