"""The dashboard's control-plane edges (found by review, each seen failing before its fix):
the session list without forgotten sessions and without a false "store back", and a
declared path with a trailing slash answered 404, never redirected (a 307 keeps the
method: ``DELETE /__mock/faults/`` removed every fault)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.state.limits import Limits
from tests._redis import RedisServerFactory
from tests.conftest import FrozenClock, store_url

pytestmark = pytest.mark.anyio


def _http(app: MockApp, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000", **kwargs)


async def _names(http: httpx.AsyncClient) -> list[str]:
    response = await http.get("/__mock/sessions")
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["sessions"]]


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
async def test_sessions_forgotten_for_idleness_are_not_listed(
    store: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """control/openapi.yaml, GET /sessions: "Every session ... the store holds (created by a
    request, not yet forgotten: `--session-ttl`, `--max-sessions`)". A session idle past
    the TTL is forgotten (its next request says X-Mock-Session-Created), yet still listed."""
    clock = FrozenClock()
    app = create_app(
        Settings(store=store_url(store, request, tmp_path), limits=Limits(session_ttl=10.0)),
        clock=clock,
    )
    try:
        async with _http(app) as http:
            await http.get("/__mock/state", headers={"X-Mock-Session": "idle"})
            assert await _names(http) == ["default", "idle"]
            clock.now += 11.0  # idle beyond --session-ttl: forgotten

            listed = await _names(http)
            again = await http.get("/__mock/state", headers={"X-Mock-Session": "idle"})

            assert again.headers.get("x-mock-session-created") == "true", "it was forgotten"
            assert listed == ["default"], f"a forgotten session is listed: {listed}"
    finally:
        await app.stop()


async def test_listing_sessions_while_the_store_is_lost_never_logs_it_back(
    redis_server_factory: RedisServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """http/refusals.py, Availability: "said in the log once when it changes (not per
    request)". GET /__mock/sessions skips session.begin() but still calls
    availability.back(): each poll while Redis is down logs "is back" then "unreachable"."""
    server = redis_server_factory()
    app = create_app(Settings(store=server.url))
    try:
        async with _http(app) as http:
            assert (await http.get("/__mock/sessions")).status_code == 200
            server.stop()
            with caplog.at_level(logging.INFO, logger="mock_server"):
                for _ in range(3):
                    assert (await http.get("/__mock/sessions")).status_code == 503
            back = [r.getMessage() for r in caplog.records if "is back after" in r.getMessage()]
            lost = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
            assert back == [], f"the store was never back: {back}"
            assert len(lost) == 1, lost
    finally:
        server.start()
        await app.stop()


async def test_delete_one_fault_with_an_empty_id_does_not_redirect_to_delete_all() -> None:
    """docs/behaviour.md: `DELETE /__mock/faults/{id}` removes "that one; 404 if the session
    has no such fault", and every control-plane answer is one its document describes (no
    3xx is). `DELETE /__mock/faults/` (an id the page failed to fill) is a 307 to
    `/__mock/faults`; fetch() and `curl -L` follow a 307 with its method: every fault goes."""
    app = create_app(Settings())
    async with _http(app, follow_redirects=True) as http:
        fault = {"api": "craftkit", "operation": "cancelSignature", "status": 502}
        assert (await http.post("/__mock/faults", json=fault)).status_code == 201

        response = await http.delete("/__mock/faults/")

        faults = (await http.get("/__mock/faults")).json()["faults"]
        assert len(faults) == 1, f"every fault removed: {[r.status_code for r in response.history]}"
        assert response.status_code == 404, response.status_code


async def test_listing_sessions_with_a_trailing_slash_creates_no_session() -> None:
    """control/openapi.yaml, GET /sessions: "a call creates none". With a trailing slash the
    session layer does not know the path (SESSIONLESS is exact), so it begins the
    X-Mock-Session named, then Starlette redirects to /__mock/sessions."""
    app = create_app(Settings())
    async with _http(app) as http:
        response = await http.get("/__mock/sessions/", headers={"X-Mock-Session": "picker"})
        assert "x-mock-session-created" not in response.headers, response.headers
        assert await _names(http) == ["default"]
