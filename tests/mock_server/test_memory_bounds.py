"""Bounded memory whatever clients do (issue #11): sessions cost what they changed, the
journal is capped in bytes per session, and no header or body is kept whole; and created
records cost the garbage collector nothing (issue #12)."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

import pytest

from mock_server.app import MockApp
from mock_server.state import Limits, Sessions
from mock_server.state.base import clone
from mock_server.state.journal import Entry, exchange
from mock_server.state.memory import MemoryBackend
from tests.conftest import ACME_TEST_KEY, ContractClient, signature_requests

pytestmark = pytest.mark.anyio

TERMINAL = signature_requests(project="proj_acme", status="completed")[0]


async def test_a_thousand_idle_sessions_cost_almost_nothing(mock: ContractClient) -> None:
    app: MockApp = mock.app
    await app.start()
    sessions: Sessions = app.live.sessions
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(1000):
            await sessions.open(f"idle-{index}")
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        copy = clone(app.live.base)
        copy_cost = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert copy
    assert grown < 1000 * 1024, f"{grown} bytes for 1000 sessions: more than 1 KiB each"
    assert grown / 1000 < copy_cost / 20, (
        f"a session costs {grown / 1000:.0f} bytes, a copy of the world {copy_cost}"
    )


async def test_one_session_s_journal_stays_within_its_byte_cap() -> None:
    backend = MemoryBackend(Limits(journal_bytes=256 * 1024))

    body = b"x" * 60_000
    for index in range(100):
        entry = Entry(
            at=float(index),
            session="s",
            api="craftkit",
            operation="cancelSignature",
            simulated=None,
            method="POST",
            path=f"/p/{index}",
            query="",
            status=409,
            request=exchange([], body, len(body)),
            response=exchange([], b"{}", 2),
            duration_ms=1.0,
        )
        await backend.log("ns", "s", entry)
    logged = await backend.journal("ns", "s")
    kept = sum(len(e.body["request"]["body"]) for e in logged)
    assert kept <= 256 * 1024
    assert logged[-1].body["request"]["path"] == "/p/99", "the newest exchange is kept"
    assert len(logged) >= 3


async def test_a_huge_header_and_body_are_journalled_cut_and_marked(mock: ContractClient) -> None:
    huge = "v" * 200_000
    response = await mock.http.post(
        f"/v1/signatures/{TERMINAL['id']}/cancel",
        headers={"Authorization": f"Bearer {ACME_TEST_KEY}", "X-Padding": huge},
        content=b'{"reason": "' + b"r" * 200_000 + b'"}',
    )
    assert response.status_code in (400, 409)
    [entry] = (await mock.http.get("/__mock/requests")).json()["requests"]
    request = entry["request"]
    assert request["headersTruncated"] is True
    assert len(request["headers"].get("x-padding", "")) <= 16_384
    assert request["truncated"] is True
    assert len(request["body"]) <= 65_536
    assert "headersTruncated" not in entry["response"]


async def test_created_records_add_nothing_for_the_garbage_collector_to_walk(
    mock: ContractClient,
) -> None:
    """Issue #12: a full collection walks every object the collector tracks, and pauses every
    request meanwhile. The memory store keeps records as bytes: 10,000 created requests add
    none (kept as dicts, each with its list of recipients, they added 20,000)."""
    batch = "/__mock/craftkit/signature-requests/batch"
    assert (await mock.http.post(batch, json=[None])).status_code == 201, "control plane built"
    gc.collect()
    before = len(gc.get_objects())
    assert (await mock.http.post(batch, json=[None] * 10_000)).status_code == 201
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < 1_000, f"{grown} more objects for the collector to walk"
    records = await mock.signature_requests()
    assert len(records) > 10_000 and records[-1]["recipients"], "kept, and read back whole"


async def test_created_jwts_add_nothing_for_the_garbage_collector_to_walk(
    mock: ContractClient,
) -> None:
    """A Firma JWT, all scalars, is kept as a dict of its own (not marshalled): a dict the
    collector does not track, so 10,000 created add none either."""
    batch = "/__mock/firma/jwts/batch"
    jwts = [
        {"jwt_id": str(uuid.UUID(int=i, version=4)), "workspace": "ws_acme"}
        for i in range(1, 10_002)
    ]
    assert (await mock.http.post(batch, json=jwts[:1])).status_code == 201, "control plane built"
    gc.collect()
    before = len(gc.get_objects())
    assert (await mock.http.post(batch, json=jwts[1:])).status_code == 201
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < 1_000, f"{grown} more objects for the collector to walk"


@pytest.mark.anyio
async def test_sessions_gone_idle_together_give_their_memory_back_at_once() -> None:
    """The sweep for idle sessions runs at most once a second of the clock, and takes every
    idle one (least recently used first, up to the first still in use), not a few."""
    backend = MemoryBackend(Limits(session_ttl=10))
    for n in range(200):
        await backend.touch("ns", f"s{n}", 100.0)
    await backend.touch("ns", "default", 100.0)
    await backend.touch("ns", "busy", 115.0)
    await backend.touch("ns", "late", 116.0)  # a second after the last sweep: sweeps
    assert list(backend._sessions("ns")) == ["default", "busy", "late"]
