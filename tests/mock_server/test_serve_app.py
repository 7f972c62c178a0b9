"""``serve_app``: the app as ``mock-server`` serves it, for another ASGI server's factory.

``mock-server`` itself starts through it (the e2e tests); Granian imports it in the
benchmark's smoke test (tests/e2e/test_bench.py). Here: what it does besides
``create_app``, in-process.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from mock_server import MockApp, Settings, StartupError, serve_app
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
    ],
)
def test_a_store_that_cannot_serve_is_refused_as_the_cli_refuses_it(
    settings: Settings, refusal: str
) -> None:
    with pytest.raises(StartupError, match="^" + refusal.replace("(", r"\(")):
        serve_app(settings)


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
