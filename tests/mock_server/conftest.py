"""What the modules on who may use the control plane and its pages share: an app per
setting (one per module) and a client the app sees at a given address."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from uuid import uuid4

import httpx
import pytest

from mock_server import Settings, create_app
from mock_server.app import MockApp
from tests.conftest import ContractClient

TOKEN = "s3cret-admin-token"

Connect = Callable[..., AbstractAsyncContextManager[ContractClient]]


@pytest.fixture(scope="module")
def open_app() -> MockApp:
    """Default settings: local origins, control plane for loopback clients only."""
    return create_app(Settings())


@pytest.fixture(scope="module")
def token_app() -> MockApp:
    return create_app(Settings(admin_token=TOKEN))


@pytest.fixture(scope="module")
def custom_origins_app() -> MockApp:
    return create_app(Settings(cors_origins=("https://app.example",)))


@pytest.fixture
def connect(
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
) -> Connect:
    """``async with connect(app, host)``: a validating client that the app sees at ``host``."""

    @contextlib.asynccontextmanager
    async def at(app: MockApp, host: str = "127.0.0.1") -> AsyncIterator[ContractClient]:
        async with client_for(app) as local:
            transport = httpx.ASGITransport(app=app, client=(host, 50123))
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
                # A session of its own, so the shared apps' records stay as the fixtures say.
                http.headers["X-Mock-Session"] = f"cors-{uuid4().hex}"
                yield ContractClient(http, app, local.validators)

    return at
