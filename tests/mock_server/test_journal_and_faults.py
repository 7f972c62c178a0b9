"""The request journal (``/__mock/requests``) and faults (``/__mock/faults``), per session.

The tests share one app and each runs in an ``X-Mock-Session`` of its own,
which gives it a fresh world, journal and fault list (see test_sessions.py for
the isolation itself).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import httpx
import pytest

from mock_server.app import ConnectionDropped
from mock_server.clock import isoformat
from tests.conftest import (
    ACME_LIVE_KEY,
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    ContractClient,
    FrozenClock,
    jwts,
    signature_requests,
    spec_responses,
)

pytestmark = pytest.mark.anyio

REVOKE = "POST /jwt/revoke-signing-request"
CANCEL = "cancelSignature"
IN_FLIGHT = [
    r
    for r in signature_requests(project="proj_acme")
    if r["status"] in ("sent", "viewed") and "mock" not in r
]
SENT = IN_FLIGHT[0]
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def journal(mock: ContractClient, **filters: Any) -> list[dict[str, Any]]:
    response = await mock.http.get("/__mock/requests", params=filters)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["requests"]
    return entries


async def faults(mock: ContractClient) -> list[dict[str, Any]]:
    response = await mock.http.get("/__mock/faults")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["faults"]
    return listed


async def add_fault(mock: ContractClient, **fault: Any) -> dict[str, Any]:
    response = await mock.http.post("/__mock/faults", json=fault)
    assert response.status_code == 201, response.text
    added: dict[str, Any] = response.json()
    return added


def documented_body(api: str, status: int) -> Any:
    """The body the spec gives for ``status``: its example, else the first named one."""
    media = spec_responses(api)[status]
    if "example" in media:
        return media["example"]
    return next(iter(media["examples"].values()))["value"]


# --- the journal --------------------------------------------------------------------------


async def test_journal_records_each_vendor_exchange_oldest_first(
    mock: ContractClient, clock: FrozenClock
) -> None:
    sent = [
        await mock.cancel(SENT["id"], params={"trace": "1"}, json={"reason": "Superseded."}),
        await mock.cancel(SENT["id"]),
        await mock.revoke({"jwt_id": ACTIVE["jwt_id"]}, base=FIRMA_BASES[1]),
        await mock.revoke({"jwt_id": UNKNOWN}),
    ]

    entries = await journal(mock)

    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert [(e["api"], e["operation"], e["response"]["status"]) for e in entries] == [
        ("craftkit", CANCEL, 200),
        ("craftkit", CANCEL, 409),
        ("firma", REVOKE, 200),
        ("firma", REVOKE, 404),
    ]
    for entry, response in zip(entries, sent, strict=True):
        assert entry["session"] == mock.http.headers["X-Mock-Session"]
        assert entry["at"] == isoformat(clock.now)
        assert entry["simulated"] is None
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["path"] == response.request.url.path
        assert entry["response"]["json"] == response.json()
        assert entry["response"]["body"] == response.text
        assert entry["durationMs"] >= 0
    first = entries[0]["request"]
    assert first["query"] == "trace=1"
    assert first["json"] == {"reason": "Superseded."}
    assert entries[2]["request"]["json"] == {"jwt_id": ACTIVE["jwt_id"]}
    assert entries[2]["response"]["headers"]["x-ratelimit-remaining"] == "119"


async def make_history(mock: ContractClient) -> None:
    """Five exchanges: craftkit 200, craftkit 409, firma 200, firma 404, unmatched craftkit 404."""
    assert (await mock.cancel(SENT["id"])).status_code == 200
    assert (await mock.cancel(SENT["id"])).status_code == 409
    assert (await mock.revoke({"jwt_id": ACTIVE["jwt_id"]})).status_code == 200
    assert (await mock.revoke({"jwt_id": UNKNOWN})).status_code == 404
    assert (await mock.request("POST", "/v1/nothing")).status_code == 404


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param({}, [0, 1, 2, 3, 4], id="none"),
        pytest.param({"api": "craftkit"}, [0, 1, 4], id="api-craftkit"),
        pytest.param({"api": "firma"}, [2, 3], id="api-firma"),
        pytest.param({"operation": CANCEL}, [0, 1], id="operation-craftkit"),
        pytest.param({"operation": REVOKE}, [2, 3], id="operation-firma"),
        pytest.param({"operation": "revoke"}, [], id="operation-unknown"),
        pytest.param({"status": 404}, [3, 4], id="status"),
        pytest.param({"status": 201}, [], id="status-never-answered"),
        pytest.param({"api": "firma", "status": 200}, [2], id="api-and-status"),
        pytest.param({"api": "craftkit", "operation": REVOKE}, [], id="api-and-other-operation"),
    ],
)
async def test_journal_filters(
    mock: ContractClient, filters: dict[str, Any], expected: list[int]
) -> None:
    await make_history(mock)
    everything = await journal(mock)
    assert [e["id"] for e in await journal(mock, **filters)] == [
        everything[i]["id"] for i in expected
    ]


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        pytest.param(-1, [0, 1, 2], id="before-all"),
        pytest.param(0, [0, 1, 2], id="at-first"),
        pytest.param(60, [1, 2], id="at-second"),
        pytest.param(60.001, [2], id="just-after-second"),
        pytest.param(121, [], id="after-all"),
    ],
)
@pytest.mark.parametrize("offset", [0, 2], ids=["utc", "plus-two-hours"])
async def test_journal_since_keeps_exchanges_at_or_after_the_time(
    mock: ContractClient, clock: FrozenClock, since: float, offset: int, expected: list[int]
) -> None:
    start = clock.now
    for _ in range(3):
        assert (await mock.cancel(UNKNOWN)).status_code == 404
        clock.now += 60
    everything = await journal(mock)
    zone = timezone(timedelta(hours=offset))
    moment = datetime.fromtimestamp(start + since, tz=zone).isoformat(timespec="milliseconds")

    assert [e["id"] for e in await journal(mock, since=moment)] == [
        everything[i]["id"] for i in expected
    ]
    lower = moment.lower() if offset == 0 else moment  # RFC 3339 allows 't' and 'z'
    assert [e["id"] for e in await journal(mock, since=lower)] == [
        everything[i]["id"] for i in expected
    ]


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"api": "docusign"}, id="unknown-api"),
        pytest.param({"status": "ok"}, id="status-not-integer"),
        pytest.param({"status": 99}, id="status-below-100"),
        pytest.param({"since": "yesterday"}, id="since-not-date-time"),
        pytest.param({"since": "2026-11-22T10:00:00"}, id="since-without-offset"),
    ],
)
async def test_journal_refuses_bad_filters(mock: ContractClient, filters: dict[str, Any]) -> None:
    response = await mock.http.get("/__mock/requests", params=filters)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    [name] = filters
    detail = response.json()["detail"]
    assert name in detail and "Failed validating" not in detail, "name the field, no dump"


async def test_journal_is_per_session_and_delete_clears_only_the_callers(
    mock: ContractClient,
) -> None:
    other = {"X-Mock-Session": f"other-{uuid4().hex}"}
    assert (await mock.cancel(SENT["id"])).status_code == 200
    assert (await mock.cancel(UNKNOWN, headers=other)).status_code == 404

    mine = await journal(mock)
    theirs = (await mock.http.get("/__mock/requests", headers=other)).json()["requests"]
    assert [e["response"]["status"] for e in mine] == [200]
    assert [e["response"]["status"] for e in theirs] == [404]

    cleared = await mock.http.delete("/__mock/requests")
    assert cleared.status_code == 204
    assert await journal(mock) == []
    assert len((await mock.http.get("/__mock/requests", headers=other)).json()["requests"]) == 1
    assert (await mock.cancel(SENT["id"])).status_code == 409
    assert [e["response"]["status"] for e in await journal(mock)] == [409]
    assert (await mock.cancel(SENT["id"])).status_code == 409, "clearing the journal kept state"


@pytest.mark.parametrize(
    ("api", "headers", "shown"),
    [
        pytest.param(
            "craftkit",
            [("Authorization", f"Bearer {ACME_TEST_KEY}")],
            "Bearer [redacted]",
            id="craftkit-bearer",
        ),
        pytest.param(
            "craftkit",
            [("Authorization", f"bearer {ACME_LIVE_KEY}")],
            "bearer [redacted]",
            id="craftkit-lower-bearer",
        ),
        pytest.param(
            "craftkit", [("Authorization", ACME_TEST_KEY)], "[redacted]", id="craftkit-no-scheme"
        ),
        pytest.param(
            "craftkit",
            [("Authorization", f"Token {ACME_TEST_KEY}")],
            "[redacted]",
            id="craftkit-other-scheme",
        ),
        pytest.param(
            "craftkit",
            [
                ("Authorization", f"Bearer {ACME_TEST_KEY}"),
                ("Authorization", f"Bearer {ACME_LIVE_KEY}"),
            ],
            "Bearer [redacted], Bearer [redacted]",
            id="craftkit-twice",
        ),
        pytest.param(
            "firma", [("Authorization", FIRMA_ACME_KEYS[0])], "[redacted]", id="firma-raw"
        ),
        pytest.param(
            "firma",
            [("Authorization", f"Bearer {FIRMA_ACME_KEYS[1]}")],
            "Bearer [redacted]",
            id="firma-bearer",
        ),
        pytest.param(
            "unmatched",
            [("Authorization", f"Bearer {ACME_LIVE_KEY}")],
            "Bearer [redacted]",
            id="unmatched-path",
        ),
    ],
)
async def test_journal_never_shows_a_credential(
    mock: ContractClient, api: str, headers: list[tuple[str, str]], shown: str
) -> None:
    if api == "craftkit":
        await mock.request("POST", f"/v1/signatures/{SENT['id']}/cancel", headers=headers)
    elif api == "firma":
        await mock.request(
            "POST",
            f"{FIRMA_BASES[0]}/jwt/revoke-signing-request",
            headers=[*headers, ("Cookie", "session=s3cr3t")],
            json={"jwt_id": ACTIVE["jwt_id"]},
        )
    else:
        await mock.request("POST", "/v1/nothing", headers=headers)

    response = await mock.http.get("/__mock/requests")
    [entry] = response.json()["requests"]
    assert entry["request"]["headers"]["authorization"] == shown
    for secret in (ACME_TEST_KEY, ACME_LIVE_KEY, *FIRMA_ACME_KEYS, "s3cr3t"):
        assert secret not in response.text, f"{secret} leaked into the journal"


async def test_control_plane_and_docs_calls_are_not_journaled(mock: ContractClient) -> None:
    assert (await mock.http.get("/__mock/state")).status_code == 200
    assert (await mock.http.get("/__mock/faults")).status_code == 200
    assert (await mock.http.post("/__mock/firma/jwts", json={})).status_code == 201
    event = {"event": "viewed"}
    path = f"/__mock/craftkit/signature-requests/{SENT['id']}/events"
    assert (await mock.http.post(path, json=event)).status_code == 200
    assert (await mock.http.get("/__mock/nothing")).status_code == 404
    assert (await mock.http.get("/")).status_code == 200
    assert (await mock.http.get("/docs/")).status_code == 200
    assert await journal(mock) == []
    assert (await mock.cancel(UNKNOWN)).status_code == 404
    assert len(await journal(mock)) == 1, "the journal must still record vendor calls"


@pytest.mark.parametrize(
    ("method", "path", "api", "status"),
    [
        pytest.param("POST", "/v1/nothing", "craftkit", 404, id="craftkit-unknown-path"),
        pytest.param("POST", f"{FIRMA_BASES[1]}/nothing", "firma", 404, id="firma-unknown-path"),
        pytest.param(
            "GET", f"/v1/signatures/{SENT['id']}/cancel", "craftkit", 405, id="craftkit-405"
        ),
        pytest.param(
            "PUT", f"{FIRMA_BASES[0]}/jwt/revoke-signing-request", "firma", 405, id="firma-405"
        ),
    ],
)
async def test_unmatched_requests_are_journaled_without_an_operation(
    mock: ContractClient, method: str, path: str, api: str, status: int
) -> None:
    assert (await mock.request(method, path)).status_code == status
    [entry] = await journal(mock)
    assert (entry["api"], entry["operation"], entry["response"]["status"]) == (api, None, status)
    assert (entry["request"]["method"], entry["request"]["path"]) == (method, path)


CANCEL_PATH = f"/v1/signatures/{SENT['id']}/cancel"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param(CANCEL_PATH, {}, id="unauthenticated"),
        pytest.param(
            CANCEL_PATH,
            {"Authorization": f"Bearer {ACME_TEST_KEY}", "Prefer": "code=409"},
            id="prefer",
        ),
        pytest.param("/v1/nothing", {}, id="unknown-path"),
    ],
)
async def test_journal_shows_the_body_the_client_sent(
    mock: ContractClient, path: str, headers: dict[str, str]
) -> None:
    """Found in review: a body never read (401, Prefer, unknown path) was journaled as ''."""
    await mock.request("POST", path, headers=headers, json={"reason": "dup"})
    [entry] = await journal(mock)
    assert entry["request"].get("json") == {"reason": "dup"}, entry["request"]


# --- faults -------------------------------------------------------------------------------


async def call(mock: ContractClient, api: str, base: str = FIRMA_BASES[0]) -> httpx.Response:
    """A call that would succeed and change state if nothing forced its answer."""
    if api == "craftkit":
        return await mock.cancel(SENT["id"])
    return await mock.revoke({"jwt_id": ACTIVE["jwt_id"]}, base=base)


def operation(api: str) -> str:
    return CANCEL if api == "craftkit" else REVOKE


@pytest.mark.parametrize(
    ("api", "status"),
    [
        *[pytest.param("craftkit", s, id=f"craftkit-{s}") for s in (200, 400, 401, 404, 409, 502)],
        *[pytest.param("firma", s, id=f"firma-{s}") for s in (200, 400, 401, 404, 429)],
    ],
)
async def test_status_fault_answers_the_documented_example_and_changes_nothing(
    mock: ContractClient, api: str, status: int
) -> None:
    before = await mock.state()
    await add_fault(mock, api=api, operation=operation(api), status=status)

    response = await call(mock, api)

    assert response.status_code == status
    if status != 200:  # a forced 200 is coherent with the request: test_prefer.py
        expected = documented_body(api, status)
        if status == 429:  # its retry_after is the answer's Retry-After: test_prefer.py
            retry_after = int(response.headers["retry-after"])
            expected = {**expected, "details": {"retry_after": retry_after}}
        assert response.json() == expected
    assert await mock.state() == before, "a forced answer must not change any record"
    [entry] = await journal(mock)
    assert (entry["simulated"], entry["response"]["status"]) == ("fault", status)
    if api == "firma":  # a forced answer is no write; a 429 shows the window spent
        remaining = "0" if status == 429 else "120"
        assert response.headers["x-ratelimit-remaining"] == remaining


@pytest.mark.parametrize("times", [1, 3])
async def test_a_fault_with_times_expires_after_exactly_that_many_calls(
    mock: ContractClient, times: int
) -> None:
    added = await add_fault(mock, api="craftkit", operation=CANCEL, status=502, times=times)
    assert added["remaining"] == times
    for left in range(times, 0, -1):
        assert [f["remaining"] for f in await faults(mock)] == [left]
        assert (await mock.cancel(SENT["id"])).status_code == 502
    assert await faults(mock) == []
    assert (await mock.cancel(SENT["id"])).status_code == 200, "call times+1 is answered normally"


async def test_a_fault_without_times_lasts_until_deleted(mock: ContractClient) -> None:
    added = await add_fault(mock, api="firma", operation=REVOKE, status=429)
    assert added == {
        "id": added["id"],
        "api": "firma",
        "operation": REVOKE,
        "status": 429,
        "delay_ms": 0,
        "drop": False,
        "remaining": None,
    }
    for base in (*FIRMA_BASES, *FIRMA_BASES):
        assert (await call(mock, "firma", base)).status_code == 429
    assert await faults(mock) == [added]

    deleted = await mock.http.delete("/__mock/faults")

    assert deleted.status_code == 204
    assert await faults(mock) == []
    assert (await call(mock, "firma")).status_code == 200


async def test_faults_are_consulted_in_the_order_set(mock: ContractClient) -> None:
    first = await add_fault(mock, api="craftkit", operation=CANCEL, status=409, times=1)
    second = await add_fault(mock, api="craftkit", operation=CANCEL, status=502, times=1)
    assert await faults(mock) == [first, second]
    assert [(await mock.cancel(SENT["id"])).status_code for _ in range(3)] == [409, 502, 200]


async def test_a_fault_touches_only_its_operation(mock: ContractClient) -> None:
    await add_fault(mock, api="craftkit", operation=CANCEL, status=502)
    assert (await call(mock, "firma")).status_code == 200
    assert (await call(mock, "craftkit")).status_code == 502


async def test_a_fault_touches_only_its_session(mock: ContractClient) -> None:
    other = {"X-Mock-Session": f"other-{uuid4().hex}"}
    await add_fault(mock, api="craftkit", operation=CANCEL, status=502)
    assert (await mock.cancel(SENT["id"], headers=other)).status_code == 200
    assert (await mock.http.get("/__mock/faults", headers=other)).json() == {"faults": []}
    assert (await mock.cancel(SENT["id"])).status_code == 502


@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_a_delay_fault_delays_then_answers_normally(mock: ContractClient, api: str) -> None:
    await add_fault(mock, api=api, operation=operation(api), delay_ms=150, times=1)
    started = time.perf_counter()
    response = await call(mock, api)
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.15, f"answered after {elapsed:.3f}s, before the 150 ms delay"
    assert response.status_code == 200, "a delay alone must not change the answer"
    assert (await call(mock, api)).status_code in (400, 409), "the real call changed state"


async def test_a_delay_and_a_status_both_apply(mock: ContractClient) -> None:
    await add_fault(mock, api="craftkit", operation=CANCEL, status=409, delay_ms=100)
    started = time.perf_counter()
    response = await call(mock, "craftkit")
    assert time.perf_counter() - started >= 0.1
    assert response.status_code == 409


@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_a_drop_fault_closes_without_an_answer_and_changes_nothing(
    mock: ContractClient, api: str
) -> None:
    before = await mock.state()
    await add_fault(mock, api=api, operation=operation(api), drop=True, times=1)

    with pytest.raises(ConnectionDropped):
        await call(mock, api)

    assert await mock.state() == before
    [entry] = await journal(mock)
    assert (entry["simulated"], entry["response"]["status"]) == ("fault", None)
    assert (await call(mock, api)).status_code == 200, "the drop was to happen once"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            {"api": "craftkit", "operation": "cancel", "status": 502}, id="unknown-operation"
        ),
        pytest.param(
            {"api": "firma", "operation": CANCEL, "status": 400}, id="other-apis-operation"
        ),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 429}, id="undocumented-status"
        ),
        pytest.param({"api": "firma", "operation": REVOKE, "status": 500}, id="undocumented-500"),
        pytest.param({"api": "craftkit", "operation": CANCEL}, id="no-effect"),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "delay_ms": 0, "drop": False}, id="zero-effect"
        ),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 502, "drop": True},
            id="drop-and-status",
        ),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 502, "times": 0}, id="times-zero"
        ),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 502, "times": 1_000_000_001},
            id="times-over-a-billion",
        ),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 502, "times": 2**63},
            id="times-beyond-64-bits",
        ),
        pytest.param({"api": "craftkit", "operation": CANCEL, "delay_ms": -1}, id="delay-negative"),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "delay_ms": 60_001}, id="delay-over-a-minute"
        ),
        pytest.param({"api": "craftkit", "operation": CANCEL, "status": "502"}, id="status-string"),
        pytest.param({"api": "docusign", "operation": CANCEL, "status": 502}, id="unknown-api"),
        pytest.param({"operation": CANCEL, "status": 502}, id="api-missing"),
        pytest.param({"api": "craftkit", "status": 502}, id="operation-missing"),
        pytest.param(
            {"api": "craftkit", "operation": CANCEL, "status": 502, "once": True},
            id="unknown-field",
        ),
    ],
)
async def test_refused_fault_is_400_and_sets_nothing(
    mock: ContractClient, fault: dict[str, Any]
) -> None:
    response = await mock.http.post("/__mock/faults", json=fault)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]
    assert await faults(mock) == []
    assert (await call(mock, "craftkit")).status_code == 200
