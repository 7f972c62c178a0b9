"""Atomic transitions: concurrent cancels of one request yield exactly one 200."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

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
