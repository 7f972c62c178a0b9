"""Each journal entry's ``reason``: why the mock answered so (docs/behaviour.md), on every store.

Each kind of reason of both APIs is provoked in one session, then the journal is read
back and each entry's reason compared whole, on memory, SQLite and Redis (each stores
the journal its own way).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import ConnectionDropped, MockApp
from tests.conftest import (
    FIRMA_ACME_KEYS,
    GLOBEX_KEY,
    AppFactory,
    ContractClient,
    jwts,
    signature_requests,
    store_url,
)

pytestmark = [pytest.mark.anyio, pytest.mark.own_app]  # an app per store

CANCEL = "cancelSignature"
REVOKE = "POST /jwt/revoke-signing-request"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _acme(status: str, **match: Any) -> str:
    found = [
        r["id"]
        for r in signature_requests(project="proj_acme", status=status, **match)
        if "mock" not in r or match
    ]
    return str(found[0])


SENT, VIEWED, COMPLETED = _acme("sent"), _acme("viewed"), _acme("completed")
LOCKED = next(
    r["id"]
    for r in signature_requests(project="proj_acme")
    if (r.get("mock") or {}).get("on_cancel") == "upstream_locked"
)
FAILING = next(
    r["id"]
    for r in signature_requests(project="proj_acme")
    if (r.get("mock") or {}).get("on_cancel") == "provider_error"
)
ACTIVE = [j["jwt_id"] for j in jwts(workspace="ws_acme", revoked_at=None)]
REVOKED = next(j for j in jwts(workspace="ws_acme") if j["revoked_at"] is not None)
GLOBEX_JWT = jwts(workspace="ws_globex")[0]["jwt_id"]


async def _craftkit(mock: ContractClient) -> list[tuple[int | None, dict[str, Any]]]:
    """Every kind of Craftkit reason; (status, reason) expected, in the order sent."""
    expected: list[tuple[int | None, dict[str, Any]]] = []

    async def sent(response: httpx.Response, reason: dict[str, Any]) -> None:
        expected.append((response.status_code, reason))

    await sent(
        await mock.cancel(SENT),
        {
            "rule": "200: status was sent; a sent or viewed request is cancelled",
            "cause": "state",
            "record": SENT,
            "state": "cancelled",
        },
    )
    await sent(
        await mock.cancel(COMPLETED),
        {
            "rule": "409: status is completed; only sent or viewed requests can be cancelled",
            "cause": "state",
            "record": COMPLETED,
            "state": "completed",
        },
    )
    await sent(
        await mock.cancel(LOCKED),
        {
            "rule": "409: the fixture's mock.on_cancel is upstream_locked: the service refuses",
            "cause": "simulation",
            "record": LOCKED,
            "state": signature_requests(id=LOCKED)[0]["status"],
        },
    )
    await sent(
        await mock.cancel(FAILING),
        {
            "rule": "502: the fixture's mock.on_cancel is provider_error: the service fails",
            "cause": "simulation",
            "record": FAILING,
            "state": signature_requests(id=FAILING)[0]["status"],
        },
    )
    await sent(
        await mock.cancel(SENT, key=None), {"rule": "401: Missing Bearer token.", "cause": "key"}
    )
    await sent(
        await mock.cancel(SENT, key="ck_test_nobody_0001"),
        {"rule": "401: Invalid API key.", "cause": "key"},
    )
    await sent(
        await mock.cancel(VIEWED, json={"reason": 7}),
        {"rule": "400: Request body did not match expected shape.", "cause": "body"},
    )
    await sent(
        await mock.cancel(UNKNOWN),
        {
            "rule": "404: no such signature request in this session",
            "cause": "unknown",
            "record": UNKNOWN,
        },
    )
    await sent(
        await mock.cancel(VIEWED, key=GLOBEX_KEY),
        {
            "rule": "404: the request is project proj_acme's, not the key's: unknown to it",
            "cause": "unknown",
            "record": VIEWED,
        },
    )
    await sent(
        await mock.cancel(VIEWED, headers={"Prefer": "code=409"}),
        {
            "rule": "409: 'code=409' forced a documented answer; state unchanged",
            "cause": "prefer",
            "prefer": "code=409",
        },
    )
    await sent(
        await mock.cancel(VIEWED, headers={"Prefer": "code=418"}),
        {"rule": "400: Prefer: " + (await _prefer_refusal(mock)), "cause": "prefer"},
    )
    fault = await _fault(mock, api="craftkit", operation=CANCEL, status=502, times=1)
    await sent(
        await mock.cancel(VIEWED),
        {
            "rule": f"502: fault {fault} on {CANCEL} forced a documented answer; state unchanged",
            "cause": "fault",
            "fault": fault,
            "delayMs": 0,
        },
    )
    fault = await _fault(mock, api="craftkit", operation=CANCEL, drop=True, times=1)
    with pytest.raises(ConnectionDropped):
        await mock.cancel(VIEWED)
    expected.append(
        (
            None,
            {
                "rule": f"no answer: fault {fault} on {CANCEL} dropped the connection",
                "cause": "fault",
                "fault": fault,
                "delayMs": 0,
            },
        )
    )
    undeclared = await mock.http.post("/v1/signature/x/cancel")
    await sent(
        undeclared,
        {"rule": "404: " + undeclared.json()["error"]["message"], "cause": "route"},
    )
    await sent(
        await mock.http.get(f"/v1/signatures/{VIEWED}/cancel"),
        {"rule": "405: the path's operations do not include this method", "cause": "route"},
    )
    return expected


async def _prefer_refusal(mock: ContractClient) -> str:
    """The message of the 418 Prefer's refusal, as the answer has it (after ``Prefer: ``)."""
    journal = (await mock.http.get("/__mock/requests")).json()["requests"]
    message: str = journal[-1]["response"]["json"]["error"]["message"]
    return message.removeprefix("Prefer: ")


async def _fault(mock: ContractClient, **fault: Any) -> int:
    response = await mock.http.post("/__mock/faults", json=fault)
    assert response.status_code == 201, response.text
    added: int = response.json()["id"]
    return added


async def _firma(mock: ContractClient) -> list[tuple[int | None, dict[str, Any]]]:
    expected: list[tuple[int | None, dict[str, Any]]] = []

    async def sent(response: httpx.Response, reason: dict[str, Any]) -> None:
        expected.append((response.status_code, reason))

    await sent(
        await mock.revoke({"jwt_id": ACTIVE[0]}),
        {
            "rule": "200: the JWT was active (revoked_at null); it is revoked now",
            "cause": "state",
            "record": ACTIVE[0],
            "state": "revoked",
        },
    )
    await sent(
        await mock.revoke({"jwt_id": REVOKED["jwt_id"]}),
        {
            "rule": f"400: the JWT was revoked at {REVOKED['revoked_at']}; "
            "only an active JWT can be revoked",
            "cause": "state",
            "record": REVOKED["jwt_id"],
            "state": "revoked",
        },
    )
    await sent(
        await mock.revoke({"jwt_id": ACTIVE[1]}, key=None),
        {"rule": "401: no API key in Authorization", "cause": "key"},
    )
    await sent(
        await mock.revoke({"jwt_id": ACTIVE[1]}, key="firma_nobody"),
        {"rule": "401: the API key is not one of the fixture's keys", "cause": "key"},
    )
    await sent(await mock.revoke({"jwt": 1}), {"rule": "400: Invalid JWT ID", "cause": "body"})
    await sent(
        await mock.revoke({"jwt_id": UNKNOWN}),
        {"rule": "404: no such JWT in this session", "cause": "unknown", "record": UNKNOWN},
    )
    await sent(
        await mock.revoke({"jwt_id": GLOBEX_JWT}),
        {
            "rule": "404: the JWT is workspace ws_globex's, not the key's: unknown to it",
            "cause": "unknown",
            "record": GLOBEX_JWT,
        },
    )
    await sent(
        await mock.revoke({"jwt_id": ACTIVE[1]}, headers={"Prefer": "code=404"}),
        {
            "rule": "404: 'code=404' forced a documented answer; state unchanged",
            "cause": "prefer",
            "prefer": "code=404",
        },
    )
    fault = await _fault(mock, api="firma", operation=REVOKE, status=429, times=1)
    await sent(
        await mock.revoke({"jwt_id": ACTIVE[1]}),
        {
            "rule": f"429: fault {fault} on {REVOKE} forced a documented answer; state unchanged",
            "cause": "fault",
            "fault": fault,
            "delayMs": 0,
        },
    )
    # The quota: the key's writes of this minute, spent by refused writes of the other key.
    key = FIRMA_ACME_KEYS[1]
    limit = 120
    for _ in range(limit):
        assert (await mock.revoke({"jwt": 1}, key=key)).status_code == 400
    refused = await mock.revoke({"jwt_id": ACTIVE[1]}, key=key)
    retry_after = int(refused.headers["Retry-After"])
    await sent(
        refused,
        {
            "rule": f"429: the key used its {limit} writes of this minute; "
            f"retry after {retry_after} s",
            "cause": "quota",
            "limit": limit,
            "retryAfter": retry_after,
        },
    )
    return expected


@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_each_entry_says_why_the_mock_answered_so(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_app: AppFactory,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
    store: str,
    api: str,
) -> None:
    app = make_app(store=store_url(store, request, tmp_path))
    try:
        async with client_for(app) as mock:
            expected = await (_craftkit if api == "craftkit" else _firma)(mock)
            response = await mock.http.get("/__mock/requests", params={"api": api})
            assert response.status_code == 200, response.text
            entries = response.json()["requests"]
            got = [(e["response"]["status"], e["reason"]) for e in entries]
            if api == "firma":  # the writes that spent the quota, left out
                got = got[:9] + got[9 + 120 :]
            assert got == expected
    finally:
        await app.stop()
