"""Sessions (``X-Mock-Session``): isolated worlds, created on first use, reset one at a time.

Issue #4: two test suites that send different session names never see each
other's changes, even when their requests interleave.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.state import Limits
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    ContractClient,
    FrozenClock,
    fixture_data,
    jwts,
    signature_requests,
)

pytestmark = pytest.mark.anyio

IN_FLIGHT = [
    r
    for r in signature_requests(project="proj_acme")
    if r["status"] in ("sent", "viewed") and "mock" not in r
]
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)
UNKNOWN = "00000000-0000-4000-8000-000000000000"
FIXTURE_STATE = {
    "craftkit": {"signature_requests": fixture_data("craftkit")["signature_requests"]},
    "firma": {"jwts": fixture_data("firma")["jwts"]},
}


def session(name: str) -> dict[str, str]:
    return {"X-Mock-Session": name}


async def world(mock: ContractClient, name: str | None = None) -> dict[str, Any]:
    """The records of a session, without its name, to compare with the fixtures."""
    state = await mock.state(name)
    assert state["session"] == (name or "default")
    return {"craftkit": state["craftkit"], "firma": state["firma"]}


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_changes_in_one_session_are_not_seen_in_another_or_the_default(
    mock: ContractClient,
) -> None:
    request_id, jwt_id = IN_FLIGHT[0]["id"], ACTIVE[0]["jwt_id"]
    assert (await mock.cancel(request_id, headers=session("a"))).status_code == 200
    assert (await mock.revoke({"jwt_id": jwt_id}, headers=session("a"))).status_code == 200
    created = await mock.http.post(
        "/__mock/craftkit/signature-requests", json={}, headers=session("a")
    )
    issued = await mock.http.post("/__mock/firma/jwts", json={}, headers=session("a"))
    assert (created.status_code, issued.status_code) == (201, 201)

    assert await world(mock, "a") != FIXTURE_STATE
    assert await world(mock, "b") == FIXTURE_STATE
    assert await world(mock) == FIXTURE_STATE
    assert (await mock.cancel(request_id, headers=session("b"))).status_code == 200
    assert (await mock.revoke({"jwt_id": jwt_id})).status_code == 200
    not_here = await mock.cancel(created.json()["id"], headers=session("b"))
    assert not_here.status_code == 404, "a record created in session a leaked into b"
    revoke_elsewhere = await mock.revoke({"jwt_id": issued.json()["jwt_id"]})
    assert revoke_elsewhere.status_code == 404, "a JWT issued in session a leaked into default"
    assert (await mock.cancel(request_id, headers=session("a"))).status_code == 409


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_reset_restores_only_the_callers_session(mock: ContractClient) -> None:
    fault = {"api": "craftkit", "operation": "cancelSignature", "status": 502}
    for name in ("a", "b"):
        assert (await mock.cancel(IN_FLIGHT[1]["id"], headers=session(name))).status_code == 200
        assert (await mock.revoke({"jwt_id": UNKNOWN}, headers=session(name))).status_code == 404
        added = await mock.http.post("/__mock/faults", json=fault, headers=session(name))
        assert added.status_code == 201

    reset = await mock.http.post("/__mock/reset", headers=session("a"))
    assert reset.status_code == 204

    assert await world(mock, "a") == FIXTURE_STATE
    assert (await mock.http.get("/__mock/faults", headers=session("a"))).json() == {"faults": []}
    assert (await mock.http.get("/__mock/requests", headers=session("a"))).json() == {
        "requests": []
    }
    revoke_a = await mock.revoke({"jwt_id": UNKNOWN}, headers=session("a"))
    assert revoke_a.headers["x-ratelimit-remaining"] == "119", "reset restores the rate window"

    assert await world(mock, "b") != FIXTURE_STATE
    assert len((await mock.http.get("/__mock/faults", headers=session("b"))).json()["faults"]) == 1
    journal_b = (await mock.http.get("/__mock/requests", headers=session("b"))).json()["requests"]
    assert len(journal_b) == 2
    revoke_b = await mock.revoke({"jwt_id": UNKNOWN}, headers=session("b"))
    assert revoke_b.headers["x-ratelimit-remaining"] == "118"
    assert (await mock.cancel(IN_FLIGHT[2]["id"], headers=session("b"))).status_code == 502
    assert await world(mock) == FIXTURE_STATE


async def test_a_new_session_starts_from_the_fixtures_not_from_the_default(
    mock: ContractClient,
) -> None:
    assert (await mock.cancel(IN_FLIGHT[0]["id"])).status_code == 200
    assert "fresh" not in (await mock.app.live.sessions.names())

    assert await world(mock, "fresh") == FIXTURE_STATE

    assert "fresh" in (await mock.app.live.sessions.names())
    first_use_by_vendor_call = await mock.cancel(IN_FLIGHT[0]["id"], headers=session("vendor"))
    assert first_use_by_vendor_call.status_code == 200
    assert "vendor" in (await mock.app.live.sessions.names())


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_no_header_and_a_blank_header_are_the_default_session(mock: ContractClient) -> None:
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=session("default"))).status_code == 200
    again = await mock.cancel(IN_FLIGHT[0]["id"])
    assert again.status_code == 409, "'default' and no header must name the same session"
    blank = await mock.cancel(IN_FLIGHT[0]["id"], headers=session(""))
    assert blank.status_code == 409


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_a_blank_header_means_the_same_on_control_and_vendor_paths(
    mock: ContractClient,
) -> None:
    """Found in review: /__mock checked the header against a pattern that refused ''."""
    vendor = await mock.cancel(IN_FLIGHT[0]["id"], headers=session(""))
    control = await mock.http.get("/__mock/state", headers=session(""))
    assert vendor.status_code == 200
    assert control.status_code == 200, control.text
    assert control.json()["session"] == "default"


# --- session names ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def names_app() -> MockApp:
    """One app for the name tables: they only read, or are refused."""
    return create_app(Settings())


@pytest.fixture
async def names_mock(
    names_app: MockApp,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
) -> AsyncIterator[ContractClient]:
    async with client_for(names_app) as client:
        yield client


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-char"),
        pytest.param("A.b_c:d-1", id="every-punctuation"),
        pytest.param("9" * 64, id="64-chars"),
    ],
)
async def test_well_formed_names_select_a_session(names_mock: ContractClient, name: str) -> None:
    response = await names_mock.http.get("/__mock/state", headers=session(name))
    assert response.status_code == 200, response.text
    assert response.json()["session"] == name
    cancel = await names_mock.cancel(UNKNOWN, headers=session(name))
    assert cancel.status_code == 404, "a well-formed name reaches the vendor API"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(b"two words", id="space"),
        pytest.param(b"-dash-first", id="dash-first"),
        pytest.param(b".dot-first", id="dot-first"),
        pytest.param(b"a" * 65, id="65-chars"),
        pytest.param(b"suite/a", id="slash"),
        pytest.param(b"suite@a", id="at-sign"),
        pytest.param("caf\u00e9".encode("latin-1"), id="non-ascii"),
    ],
)
async def test_malformed_names_are_refused_on_every_path(
    names_mock: ContractClient, name: bytes
) -> None:
    headers = {b"X-Mock-Session": name}
    known = set(await names_mock.app.live.sessions.names())

    control = await names_mock.http.get("/__mock/state", headers=headers)
    craftkit = await names_mock.cancel(IN_FLIGHT[0]["id"], headers=headers)
    firma = await names_mock.revoke({"jwt_id": ACTIVE[0]["jwt_id"]}, headers=headers)

    assert control.status_code == 400
    assert control.headers["content-type"] == "application/problem+json"
    assert "X-Mock-Session" in control.json()["detail"]
    assert craftkit.status_code == 400
    assert craftkit.json()["error"]["code"] == "invalid_request"
    assert "X-Mock-Session" in craftkit.json()["error"]["message"]
    assert firma.status_code == 400
    assert firma.json()["error"] == "Bad Request"
    assert "X-Mock-Session" in firma.json()["message"]
    assert set(await names_mock.app.live.sessions.names()) <= known, "a refused name made a session"
    assert await world(names_mock) == FIXTURE_STATE, "a refused request reached a session"


@pytest.mark.parametrize("names", [("a", "b"), ("a", "a"), ("a", "")], ids=["two", "same", "empty"])
async def test_two_session_headers_are_refused_on_every_path(
    names_mock: ContractClient, names: tuple[str, str]
) -> None:
    """Which of two X-Mock-Session headers a client meant is a guess (the first won,
    silently, into a session the client may not have meant)."""
    headers = [("X-Mock-Session", name) for name in names]
    known = set(await names_mock.app.live.sessions.names())

    control = await names_mock.http.get("/__mock/state", headers=headers)
    # Sent as they are (the client's helpers merge headers in a dict).
    craftkit = await names_mock.http.post(
        f"/v1/signatures/{IN_FLIGHT[0]['id']}/cancel",
        headers=[*headers, ("Authorization", f"Bearer {ACME_TEST_KEY}")],
    )
    firma = await names_mock.http.post(
        f"{FIRMA_BASES[0]}/jwt/revoke-signing-request",
        json={"jwt_id": ACTIVE[0]["jwt_id"]},
        headers=[*headers, ("Authorization", FIRMA_ACME_KEYS[0])],
    )

    assert control.status_code == 400, control.text
    assert control.json()["detail"] == "Send one X-Mock-Session header, not 2."
    assert craftkit.status_code == 400
    assert craftkit.json()["error"]["message"] == "Send one X-Mock-Session header, not 2."
    assert firma.status_code == 400
    assert firma.json()["message"] == "Send one X-Mock-Session header, not 2."
    assert set(await names_mock.app.live.sessions.names()) <= known, "a refused call made one"
    assert await world(names_mock) == FIXTURE_STATE, "a refused request reached a session"


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_past_the_cap_the_least_recently_used_session_is_forgotten(
    mock: ContractClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mock.app.backend, "limits", Limits(max_sessions=2))
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=session("one"))).status_code == 200
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=session("two"))).status_code == 200
    assert (await mock.http.get("/__mock/state", headers=session("one"))).status_code == 200

    third = await mock.cancel(IN_FLIGHT[0]["id"], headers=session("three"))

    assert third.status_code == 200, "a new session past the cap must still be served"
    assert sorted(await mock.app.live.sessions.names()) == ["one", "three"]
    again = await mock.cancel(IN_FLIGHT[0]["id"], headers=session("one"))
    assert again.status_code == 409, "the recently used session must keep its state"
    fresh = await mock.cancel(IN_FLIGHT[0]["id"], headers=session("two"))
    assert fresh.status_code == 200, "a forgotten session starts again from the fixtures"


# --- a session that starts again says so -----------------------------------------------
# An evicted or expired session silently restarting from the fixtures would leave a suite
# wondering where its records went: the first answer of every new session says so.

CREATED = "x-mock-session-created"


async def first_and_second(mock: ContractClient, method: str, path: str) -> list[httpx.Response]:
    name = session(f"said-{method}-{len(path)}")
    return [await mock.request(method, path, headers=name) for _ in range(2)]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", f"/v1/signatures/{UNKNOWN}/cancel", id="craftkit-401"),
        pytest.param("POST", "/api/v1/jwt/revoke-signing-request", id="firma-401"),
        pytest.param("POST", "/nowhere/at/all", id="unknown-path-404"),
        pytest.param("GET", f"/v1/signatures/{UNKNOWN}/cancel", id="undeclared-method-405"),
        pytest.param("GET", "/__mock/state", id="control-state"),
        pytest.param("GET", "/__mock/requests", id="control-journal"),
        pytest.param("POST", "/__mock/reset", id="control-reset"),
    ],
)
async def test_the_first_answer_of_a_new_session_says_it_was_created_on_every_route(
    mock: ContractClient, method: str, path: str
) -> None:
    first, second = await first_and_second(mock, method, path)
    assert first.headers.get(CREATED) == "true", first.headers
    assert CREATED not in second.headers, "only the request that created it says so"


async def test_the_journal_says_which_exchange_created_its_session(mock: ContractClient) -> None:
    name = session("journal-says")
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=name)).status_code == 200
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=name)).status_code == 409
    journal = (await mock.http.get("/__mock/requests", headers=name)).json()["requests"]
    assert [e["sessionCreated"] for e in journal] == [True, False]


@pytest.mark.own_app  # the app's session cap
async def test_an_evicted_session_s_next_request_says_it_started_again(
    mock: ContractClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(mock.app.backend, "limits", Limits(max_sessions=1))
    suite = session("suite")
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=suite)).status_code == 200
    assert (await mock.cancel(IN_FLIGHT[0]["id"], headers=session("other"))).status_code == 200
    with caplog.at_level("INFO", logger="mock_server.sessions"):
        again = await mock.cancel(IN_FLIGHT[0]["id"], headers=suite)
    assert again.status_code == 200, "evicted: it started from the fixtures again"
    assert again.headers[CREATED] == "true"
    assert "'suite' started from the fixtures" in caplog.text
    assert "evicted beyond --max-sessions" in caplog.text
    [entry] = (await mock.http.get("/__mock/requests", headers=suite)).json()["requests"]
    assert entry["sessionCreated"] is True


async def test_an_expired_session_s_next_request_says_so_and_why(
    mock: ContractClient, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    suite = session(f"idle-{uuid.uuid4().hex}")
    assert (await mock.http.get("/__mock/state", headers=suite)).status_code == 200
    clock.now += Limits().session_ttl + 1
    with caplog.at_level("INFO", logger="mock_server.sessions"):
        again = await mock.http.get("/__mock/state", headers=suite)
    assert again.headers[CREATED] == "true"
    assert "it was idle beyond --session-ttl" in caplog.text


# --- concurrency --------------------------------------------------------------------------

SUITES = ("suite-a", "suite-b", "suite-c")


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_interleaved_sessions_each_get_exactly_their_own_outcomes(
    mock: ContractClient,
) -> None:
    """Suite i sends i+2 cancels of every in-flight request and revokes of every active JWT."""
    calls: list[tuple[str, str, str]] = []
    for i, suite in enumerate(SUITES):
        for _ in range(i + 2):
            calls += [(suite, "cancel", r["id"]) for r in IN_FLIGHT]
            calls += [(suite, "revoke", j["jwt_id"]) for j in ACTIVE]
    random.Random(4).shuffle(calls)

    def send(suite: str, kind: str, target: str) -> Any:
        if kind == "cancel":
            return mock.cancel(target, headers=session(suite))
        return mock.revoke({"jwt_id": target}, headers=session(suite))

    responses: list[httpx.Response] = await asyncio.gather(*(send(*call) for call in calls))

    seen = Counter((*call, r.status_code) for call, r in zip(calls, responses, strict=True))
    expected: Counter[tuple[str, str, str, int]] = Counter()
    for i, suite in enumerate(SUITES):
        for r in IN_FLIGHT:
            expected[(suite, "cancel", r["id"], 200)] = 1
            expected[(suite, "cancel", r["id"], 409)] = i + 1
        for j in ACTIVE:
            expected[(suite, "revoke", j["jwt_id"], 200)] = 1
            expected[(suite, "revoke", j["jwt_id"], 400)] = i + 1
    assert seen == expected, "each session must see one success per record, whatever the others do"

    for i, suite in enumerate(SUITES):
        journal = await mock.http.get("/__mock/requests", headers=session(suite))
        entries = journal.json()["requests"]
        assert len(entries) == (i + 2) * (len(IN_FLIGHT) + len(ACTIVE))
        assert {e["session"] for e in entries} == {suite}
        records = await mock.signature_requests(suite)
        cancelled = {r["id"] for r in records if r["status"] == "cancelled"}
        assert cancelled >= {r["id"] for r in IN_FLIGHT}
    assert await world(mock) == FIXTURE_STATE


@pytest.mark.own_app  # the default session, or the app's session cap
async def test_firma_quota_counts_only_the_sessions_own_writes(mock: ContractClient) -> None:
    writes = {"suite-a": 5, "suite-b": 2, "default": 0}
    await asyncio.gather(
        *(
            mock.revoke({"jwt_id": UNKNOWN}, headers=session(name))
            for name, count in writes.items()
            for _ in range(count)
        )
    )
    for name, count in writes.items():
        response = await mock.revoke(
            {"jwt_id": UNKNOWN}, key=FIRMA_ACME_KEYS[0], headers=session(name)
        )
        assert response.headers["x-ratelimit-remaining"] == str(120 - count - 1), name
