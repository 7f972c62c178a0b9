"""The control plane's operations for a state dashboard (issue #14): the sessions, one
record in detail, a cancel and a revoke as the vendor APIs do them, one fault removed.

A cancel or revoke here is the vendor's own rule and transition, acting as the record's
own tenant: whatever it answers, the vendor API agrees afterwards, and a refusal names
the vendor's message and status. Where the store is touched, every store runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import MockApp
from mock_server.clock import isoformat
from tests.conftest import (
    FIRMA_GLOBEX_KEY,
    GLOBEX_KEY,
    AppFactory,
    ContractClient,
    FrozenClock,
    jwts,
    problem,
    signature_requests,
    store_url,
)

pytestmark = pytest.mark.anyio

STORES = ["memory", "sqlite", "redis"]
NOW = isoformat(FrozenClock().now)
UNKNOWN = "00000000-0000-4000-8000-000000000000"
ClientFor = Callable[[MockApp], AbstractAsyncContextManager[ContractClient]]


def _acme(status: str) -> dict[str, Any]:
    return next(
        r for r in signature_requests(project="proj_acme", status=status) if "mock" not in r
    )


def _simulating(on_cancel: str) -> dict[str, Any]:
    return next(
        r
        for r in signature_requests(project="proj_acme")
        if (r.get("mock") or {}).get("on_cancel") == on_cancel
    )


SENT, VIEWED, COMPLETED = _acme("sent"), _acme("viewed"), _acme("completed")
LOCKED, FAILING = _simulating("upstream_locked"), _simulating("provider_error")
GLOBEX_SENT = next(
    r for r in signature_requests(project="proj_globex", status="sent") if "mock" not in r
)
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]
REVOKED = next(j for j in jwts(workspace="ws_acme") if j["revoked_at"] is not None)
GLOBEX_JWT = jwts(workspace="ws_globex", revoked_at=None)[0]


StoreMock = Callable[[], AbstractAsyncContextManager[ContractClient]]


@pytest.fixture(params=STORES)
def store_mock(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_app: AppFactory,
    client_for: ClientFor,
) -> StoreMock:
    """``async with store_mock() as mock``: an app of its own on the parametrised store; each
    call another app on the same store (another worker)."""
    url = store_url(request.param, request, tmp_path)

    @asynccontextmanager
    async def made() -> AsyncIterator[ContractClient]:
        app = make_app(store=url)
        try:
            async with client_for(app) as client:
                yield client
        finally:
            await app.stop()

    return made


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("project", "mock")}


async def cancel(mock: ContractClient, id: str, **kwargs: Any) -> httpx.Response:
    return await mock.http.post(f"/__mock/craftkit/signature-requests/{id}/cancel", **kwargs)


async def revoke(mock: ContractClient, jwt_id: str, **kwargs: Any) -> httpx.Response:
    return await mock.http.post(f"/__mock/firma/jwts/{jwt_id}/revoke", **kwargs)


async def request_of(mock: ContractClient, id: str) -> dict[str, Any]:
    [record] = [r for r in await mock.signature_requests() if r["id"] == id]
    return record


async def jwt_of(mock: ContractClient, jwt_id: str) -> dict[str, Any]:
    [record] = [j for j in await mock.jwts() if j["jwt_id"] == jwt_id]
    return record


def refused_as_vendor(response: httpx.Response, vendor_status: int) -> str:
    """The ``detail`` of a 409 for an action the vendor refuses, its ``vendorStatus`` checked."""
    body = problem(response, 409)
    assert body["vendorStatus"] == vendor_status, body
    detail: str = body["detail"]
    return detail


async def other_session(mock: ContractClient) -> dict[str, str]:
    """Headers naming a session of its own, as fresh as the test's."""
    return {"X-Mock-Session": mock.http.headers["X-Mock-Session"] + "-vendor"}


# --- cancel ------------------------------------------------------------------------------


@pytest.mark.parametrize("record", [SENT, VIEWED, GLOBEX_SENT], ids=["sent", "viewed", "globex"])
async def test_cancel_answers_and_stores_what_the_vendor_cancel_does(
    mock: ContractClient, record: dict[str, Any]
) -> None:
    """By the request's own project, whichever it is: the vendor's body, the same record."""
    key = GLOBEX_KEY if record["project"] == "proj_globex" else None
    vendor = await mock.cancel(record["id"], headers=await other_session(mock), **_key(key))
    assert vendor.status_code == 200, vendor.text

    response = await cancel(mock, record["id"])

    assert response.status_code == 200, response.text
    assert response.json() == vendor.json() == public({**record, "status": "cancelled"})
    assert await request_of(mock, record["id"]) == {**record, "status": "cancelled"}
    again = await mock.cancel(record["id"], **_key(key))
    assert again.status_code == 409, "the vendor API agrees: cancelled already"
    journal = (await mock.http.get("/__mock/requests")).json()["requests"]
    assert [e["request"]["path"] for e in journal] == [f"/v1/signatures/{record['id']}/cancel"]


def _key(key: str | None) -> dict[str, Any]:
    return {"key": key} if key is not None else {}


@pytest.mark.parametrize(
    ("record", "vendor_status"),
    [
        pytest.param(COMPLETED, 409, id="completed"),
        pytest.param(LOCKED, 409, id="upstream_locked"),
        pytest.param(FAILING, 502, id="provider_error"),
    ],
)
async def test_a_refused_cancel_is_a_409_with_the_vendor_message_and_status(
    mock: ContractClient, record: dict[str, Any], vendor_status: int
) -> None:
    vendor = await mock.cancel(record["id"])
    assert vendor.status_code == vendor_status
    before = await mock.state()

    detail = refused_as_vendor(await cancel(mock, record["id"]), vendor_status)

    assert detail.startswith(vendor.json()["error"]["message"]), detail
    if vendor_status == 502:
        assert "provider_error" in detail and "502" in detail, detail
    assert await mock.state() == before


@pytest.mark.parametrize("id", [UNKNOWN, "not-a-uuid", SENT["id"].upper()])
async def test_cancel_of_an_id_the_session_lacks_is_a_404(mock: ContractClient, id: str) -> None:
    before = await mock.state()
    response = await cancel(mock, id)
    if id == SENT["id"].upper():  # a uuid in another case names the same request
        assert response.status_code == 200, response.text
        return
    assert "no signature request" in problem(response, 404)["detail"]
    assert await mock.state() == before


# --- revoke ------------------------------------------------------------------------------


@pytest.mark.parametrize("jwt", [ACTIVE, GLOBEX_JWT], ids=["acme", "globex"])
async def test_revoke_answers_and_stores_what_the_vendor_revoke_does(
    mock: ContractClient, jwt: dict[str, Any]
) -> None:
    key = FIRMA_GLOBEX_KEY if jwt["workspace"] == "ws_globex" else None
    vendor = await mock.revoke(
        {"jwt_id": jwt["jwt_id"]}, headers=await other_session(mock), **_key(key)
    )
    assert vendor.status_code == 200, vendor.text

    response = await revoke(mock, jwt["jwt_id"])

    assert response.status_code == 200, response.text
    assert response.json() == vendor.json()
    assert response.json()["revoked_at"] == NOW
    assert await jwt_of(mock, jwt["jwt_id"]) == {**jwt, "revoked_at": NOW}
    again = await mock.revoke({"jwt_id": jwt["jwt_id"]}, **_key(key))
    assert again.status_code == 400, "the vendor API agrees: revoked already"


@pytest.mark.parametrize("vendor", ["craftkit", "firma"])
async def test_the_vendor_operation_s_faults_neither_apply_here_nor_count_down(
    mock: ContractClient, vendor: str
) -> None:
    """Faults simulate the vendor's answers to its clients (control/openapi.yaml): the
    dashboard's cancel and revoke act on the state, and leave a fault's ``times`` whole."""
    operation = "cancelSignature" if vendor == "craftkit" else "POST /jwt/revoke-signing-request"
    fault = {"api": vendor, "operation": operation, "status": 401, "times": 1}
    assert (await mock.http.post("/__mock/faults", json=fault)).status_code == 201

    if vendor == "craftkit":
        here = await cancel(mock, SENT["id"])
        vendor_call = await mock.cancel(VIEWED["id"])
    else:
        here = await revoke(mock, ACTIVE["jwt_id"])
        vendor_call = await mock.revoke({"jwt_id": REVOKED["jwt_id"]})

    assert here.status_code == 200, here.text
    assert vendor_call.status_code == 401, "the fault was still there for the vendor call"
    assert (await mock.http.get("/__mock/faults")).json()["faults"] == []


async def test_a_revoke_here_counts_no_write_against_any_key(mock: ContractClient) -> None:
    first = await mock.revoke({"jwt_id": UNKNOWN})
    assert (await revoke(mock, ACTIVE["jwt_id"])).status_code == 200
    second = await mock.revoke({"jwt_id": UNKNOWN})
    left = [int(r.headers["X-RateLimit-Remaining"]) for r in (first, second)]
    assert left[0] - left[1] == 1, "only the vendor call between counted"


async def test_revoking_a_revoked_jwt_is_a_409_with_the_vendor_message_and_status(
    mock: ContractClient,
) -> None:
    vendor = await mock.revoke({"jwt_id": REVOKED["jwt_id"]})
    assert vendor.status_code == 400
    before = await mock.state()

    detail = refused_as_vendor(await revoke(mock, REVOKED["jwt_id"]), 400)

    assert detail == vendor.json()["message"] == "JWT has already been revoked"
    assert await mock.state() == before


@pytest.mark.parametrize("jwt_id", [UNKNOWN, "not-a-uuid"])
async def test_revoke_of_an_id_the_session_lacks_is_a_404(
    mock: ContractClient, jwt_id: str
) -> None:
    before = await mock.state()
    assert "no JWT" in problem(await revoke(mock, jwt_id), 404)["detail"]
    assert await mock.state() == before


# --- one record in detail ------------------------------------------------------------------


async def test_a_signature_request_in_detail_as_stored_and_as_the_vendor_returns_it(
    mock: ContractClient,
) -> None:
    for record in (SENT, FAILING):
        response = await mock.http.get(f"/__mock/craftkit/signature-requests/{record['id']}")
        assert response.status_code == 200, response.text
        assert response.json() == {"record": record, "vendor": public(record)}
    cancelled = await cancel(mock, SENT["id"])
    shown = await mock.http.get(f"/__mock/craftkit/signature-requests/{SENT['id']}")
    assert shown.json()["record"] == await request_of(mock, SENT["id"])
    assert shown.json()["vendor"] == cancelled.json(), "what the vendor's cancel answered"


async def test_a_jwt_in_detail_as_stored_and_without_the_fixture_s_workspace(
    mock: ContractClient,
) -> None:
    assert (await revoke(mock, ACTIVE["jwt_id"])).status_code == 200
    response = await mock.http.get(f"/__mock/firma/jwts/{ACTIVE['jwt_id']}")
    assert response.status_code == 200, response.text
    record = {**ACTIVE, "revoked_at": NOW}
    vendor = {k: v for k, v in record.items() if k != "workspace"}
    assert response.json() == {"record": record, "vendor": vendor}


@pytest.mark.parametrize(
    "path",
    [
        f"/__mock/craftkit/signature-requests/{UNKNOWN}",
        "/__mock/craftkit/signature-requests/nope",
        f"/__mock/firma/jwts/{UNKNOWN}",
        "/__mock/firma/jwts/nope",
    ],
)
async def test_a_record_the_session_lacks_is_a_404(mock: ContractClient, path: str) -> None:
    problem(await mock.http.get(path), 404)


# --- sessions, over every store ------------------------------------------------------------


@pytest.mark.own_app
async def test_sessions_lists_default_first_then_by_name_and_creates_none(
    store_mock: StoreMock,
) -> None:
    async with store_mock() as mock:

        async def listed(**headers: str) -> list[str]:
            response = await mock.http.get("/__mock/sessions", headers=headers)
            assert response.status_code == 200, response.text
            assert "X-Mock-Session-Created" not in response.headers
            return [item["name"] for item in response.json()["sessions"]]

        assert await listed() == ["default"], "listed before its first use"
        assert await listed(**{"X-Mock-Session": "zeta"}) == ["default"]
        assert await listed(**{"X-Mock-Session": "not a name!"}) == ["default"], "not read"
        assert await mock.app.live.sessions.names() == [], "listing created no session"
        for name in ("zeta", "alpha", "Beta", "default", "alpha"):
            await mock.state(name)
        assert await listed() == ["default", "Beta", "alpha", "zeta"]
        if mock.app.backend.url != "memory":  # another worker on the store lists them too
            async with store_mock() as other:
                response = await other.http.get("/__mock/sessions")
                names = [item["name"] for item in response.json()["sessions"]]
                assert names == ["default", "Beta", "alpha", "zeta"]


# --- faults and actions, over every store ---------------------------------------------------


@pytest.mark.own_app
async def test_remove_fault_removes_that_one_for_the_vendor_calls_too(
    store_mock: StoreMock,
) -> None:
    async with store_mock() as mock:
        add = {"api": "craftkit", "operation": "cancelSignature"}
        first = (await mock.http.post("/__mock/faults", json={**add, "status": 401})).json()
        second = (await mock.http.post("/__mock/faults", json={**add, "status": 404})).json()
        assert (await mock.cancel(SENT["id"])).status_code == 401, "the first fault answers"

        removed = await mock.http.delete(f"/__mock/faults/{first['id']}")

        assert removed.status_code == 204, removed.text
        assert removed.content == b""
        assert (await mock.http.get("/__mock/faults")).json()["faults"] == [second]
        assert (await mock.cancel(SENT["id"])).status_code == 404, "now the second"
        again = await mock.http.delete(f"/__mock/faults/{first['id']}")
        assert f"no fault '{first['id']}'" in problem(again, 404)["detail"]
        elsewhere = await mock.http.delete(
            f"/__mock/faults/{second['id']}", headers={"X-Mock-Session": "other"}
        )
        problem(elsewhere, 404)
        assert (await mock.http.get("/__mock/faults")).json()["faults"] == [second]


@pytest.mark.parametrize("id", ["abc", "0", "-1", "1.5", "01", "\u0661", "9" * 16, "1" * 30])
async def test_a_fault_id_that_is_no_id_is_a_404(mock: ContractClient, id: str) -> None:
    await mock.http.post(
        "/__mock/faults", json={"api": "craftkit", "operation": "cancelSignature", "status": 401}
    )
    before = (await mock.http.get("/__mock/faults")).json()
    assert "no fault" in problem(await mock.http.delete(f"/__mock/faults/{id}"), 404)["detail"]
    assert (await mock.http.get("/__mock/faults")).json() == before


@pytest.mark.own_app
async def test_cancel_and_revoke_race_the_vendor_calls_exactly_once(
    store_mock: StoreMock,
) -> None:
    """The same transition as the vendor's: of concurrent cancels, here and through the
    vendor API, exactly one is a 200; so of revokes."""
    async with store_mock() as mock:
        cancels = await asyncio.gather(
            *(cancel(mock, SENT["id"]) for _ in range(5)),
            *(mock.cancel(SENT["id"]) for _ in range(5)),
        )
        revokes = await asyncio.gather(
            *(revoke(mock, ACTIVE["jwt_id"]) for _ in range(5)),
            *(mock.revoke({"jwt_id": ACTIVE["jwt_id"]}) for _ in range(5)),
        )
        for answers, refused in ((cancels, {409}), (revokes, {409, 400})):
            statuses = [r.status_code for r in answers]
            assert statuses.count(200) == 1, statuses
            assert set(statuses) - {200} <= refused, statuses
        assert (await request_of(mock, SENT["id"]))["status"] == "cancelled"
        assert (await jwt_of(mock, ACTIVE["jwt_id"]))["revoked_at"] == NOW
        vendor_409 = await mock.cancel(COMPLETED["id"])
        detail = refused_as_vendor(await cancel(mock, COMPLETED["id"]), 409)
        assert detail == vendor_409.json()["error"]["message"]
