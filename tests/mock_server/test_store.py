"""Atomic transitions: concurrent cancels of one request yield exactly one 200."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest

from mock_server.store import Decision, MemoryStore, Record
from tests.conftest import ContractClient, jwts, signature_requests

VIEWED = signature_requests(project="proj_acme", status="viewed")[2]


@pytest.mark.anyio
async def test_fifty_concurrent_cancels_one_200_the_rest_409(mock: ContractClient) -> None:
    responses = await asyncio.gather(*(mock.cancel(VIEWED["id"]) for _ in range(50)))
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 49}


@pytest.mark.anyio
async def test_fifty_concurrent_revokes_one_200_the_rest_400(mock: ContractClient) -> None:
    jwt_id = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
    responses = await asyncio.gather(*(mock.revoke({"jwt_id": jwt_id}) for _ in range(50)))
    assert Counter(r.status_code for r in responses) == {200: 1, 400: 49}


def test_memory_store_transition_is_atomic_across_threads() -> None:
    store = MemoryStore({"counters": [("c", {"n": 0})]})

    def increment(record: Record | None) -> Decision[None]:
        assert record is not None
        return Decision(None, {"n": record["n"] + 1})

    def work() -> None:
        for _ in range(2_000):
            store.transition("counters", "c", increment)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("counters", "c") == {"n": 16_000}, (
        "a lost update means transitions interleaved"
    )


def test_store_hands_out_copies() -> None:
    store = MemoryStore({"t": [("k", {"list": [1]})]})
    copy = store.get("t", "k")
    assert copy is not None
    copy["list"].append(2)
    assert store.get("t", "k") == {"list": [1]}, "callers must not be able to mutate stored state"
