"""``GET /__mock/health``: 200 with the store's kind, 503 while the store is lost; open to
container probes (no token, any address, any ``Host``), and it creates no session."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_server import Settings, create_app
from mock_server.app import MockApp
from tests._redis import RedisServerFactory

pytestmark = pytest.mark.anyio

TOKEN = "health-check-token-0001"


async def get(app: MockApp, method: str = "GET", **kwargs: Any) -> httpx.Response:
    client = kwargs.pop("client", ("10.1.2.3", 4000))  # a pod address, not loopback
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:8000") as http:
        return await http.request(method, "/__mock/health", **kwargs)


async def test_health_is_200_with_the_store_and_creates_no_session() -> None:
    app = create_app(Settings())
    response = await get(app, client=("127.0.0.1", 4000))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "store": "memory", "sessions": 0}
    assert "x-mock-session-created" not in response.headers
    assert (await get(app, client=("127.0.0.1", 4000))).json()["sessions"] == 0
    head = await get(app, "HEAD", client=("127.0.0.1", 4000))
    assert (head.status_code, head.content) == (200, b"")


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(Settings(admin_token=TOKEN), id="token-set-none-sent"),
        pytest.param(Settings(), id="no-token-foreign-address-and-host"),
    ],
)
async def test_health_answers_probes_the_other_routes_refuse(settings: Settings) -> None:
    app = create_app(settings)
    assert (await get(app)).status_code == 200
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:8000") as http:
        assert (await http.get("/__mock/state")).status_code in (401, 403)


async def test_other_methods_keep_the_access_rules() -> None:
    app = create_app(Settings(admin_token=TOKEN))
    assert (await get(app, "POST")).status_code == 401


async def test_health_is_503_while_the_store_is_lost(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    app = create_app(Settings(store=server.url))
    ok = await get(app)
    assert ok.json() == {"status": "ok", "store": "redis", "sessions": 0}
    server.stop()
    lost = await get(app)
    assert lost.status_code == 503, lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.headers["retry-after"] == "2"
    assert "(redis) is unreachable" in lost.json()["detail"]
    assert server.url.split("//")[1] not in lost.text, "the store's address is not shown"
    server.start()
    try:
        assert (await get(app)).status_code == 200, "service resumes by itself"
    finally:
        await app.stop()
