"""One behaviour suite, every back-end: ``backend`` is parametrised over the stores.

Each test gets a fresh namespace, so the back-ends' data never leak between tests.
A back-end is added here once, and every test in this package runs against it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mock_server.state import Backend, Limits, open_backend

BackendFactory = Callable[..., Backend]
"""``make(limits=...)``: another client of the same store (another worker, another host)."""

STORES = ["memory", "sqlite", "redis"]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    kind: str = request.param
    if kind == "memory":
        return "memory"
    if kind == "sqlite":  # a file of its own; four slashes: an absolute path
        return f"sqlite:///{tmp_path / 'mock.db'}"
    if kind == "redis":  # the real redis-server, emptied for this test (tests/_redis.py)
        url: str = request.getfixturevalue("redis_url")
        return url
    raise AssertionError(kind)


@pytest.fixture
async def make_backend(store_url: str) -> AsyncIterator[BackendFactory]:
    """Clients of one store; the memory store has only one (it is one process's own)."""
    made: list[Backend] = []
    shared: Backend | None = None

    def make(limits: Limits | None = None) -> Backend:
        nonlocal shared
        if store_url == "memory":
            if shared is None:
                shared = open_backend("memory", limits=limits)
                made.append(shared)
            return shared
        backend = open_backend(store_url, limits=limits)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


@pytest.fixture
async def backend(make_backend: BackendFactory) -> Backend:
    made = make_backend()
    await made.open()
    return made


@pytest.fixture
def ns() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
