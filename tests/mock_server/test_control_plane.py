"""The control plane (``/__mock``): every operation and every event, allowed and refused.

Whatever the control plane does to a record, the vendor API must agree with it
afterwards: a request walked to ``completed`` here answers Craftkit's cancel
with 409, a created one cancels with its project's key, an issued JWT revokes
with its workspace's key. A refused call changes nothing.

The tests share one app and each runs in an ``X-Mock-Session`` of its own (a
fresh copy of the fixtures): building an app per test would cost 0.4 s each.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.app import RETRY_AFTER, MockApp
from mock_server.clock import isoformat
from mock_server.contract import Contract
from mock_server.craftkit.world import status_contradictions
from mock_server.state import StoreUnavailable
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_GLOBEX_KEY,
    GLOBEX_KEY,
    NOT_UUID_STRINGS,
    SPECS,
    AppFactory,
    ContractClient,
    FrozenClock,
    fixture_data,
    jwts,
    not_uuid_strings,
    problem,
    signature_requests,
    store_url,
)

pytestmark = pytest.mark.anyio

SIGNATURE_REQUEST = Contract.load("craftkit", SPECS["craftkit"]).validator(
    "/components/schemas/SignatureRequest"
)
NOW = isoformat(FrozenClock().now)
"""What the ``clock`` fixture reads until a test moves it."""
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
BASE = "http://localhost"
ACME = [r for r in signature_requests(project="proj_acme") if "mock" not in r]

# Fixture records the event tables act on, picked by the property each row needs.
SENT_WITH_CC = next(
    r
    for r in ACME
    if r["status"] == "sent" and any(p["designation"] == "CC" for p in r["recipients"])
)
VIEWED_UNSIGNED = next(
    r for r in ACME if r["status"] == "viewed" and not any(p["signedAt"] for p in r["recipients"])
)
ONE_SIGNATURE_LEFT = next(
    r
    for r in ACME
    if r["status"] == "viewed" and [bool(p["signedAt"]) for p in r["recipients"]] == [True, False]
)
WITH_APPROVER = next(
    r for r in ACME if any(p["designation"] == "Approver" for p in r["recipients"])
)
TERMINAL = {r["status"]: r for r in reversed(ACME) if r["status"] not in ("sent", "viewed")}
ACTIVE_JWT = jwts(workspace="ws_acme", revoked_at=None)[0]


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("project", "mock")}


def recipient(record: dict[str, Any], designation: str, index: int = 0) -> str:
    return str([r for r in record["recipients"] if r["designation"] == designation][index]["id"])


async def stored(mock: ContractClient, record_id: str) -> dict[str, Any]:
    [record] = [r for r in await mock.signature_requests() if r["id"] == record_id]
    return record


async def event(mock: ContractClient, record_id: str, body: Any) -> httpx.Response:
    return await mock.http.post(
        f"/__mock/craftkit/signature-requests/{record_id}/events", json=body
    )


async def create(mock: ContractClient, body: Any) -> httpx.Response:
    return await mock.http.post("/__mock/craftkit/signature-requests", json=body)


async def assert_vendor_agrees(mock: ContractClient, record: dict[str, Any]) -> None:
    """Craftkit's cancel must answer as the record's status says: in flight 200, else 409."""
    response = await mock.cancel(record["id"], key=ACME_TEST_KEY)
    if record["status"] in ("sent", "viewed"):
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
    else:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "conflict"
        assert record["status"] in response.json()["error"]["message"]


# --- state and reset ---------------------------------------------------------------------


async def test_state_shows_the_fixture_records_of_the_session(mock: ContractClient) -> None:
    response = await mock.http.get("/__mock/state")
    assert response.status_code == 200
    assert response.json() == {
        "session": mock.http.headers["X-Mock-Session"],
        "craftkit": {"signature_requests": fixture_data("craftkit")["signature_requests"]},
        "firma": {"jwts": fixture_data("firma")["jwts"]},
    }


async def test_reset_puts_every_record_back_to_the_fixtures(mock: ContractClient) -> None:
    before = await mock.state()
    assert (await mock.cancel(VIEWED_UNSIGNED["id"])).status_code == 200
    assert (await mock.revoke({"jwt_id": ACTIVE_JWT["jwt_id"]})).status_code == 200
    assert (await event(mock, SENT_WITH_CC["id"], {"event": "expired"})).status_code == 200
    assert (await create(mock, {})).status_code == 201
    assert (await mock.http.post("/__mock/firma/jwts", json={})).status_code == 201
    assert await mock.state() != before

    response = await mock.http.post("/__mock/reset")

    assert response.status_code == 204
    assert response.content == b""
    assert await mock.state() == before
    assert (await mock.cancel(VIEWED_UNSIGNED["id"])).status_code == 200
    assert (await mock.revoke({"jwt_id": ACTIVE_JWT["jwt_id"]})).status_code == 200


# --- creating Craftkit signature requests ---------------------------------------------------


async def test_create_fills_in_what_the_body_leaves_out(mock: ContractClient) -> None:
    response = await create(mock, {})
    assert response.status_code == 201, response.text
    record = response.json()
    [signer] = record["recipients"]
    assert record["project"] == "proj_acme", "the first project of the fixture"
    assert (record["status"], record["expirationHours"], record["createdAt"]) == ("sent", 72, NOW)
    assert record["name"]
    for field in ("signedDownloadUrl", "certificateUrl", "errorMessage", "completedAt"):
        assert record[field] is None, field
    assert (signer["designation"], signer["order"], signer["signedAt"]) == ("Signer", 1, None)
    assert not list(SIGNATURE_REQUEST.iter_errors(public(record)))
    assert record["id"] not in {r["id"] for r in signature_requests()}, "a new id each time"
    assert await stored(mock, record["id"]) == record


NEW_ID = "5b0c8f3e-1d2a-4c6b-9e7f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("fields", "key", "cancel_status"),
    [
        pytest.param({}, ACME_TEST_KEY, 200, id="defaults-cancel-with-first-project-key"),
        pytest.param({"status": "viewed"}, ACME_TEST_KEY, 200, id="viewed-cancels"),
        pytest.param(
            {
                "id": NEW_ID,
                "name": "Mutual NDA",
                "recipients": [
                    {"email": "ada@example.com", "designation": "Signer"},
                    {"email": "alan@example.com", "designation": "Approver"},
                ],
            },
            ACME_TEST_KEY,
            200,
            id="given-id-and-short-recipients",
        ),
        pytest.param({"project": "proj_globex"}, GLOBEX_KEY, 200, id="other-project-own-key"),
        pytest.param({"project": "proj_globex"}, ACME_TEST_KEY, 404, id="other-project-acme-key"),
        pytest.param({"status": "completed"}, ACME_TEST_KEY, 409, id="terminal-completed"),
        pytest.param({"status": "failed"}, ACME_TEST_KEY, 409, id="terminal-failed"),
        pytest.param(
            {"mock": {"on_cancel": "upstream_locked"}}, ACME_TEST_KEY, 409, id="upstream-locked"
        ),
        pytest.param(
            {"mock": {"on_cancel": "provider_error"}}, ACME_TEST_KEY, 502, id="provider-error"
        ),
    ],
)
async def test_created_request_answers_the_vendor_cancel_as_its_fields_say(
    mock: ContractClient, fields: dict[str, Any], key: str, cancel_status: int
) -> None:
    response = await create(mock, fields)
    assert response.status_code == 201, response.text
    record = response.json()
    for name, value in fields.items():
        if name != "recipients":
            assert record[name] == value, name
    assert await stored(mock, record["id"]) == record

    cancelled = await mock.cancel(record["id"], key=key)

    assert cancelled.status_code == cancel_status, cancelled.text
    if cancel_status == 200:
        assert cancelled.json() == {**public(record), "status": "cancelled"}
        assert (await stored(mock, record["id"]))["status"] == "cancelled"
    else:
        assert await stored(mock, record["id"]) == record, "a refused cancel changed the record"


async def test_short_recipients_are_completed_from_their_email(mock: ContractClient) -> None:
    body = {
        "id": NEW_ID,
        "recipients": [{"email": "ada.lovelace@example.com"}, {"email": "b@x.io"}],
    }
    response = await create(mock, body)
    assert response.status_code == 201, response.text
    first, second = response.json()["recipients"]
    assert first["firstName"] == "Ada Lovelace" and first["email"] == "ada.lovelace@example.com"
    assert [first["order"], second["order"]] == [1, 2]
    assert first["id"] != second["id"]
    assert not list(SIGNATURE_REQUEST.iter_errors(public(response.json())))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"id": "not-a-uuid"}, 400, id="id-not-uuid"),
        pytest.param({"status": "canceled"}, 400, id="status-not-in-enum"),
        pytest.param({"name": 5}, 400, id="name-number"),
        pytest.param({"expirationHours": "72"}, 400, id="expirationHours-string"),
        pytest.param({"createdAt": "yesterday"}, 400, id="createdAt-not-date-time"),
        pytest.param({"recipients": "ada@example.com"}, 400, id="recipients-string"),
        pytest.param({"recipients": [{"designation": "Boss"}]}, 400, id="designation-unknown"),
        pytest.param({"recipients": [{"email": "not an email"}]}, 400, id="email-invalid"),
        pytest.param({"recipients": [{"colour": "red"}]}, 400, id="recipient-unknown-field"),
        pytest.param({"colour": "red"}, 400, id="unknown-field"),
        pytest.param({"project": "proj_nope"}, 400, id="unknown-project"),
        pytest.param({"project": 5}, 400, id="project-number"),
        pytest.param([{"name": "NDA"}], 400, id="array-body"),
        pytest.param({"id": SENT_WITH_CC["id"]}, 409, id="duplicate-fixture-id"),
        pytest.param({"id": SENT_WITH_CC["id"].upper()}, 409, id="duplicate-id-other-case"),
    ],
)
async def test_create_refusals_change_nothing(mock: ContractClient, body: Any, status: int) -> None:
    before = await mock.state()
    problem(await create(mock, body), status)
    assert await mock.state() == before


@pytest.mark.parametrize(
    ("body", "place"),
    [
        pytest.param({"status": "sent", "completedAt": NOW}, "completedAt", id="sent-completedAt"),
        pytest.param(
            {"signedDownloadUrl": "https://x.example/a.pdf"}, "signedDownloadUrl", id="sent-url"
        ),
        pytest.param({"status": "failed", "errorMessage": None}, "errorMessage", id="failed-null"),
        pytest.param(
            {"status": "completed", "recipients": [{"designation": "CC"}]},
            "recipients: cannot generate a completed request",
            id="completed-only-a-cc",
        ),
        pytest.param(
            {"recipients": [{"signedAt": NOW}]}, "recipients[0].signedAt", id="sent-signature"
        ),
        pytest.param(
            {"status": "viewed", "recipients": [{"signedAt": NOW}]},
            "recipients: every Signer and Approver has signed",
            id="viewed-all-signed",
        ),
        pytest.param(
            {
                "status": "declined",
                "recipients": [{"signedAt": NOW, "declinedAt": NOW}, {"declinedAt": NOW}],
            },
            "recipients[0].declinedAt",
            id="declined-signed-and-declined",
        ),
        pytest.param(
            {"recipients": [{"designation": "CC", "signedAt": NOW}]},
            "recipients[0].signedAt: a CC",
            id="cc-signed",
        ),
    ],
)
@pytest.mark.parametrize("route", ["one", "batch"])
async def test_create_refuses_what_the_status_contradicts_as_fixtures_do(
    mock: ContractClient, body: dict[str, Any], place: str, route: str
) -> None:
    """A record no request in its status can be (docs/fixtures.md, "What a status
    implies") is a 400 naming the field, as a fixture file's is, and creates nothing."""
    before = await mock.state()
    if route == "one":
        refused = problem(await create(mock, body), 400)
        prefix = "body: "
    else:
        refused = problem(await mock.http.post(CRAFTKIT_BATCH, json=[{}, body]), 400)
        prefix = "body[1]: "
    assert refused["detail"].startswith(prefix + place), refused["detail"]
    assert await mock.state() == before


@pytest.mark.parametrize("status", ["sent", "viewed", "completed", "declined", "expired",
                                    "failed", "cancelled"])  # fmt: skip
async def test_create_makes_what_a_status_implies_at_its_creation(
    mock: ContractClient, status: str
) -> None:
    """A request given only its status is made as the domain rules reach it, every event at
    its ``createdAt`` (now): a completed one has every signature, ``completedAt`` and URLs
    on this mock, whose vendor routes serve them."""
    response = await create(mock, {"status": status})
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["status"] == status and record["createdAt"] == NOW
    assert not status_contradictions(record), status_contradictions(record)
    assert not list(SIGNATURE_REQUEST.iter_errors(public(record)))
    times = [record["completedAt"], *(r["signedAt"] for r in record["recipients"])]
    times += [r["declinedAt"] for r in record["recipients"]]
    assert {t for t in times if t is not None} <= {NOW}, times
    if status == "completed":
        url = f"{BASE}/v1/signatures/{record['id']}"
        assert record["signedDownloadUrl"] == f"{url}/download"
        document = await mock.http.get(
            f"{url}/download", headers={"Authorization": f"Bearer {ACME_TEST_KEY}"}
        )
        assert document.status_code == 200, document.text
    assert await stored(mock, record["id"]) == record


async def test_invalid_json_create_is_400(mock: ContractClient) -> None:
    before = await mock.state()
    response = await mock.http.post(
        "/__mock/craftkit/signature-requests",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    problem(response, 400)
    assert await mock.state() == before


async def test_creating_an_id_twice_is_409_and_keeps_the_first(mock: ContractClient) -> None:
    first = await create(mock, {"id": NEW_ID, "name": "First"})
    assert first.status_code == 201
    problem(await create(mock, {"id": NEW_ID, "name": "Second"}), 409)
    assert (await stored(mock, NEW_ID))["name"] == "First"


async def test_an_id_given_in_upper_case_is_stored_and_echoed_in_lower_case(
    mock: ContractClient,
) -> None:
    """Found in review: the id was stored as given, so the vendor cancel echoed it in upper
    case (docs/behaviour.md: the mock echoes the id in lower case, as Firma's jwt_id)."""
    response = await create(mock, {"id": NEW_ID.upper()})
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["id"] == NEW_ID
    assert all(r["id"].startswith(f"rcp_{NEW_ID[:8]}_") for r in record["recipients"])
    assert await stored(mock, NEW_ID) == record
    shown = await mock.http.get(f"/__mock/craftkit/signature-requests/{NEW_ID.upper()}")
    assert shown.status_code == 200 and shown.json()["record"] == record
    cancelled = await mock.cancel(NEW_ID.upper())
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["id"] == NEW_ID


CREATES = [
    pytest.param("/__mock/craftkit/signature-requests", "id", False, id="craftkit"),
    pytest.param("/__mock/craftkit/signature-requests/batch", "id", True, id="craftkit-batch"),
    pytest.param("/__mock/firma/jwts", "jwt_id", False, id="firma"),
    pytest.param("/__mock/firma/jwts/batch", "jwt_id", True, id="firma-batch"),
]


@pytest.mark.parametrize(("route", "field", "batch"), CREATES)
@pytest.mark.parametrize("spelling", not_uuid_strings(NEW_ID))
async def test_an_id_that_is_not_a_uuid_string_is_400_and_creates_nothing(
    mock: ContractClient, route: str, field: str, batch: bool, spelling: str
) -> None:
    """Found in review: Craftkit's creates took every id Python's uuid.UUID reads (a
    trailing brace, another script's digits...), stored the record where no lookup finds
    it, under the key 'None', so the next such id was a false 409. Firma's refused them."""
    before = await mock.state()
    body = [{}, {field: spelling}] if batch else {field: spelling}
    refused = problem(await mock.http.post(route, json=body), 400)
    assert f"{'body[1]' if batch else 'body'}" in refused["detail"], refused["detail"]
    assert field in refused["detail"] and repr(spelling) in refused["detail"], refused["detail"]
    assert await mock.state() == before


def is_uuid_string(value: str) -> bool:
    """The docs' uuid string, decided apart from ``mock_server.ids``: what ``uuid.UUID``
    reads and writes back the same, but for case."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


spellings = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.tuples(st.uuids(), st.sampled_from(NOT_UUID_STRINGS)).map(lambda p: p[1][1](str(p[0]))),
    st.tuples(st.uuids(), st.integers(0, 35), st.characters(codec="utf-8")).map(
        lambda p: str(p[0])[: p[1]] + p[2] + str(p[0])[p[1] + 1 :]  # one character changed
    ),
    st.text(max_size=40),
)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spelling=spellings)
async def test_a_created_record_is_found_under_its_id_and_a_refused_one_nowhere(
    mock: ContractClient, spelling: str
) -> None:
    """Whatever id a create is given: a uuid string is a 201 and names the record (in
    lower case) on every route that looks one up, vendor's and control plane's; anything
    else is a 400, and the same id is no uuid to the vendor routes either."""
    mock.http.headers["X-Mock-Session"] = f"ids-{uuid.uuid4().hex}"
    in_path = quote(spelling, safe="")
    request = await create(mock, {"id": spelling})
    jwt = await mock.http.post("/__mock/firma/jwts", json={"jwt_id": spelling})
    cancelled = await mock.cancel(in_path)
    revoked = await mock.revoke({"jwt_id": spelling})
    if is_uuid_string(spelling):
        assert request.status_code == jwt.status_code == 201, (request.text, jwt.text)
        assert request.json()["id"] == jwt.json()["jwt_id"] == spelling.lower()
        for path in (f"craftkit/signature-requests/{in_path}", f"firma/jwts/{in_path}"):
            assert (await mock.http.get(f"/__mock/{path}")).status_code == 200, path
        assert cancelled.status_code == revoked.status_code == 200, (cancelled, revoked)
        assert cancelled.json()["id"] == revoked.json()["jwt_id"] == spelling.lower()
    else:
        problem(request, 400)
        problem(jwt, 400)
        assert cancelled.status_code == 404, cancelled.text
        assert revoked.status_code == 400 and revoked.json()["message"] == "Invalid JWT ID"
        state = await mock.state()
        assert (
            state["craftkit"]["signature_requests"]
            == fixture_data("craftkit")["signature_requests"]
        )
        assert state["firma"]["jwts"] == fixture_data("firma")["jwts"]


@pytest.mark.parametrize(
    "block",
    [
        pytest.param("provider_error", id="string"),
        pytest.param(["provider_error"], id="list"),
        pytest.param({"on_cancel": "timeout"}, id="unknown-behaviour"),
        pytest.param({"on_cancle": "provider_error"}, id="misspelt-key"),
    ],
)
async def test_create_refuses_a_mock_block_fixtures_refuse(
    mock: ContractClient, block: object
) -> None:
    """Found in review: a `mock` block went unchecked; a non-object made the vendor cancel 500."""
    before = await mock.state()
    problem(await create(mock, {"mock": block}), 400)
    assert await mock.state() == before


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/__mock/craftkit/signature-requests", id="signature-request"),
        pytest.param("/__mock/firma/jwts", id="jwt"),
    ],
)
async def test_create_without_a_body_takes_every_default(mock: ContractClient, path: str) -> None:
    """Found in review: Connexion refused the absent (optional, non-nullable) body."""
    before = await mock.state()
    response = await mock.http.post(path)
    assert response.status_code == 201, response.text
    after = await mock.state()
    added = [
        r
        for r in after["craftkit"]["signature_requests"] + after["firma"]["jwts"]
        if r not in before["craftkit"]["signature_requests"] + before["firma"]["jwts"]
    ]
    assert added == [response.json()]


# --- events --------------------------------------------------------------------------------


def completion(record: dict[str, Any]) -> dict[str, Any]:
    url = f"{BASE}/v1/signatures/{record['id']}"
    return {
        "completedAt": NOW,
        "signedDownloadUrl": f"{url}/download",
        "certificateUrl": f"{url}/certificate",
    }


EVENTS = [
    # record, event body, status after, (recipient, field set to now) or None, other fields
    pytest.param(SENT_WITH_CC, {"event": "viewed"}, "viewed", None, {}, id="viewed"),
    pytest.param(
        SENT_WITH_CC,
        {"event": "viewed", "recipientId": recipient(SENT_WITH_CC, "CC")},
        "viewed",
        None,
        {},
        id="viewed-by-cc",
    ),
    pytest.param(
        VIEWED_UNSIGNED, {"event": "viewed"}, "viewed", None, {}, id="viewed-again-stays-viewed"
    ),
    pytest.param(
        SENT_WITH_CC,
        {"event": "signed"},
        "viewed",
        (recipient(SENT_WITH_CC, "Signer", 0), "signedAt"),
        {},
        id="signed-next-in-order",
    ),
    pytest.param(
        SENT_WITH_CC,
        {"event": "signed", "recipientId": recipient(SENT_WITH_CC, "Signer", 1)},
        "viewed",
        (recipient(SENT_WITH_CC, "Signer", 1), "signedAt"),
        {},
        id="signed-named-recipient",
    ),
    pytest.param(
        WITH_APPROVER,
        {"event": "signed"},
        "viewed",
        (recipient(WITH_APPROVER, "Approver"), "signedAt"),
        {},
        id="signed-approver-is-next",
    ),
    pytest.param(
        ONE_SIGNATURE_LEFT,
        {"event": "signed"},
        "completed",
        (ONE_SIGNATURE_LEFT["recipients"][1]["id"], "signedAt"),
        completion(ONE_SIGNATURE_LEFT),
        id="last-signature-completes",
    ),
    pytest.param(
        VIEWED_UNSIGNED,
        {"event": "declined"},
        "declined",
        (VIEWED_UNSIGNED["recipients"][0]["id"], "declinedAt"),
        {},
        id="declined-next-in-order",
    ),
    pytest.param(
        VIEWED_UNSIGNED,
        {"event": "declined", "recipientId": VIEWED_UNSIGNED["recipients"][1]["id"]},
        "declined",
        (VIEWED_UNSIGNED["recipients"][1]["id"], "declinedAt"),
        {},
        id="declined-named-recipient",
    ),
    pytest.param(SENT_WITH_CC, {"event": "expired"}, "expired", None, {}, id="expired"),
    pytest.param(
        VIEWED_UNSIGNED,
        {"event": "failed", "message": "PDF is password-protected."},
        "failed",
        None,
        {"errorMessage": "PDF is password-protected."},
        id="failed-with-message",
    ),
    pytest.param(
        SENT_WITH_CC,
        {"event": "failed"},
        "failed",
        None,
        {"errorMessage": "The signature service reported a failure."},
        id="failed-default-message",
    ),
    pytest.param(
        SENT_WITH_CC,
        {"event": "failed", "message": ""},
        "failed",
        None,
        {"errorMessage": ""},
        id="failed-empty-message-kept",
    ),
]


@pytest.mark.parametrize(("record", "body", "status", "stamped", "fields"), EVENTS)
async def test_event_updates_the_record_and_the_vendor_api_agrees(
    mock: ContractClient,
    record: dict[str, Any],
    body: dict[str, Any],
    status: str,
    stamped: tuple[str, str] | None,
    fields: dict[str, Any],
) -> None:
    expected = {**copy.deepcopy(record), "status": status, **fields}
    if stamped is not None:
        who, field = stamped
        [target] = [r for r in expected["recipients"] if r["id"] == who]
        target[field] = NOW

    response = await event(mock, record["id"], body)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected, "the event changed more, or less, than it implies"
    assert await stored(mock, record["id"]) == expected
    assert not list(SIGNATURE_REQUEST.iter_errors(public(expected)))
    await assert_vendor_agrees(mock, expected)


async def test_a_created_request_walks_to_completed(
    mock: ContractClient, clock: FrozenClock
) -> None:
    people = [
        {"email": "ada@example.com", "designation": "Signer"},
        {"email": "alan@example.com", "designation": "Approver"},
        {"email": "grace@example.com", "designation": "CC"},
    ]
    created = (await create(mock, {"recipients": people})).json()
    signer, approver, cc = (r["id"] for r in created["recipients"])
    steps = [
        ({"event": "viewed"}, "viewed"),
        ({"event": "signed", "recipientId": signer}, "viewed"),
        ({"event": "signed", "recipientId": approver}, "completed"),
    ]
    record = created
    for body, status in steps:
        clock.now += 60
        response = await event(mock, created["id"], body)
        assert response.status_code == 200, response.text
        record = response.json()
        assert record["status"] == status, body
        assert await stored(mock, created["id"]) == record

    done = isoformat(clock.now)
    signed_at = {r["id"]: r["signedAt"] for r in record["recipients"]}
    assert signed_at == {signer: isoformat(clock.now - 60), approver: done, cc: None}
    assert record["completedAt"] == done
    assert record["signedDownloadUrl"] == f"{BASE}/v1/signatures/{created['id']}/download"
    assert record["certificateUrl"] == f"{BASE}/v1/signatures/{created['id']}/certificate"
    errors = [e.message for e in SIGNATURE_REQUEST.iter_errors(public(record))]
    assert not errors, f"a completed record must be a valid SignatureRequest: {errors}"

    cancel = await mock.cancel(created["id"])
    assert cancel.status_code == 409
    assert cancel.json()["error"]["code"] == "conflict"
    assert "completed" in cancel.json()["error"]["message"]
    problem(await event(mock, created["id"], {"event": "signed"}), 409)


REFUSED_EVENTS = [
    *[
        pytest.param(r["id"], {"event": "viewed"}, 409, r["status"], id=f"terminal-{status}")
        for status, r in sorted(TERMINAL.items())
    ],
    pytest.param(
        TERMINAL["completed"]["id"], {"event": "expired"}, 409, "completed", id="expire-completed"
    ),
    pytest.param(SENT_WITH_CC["id"], {"event": "exploded"}, 400, None, id="unknown-event"),
    pytest.param(SENT_WITH_CC["id"], {"event": 5}, 400, None, id="event-number"),
    pytest.param(SENT_WITH_CC["id"], {}, 400, None, id="event-missing"),
    pytest.param(SENT_WITH_CC["id"], {"event": "viewed", "at": NOW}, 400, None, id="extra-field"),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "signed", "recipientId": "rcp_nobody"},
        400,
        "rcp_nobody",
        id="unknown-recipient",
    ),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "viewed", "recipientId": "rcp_nobody"},
        400,
        "rcp_nobody",
        id="viewed-by-unknown-recipient",
    ),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "signed", "recipientId": recipient(SENT_WITH_CC, "CC")},
        400,
        "CC",
        id="cc-signs",
    ),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "declined", "recipientId": recipient(SENT_WITH_CC, "CC")},
        400,
        "CC",
        id="cc-declines",
    ),
    pytest.param(
        ONE_SIGNATURE_LEFT["id"],
        {"event": "signed", "recipientId": ONE_SIGNATURE_LEFT["recipients"][0]["id"]},
        409,
        "already signed",
        id="recipient-already-signed",
    ),
    pytest.param(
        ONE_SIGNATURE_LEFT["id"],
        {"event": "declined", "recipientId": ONE_SIGNATURE_LEFT["recipients"][0]["id"]},
        409,
        "already signed",
        id="signed-recipient-declines",
    ),
    pytest.param(
        SENT_WITH_CC["id"], {"event": "viewed", "message": "x"}, 400, "message", id="message-viewed"
    ),
    pytest.param(
        SENT_WITH_CC["id"], {"event": "signed", "message": "x"}, 400, "message", id="message-signed"
    ),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "expired", "recipientId": recipient(SENT_WITH_CC, "Signer")},
        400,
        "recipientId",
        id="recipient-on-expired",
    ),
    pytest.param(
        SENT_WITH_CC["id"],
        {"event": "failed", "recipientId": recipient(SENT_WITH_CC, "Signer")},
        400,
        "recipientId",
        id="recipient-on-failed",
    ),
    pytest.param(UNKNOWN_ID, {"event": "viewed"}, 404, UNKNOWN_ID, id="unknown-id"),
    pytest.param("not-a-uuid", {"event": "viewed"}, 404, None, id="non-uuid-id"),
]


@pytest.mark.parametrize(("record_id", "body", "status", "named"), REFUSED_EVENTS)
async def test_refused_event_changes_nothing(
    mock: ContractClient, record_id: str, body: Any, status: int, named: str | None
) -> None:
    before = await mock.state()
    detail = problem(await event(mock, record_id, body), status)["detail"]
    if named is not None:
        assert named in detail, f"the refusal should name {named!r}: {detail}"
    assert await mock.state() == before


async def test_event_without_a_body_is_400(mock: ContractClient) -> None:
    before = await mock.state()
    response = await mock.http.post(
        f"/__mock/craftkit/signature-requests/{SENT_WITH_CC['id']}/events"
    )
    problem(response, 400)
    assert await mock.state() == before


async def test_event_accepts_the_id_in_any_case(mock: ContractClient) -> None:
    response = await event(mock, SENT_WITH_CC["id"].upper(), {"event": "expired"})
    assert response.status_code == 200
    assert (await stored(mock, SENT_WITH_CC["id"]))["status"] == "expired"


# --- issuing Firma JWTs -------------------------------------------------------------------


async def test_issued_jwt_defaults_to_the_first_workspace_and_revokes_once(
    mock: ContractClient,
) -> None:
    response = await mock.http.post("/__mock/firma/jwts", json={})
    assert response.status_code == 201, response.text
    record = response.json()
    assert set(record) == {"jwt_id", "workspace", "signing_request_id", "revoked_at"}
    assert (record["workspace"], record["revoked_at"]) == ("ws_acme", None)
    fixture_ids = {j["jwt_id"] for j in jwts()}
    assert record["jwt_id"] not in fixture_ids
    assert (await mock.jwts())[-1] == record

    revoked = await mock.revoke({"jwt_id": record["jwt_id"]}, key=FIRMA_ACME_KEYS[1])
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["jwt_id"] == record["jwt_id"]
    assert (await mock.jwts())[-1]["revoked_at"] == revoked.json()["revoked_at"]
    assert (await mock.revoke({"jwt_id": record["jwt_id"]})).status_code == 400


@pytest.mark.parametrize(
    ("fields", "key", "revoke_status"),
    [
        pytest.param({"workspace": "ws_globex"}, FIRMA_GLOBEX_KEY, 200, id="globex-own-key"),
        pytest.param({"workspace": "ws_globex"}, FIRMA_ACME_KEYS[0], 404, id="globex-acme-key"),
        pytest.param({"jwt_id": NEW_ID}, FIRMA_ACME_KEYS[0], 200, id="given-jwt-id"),
        pytest.param({"jwt_id": NEW_ID.upper()}, FIRMA_ACME_KEYS[0], 200, id="upper-case-jwt-id"),
        pytest.param({"signing_request_id": NEW_ID}, FIRMA_ACME_KEYS[0], 200, id="given-sr-id"),
    ],
)
async def test_issued_jwt_answers_the_vendor_revoke_as_its_workspace_says(
    mock: ContractClient, fields: dict[str, str], key: str, revoke_status: int
) -> None:
    response = await mock.http.post("/__mock/firma/jwts", json=fields)
    assert response.status_code == 201, response.text
    record = response.json()
    for name, value in fields.items():
        assert record[name] == value.lower(), name
    assert record in await mock.jwts()

    revoked = await mock.revoke({"jwt_id": record["jwt_id"]}, key=key)

    assert revoked.status_code == revoke_status, revoked.text
    [after] = [j for j in await mock.jwts() if j["jwt_id"] == record["jwt_id"]]
    assert (after["revoked_at"] is not None) == (revoke_status == 200)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"workspace": "ws_nope"}, 400, id="unknown-workspace"),
        pytest.param({"workspace": 5}, 400, id="workspace-number"),
        pytest.param({"jwt_id": 5}, 400, id="jwt-id-number"),
        pytest.param({"revoked_at": NOW}, 400, id="unknown-field"),
        pytest.param([], 400, id="array-body"),
        pytest.param({"jwt_id": ACTIVE_JWT["jwt_id"]}, 409, id="taken-jwt-id"),
        pytest.param({"jwt_id": ACTIVE_JWT["jwt_id"].upper()}, 409, id="taken-jwt-id-other-case"),
    ],
)
async def test_issue_refusals_change_nothing(mock: ContractClient, body: Any, status: int) -> None:
    before = await mock.state()
    problem(await mock.http.post("/__mock/firma/jwts", json=body), status)
    assert await mock.state() == before


@pytest.mark.parametrize(
    "field", [pytest.param("jwt_id", id="jwt_id"), pytest.param("signing_request_id", id="sr-id")]
)
async def test_issue_refuses_ids_that_are_not_uuids(mock: ContractClient, field: str) -> None:
    """Found in review: jwt_id 'not-a-uuid' was stored as the string 'None'."""
    before = await mock.state()
    problem(await mock.http.post("/__mock/firma/jwts", json={field: "not-a-uuid"}), 400)
    assert await mock.state() == before


# --- many records in one call ---------------------------------------------------------------

CRAFTKIT_BATCH = "/__mock/craftkit/signature-requests/batch"
FIRMA_BATCH = "/__mock/firma/jwts/batch"
OTHER_ID = "6c1d9f4e-2e3b-4d7c-8f80-1b2c3d4e5f60"


def created_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "mock_server.control"
        and (" created " in r.getMessage() or " issued " in r.getMessage())
    ]


async def test_a_batch_creates_every_request_in_order_and_the_vendor_api_agrees(
    mock: ContractClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = [
        {"id": NEW_ID.upper(), "name": "Mutual NDA"},
        None,
        {"status": "completed", "project": "proj_globex"},
        {"recipients": [{"email": "ada@example.com"}, {"email": "b@x.io", "designation": "CC"}]},
    ]
    with caplog.at_level("INFO", logger="mock_server.control"):
        response = await mock.http.post(CRAFTKIT_BATCH, json=body)

    assert response.status_code == 201, response.text
    records = response.json()
    assert [r["id"] for r in records][:1] == [NEW_ID] and len(records) == 4, "in lower case"
    assert len({r["id"] for r in records}) == 4, "a new id for each left out"
    assert [r["status"] for r in records] == ["sent", "sent", "completed", "sent"]
    assert [r["project"] for r in records] == ["proj_acme", "proj_acme", "proj_globex", "proj_acme"]
    assert {r["createdAt"] for r in records} == {NOW}
    single = (await create(mock, {})).json()
    for record in records:
        assert set(record) == set(single), "the fields a single create fills in"
        assert not list(SIGNATURE_REQUEST.iter_errors(public(record)))
    assert (await mock.signature_requests())[-5:-1] == records, "after the fixtures, in order"
    assert created_lines(caplog) == [
        f"session {mock.http.headers['X-Mock-Session']!r}: 4 signature requests created "
        "(sent: 3, completed: 1)"
    ]
    assert (await mock.cancel(NEW_ID)).status_code == 200
    assert (await mock.cancel(records[2]["id"], key=GLOBEX_KEY)).status_code == 409
    assert (await mock.cancel(records[3]["id"])).status_code == 200


@pytest.mark.parametrize(
    ("route", "body", "status", "detail"),
    [
        pytest.param(CRAFTKIT_BATCH, [], 400, "[] should be non-empty", id="craftkit-empty"),
        pytest.param(
            CRAFTKIT_BATCH,
            {"id": NEW_ID},
            400,
            "is not of type 'array'",
            id="craftkit-object-not-array",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{}, {}, {"status": "canceled"}],
            400,
            "is not one of",
            id="craftkit-schema-names-index",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{}, {"project": "proj_nope"}],
            400,
            "body[1]: project: unknown project 'proj_nope'",
            id="craftkit-unknown-project",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{}, {"id": "not-a-uuid"}],
            400,
            "body[1]: id: 'not-a-uuid' is not a valid uuid",
            id="craftkit-id-not-uuid",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{}, {"colour": "red"}, {"expirationHours": "72"}],
            400,
            "body[1]: colour: unknown field",
            id="craftkit-each-item-refused-named",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{"id": NEW_ID}, {}, {"id": NEW_ID.upper()}],
            400,
            f"body[2].id: {NEW_ID} is body[0]'s too",
            id="craftkit-same-id-twice",
        ),
        pytest.param(
            CRAFTKIT_BATCH,
            [{}, {"id": SENT_WITH_CC["id"].upper()}],
            409,
            f"body[1].id: a signature request {SENT_WITH_CC['id']} already exists",
            id="craftkit-fixture-id",
        ),
        pytest.param(FIRMA_BATCH, [], 400, "[] should be non-empty", id="firma-empty"),
        pytest.param(FIRMA_BATCH, {}, 400, "is not of type 'array'", id="firma-object-not-array"),
        pytest.param(
            FIRMA_BATCH,
            [{}, {"workspace": "ws_nope"}],
            400,
            "body[1].workspace: unknown workspace 'ws_nope'",
            id="firma-unknown-workspace",
        ),
        pytest.param(
            FIRMA_BATCH,
            [{"jwt_id": "x"}],
            400,
            "body[0].jwt_id: 'x' is not a uuid",
            id="firma-not-uuid",
        ),
        pytest.param(
            FIRMA_BATCH,
            [{}, {"revoked_at": NOW}],
            400,
            "('revoked_at' was unexpected) - '1'",
            id="firma-unknown-field",
        ),
        pytest.param(
            FIRMA_BATCH,
            [{"jwt_id": NEW_ID}, {"jwt_id": NEW_ID.upper()}],
            400,
            f"body[1].jwt_id: {NEW_ID} is body[0]'s too",
            id="firma-same-id-twice",
        ),
        pytest.param(
            FIRMA_BATCH,
            [{}, {"jwt_id": ACTIVE_JWT["jwt_id"].upper()}],
            409,
            f"body[1].jwt_id: a JWT {ACTIVE_JWT['jwt_id']} already exists",
            id="firma-fixture-id",
        ),
    ],
)
async def test_a_refused_batch_creates_nothing(
    mock: ContractClient,
    caplog: pytest.LogCaptureFixture,
    route: str,
    body: Any,
    status: int,
    detail: str,
) -> None:
    before = await mock.state()
    with caplog.at_level("INFO", logger="mock_server.control"):
        refused = problem(await mock.http.post(route, json=body), status)
    assert detail in refused["detail"], refused["detail"]
    assert await mock.state() == before
    assert created_lines(caplog) == []


async def test_a_batch_names_every_item_refused_and_the_schema_s_index(
    mock: ContractClient,
) -> None:
    body = [{}, {"colour": 1}, {"expirationHours": "72"}]
    bad = problem(await mock.http.post(CRAFTKIT_BATCH, json=body), 400)
    assert bad["detail"].startswith("body[1]: colour: unknown field"), bad["detail"]
    assert bad["detail"].endswith(
        "; body[2]: expirationHours: '72' is not a whole number or null; write the number "
        "without quotes, or null"
    ), bad["detail"]
    enum = problem(await mock.http.post(CRAFTKIT_BATCH, json=[{}, {"status": "canceled"}]), 400)
    assert enum["detail"].endswith("- '1.status'"), enum["detail"]
    many = [{"colour": i} for i in range(25)]
    capped = problem(await mock.http.post(CRAFTKIT_BATCH, json=many), 400)["detail"]
    assert capped.count("unknown field") == 10 and capped.endswith("; and 15 more"), capped


async def test_a_batch_with_an_id_created_earlier_in_the_session_is_409_and_creates_nothing(
    mock: ContractClient,
) -> None:
    assert (await create(mock, {"id": NEW_ID})).status_code == 201
    before = await mock.state()
    refused = problem(await mock.http.post(CRAFTKIT_BATCH, json=[{}, {"id": NEW_ID}]), 409)
    assert refused["detail"].startswith(f"body[1].id: a signature request {NEW_ID} already")
    assert await mock.state() == before


async def test_a_batch_issues_every_jwt_in_order_and_the_vendor_api_agrees(
    mock: ContractClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = [
        {"workspace": "ws_globex"},
        None,
        {"jwt_id": NEW_ID.upper(), "signing_request_id": OTHER_ID},
    ]
    with caplog.at_level("INFO", logger="mock_server.control"):
        response = await mock.http.post(FIRMA_BATCH, json=body)

    assert response.status_code == 201, response.text
    records = response.json()
    assert [r["workspace"] for r in records] == ["ws_globex", "ws_acme", "ws_acme"]
    assert records[2] == {
        "jwt_id": NEW_ID,
        "workspace": "ws_acme",
        "signing_request_id": OTHER_ID,
        "revoked_at": None,
    }
    assert (await mock.jwts())[-3:] == records
    assert created_lines(caplog) == [
        f"session {mock.http.headers['X-Mock-Session']!r}: 3 JWTs issued (ws_globex: 1, ws_acme: 2)"
    ]
    assert (await mock.revoke({"jwt_id": records[0]["jwt_id"]})).status_code == 404
    assert (
        await mock.revoke({"jwt_id": records[0]["jwt_id"]}, key=FIRMA_GLOBEX_KEY)
    ).status_code == 200
    assert (await mock.revoke({"jwt_id": NEW_ID})).status_code == 200


async def test_a_batch_takes_10000_items_and_refuses_more_in_a_short_answer(
    mock: ContractClient,
) -> None:
    before = await mock.jwts()
    too_many = problem(await mock.http.post(FIRMA_BATCH, json=[{}] * 10_001), 400)
    assert too_many["detail"] == "10001 items: at most 10000 a call"
    assert await mock.jwts() == before
    response = await mock.http.post(FIRMA_BATCH, json=[{}] * 10_000)
    assert response.status_code == 201, response.text[:300]
    assert len(await mock.jwts()) == len(before) + 10_000


@pytest.mark.own_app  # an app per store
@pytest.mark.parametrize("store", ["memory", "sqlite", "redis"])
async def test_batches_are_all_or_nothing_on_every_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_app: AppFactory,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
    store: str,
) -> None:
    app = make_app(store=store_url(store, request, tmp_path))
    try:
        async with client_for(app) as mock:
            first = await mock.http.post(CRAFTKIT_BATCH, json=[{"id": NEW_ID}, {}])
            assert first.status_code == 201, first.text
            jwts_issued = await mock.http.post(FIRMA_BATCH, json=[{"jwt_id": OTHER_ID}, {}])
            assert jwts_issued.status_code == 201, jwts_issued.text
            before = await mock.state()
            assert before["craftkit"]["signature_requests"][-2:] == first.json()
            assert before["firma"]["jwts"][-2:] == jwts_issued.json()

            problem(await mock.http.post(CRAFTKIT_BATCH, json=[{}, {"id": NEW_ID}]), 409)
            problem(await mock.http.post(FIRMA_BATCH, json=[{}, {"jwt_id": OTHER_ID}]), 409)

            assert await mock.state() == before
            assert (await mock.cancel(NEW_ID)).status_code == 200
            assert (await mock.revoke({"jwt_id": OTHER_ID})).status_code == 200
    finally:
        await app.stop()


# --- edges found in review ------------------------------------------------------------------


async def test_events_work_on_recipients_that_omit_optional_fields(
    tmp_path: Path,
    make_app: AppFactory,
    client_for: Callable[[MockApp], AbstractAsyncContextManager[ContractClient]],
) -> None:
    # The spec requires only id, firstName, email and designation of a recipient.
    data = fixture_data("craftkit")
    [record] = [r for r in data["signature_requests"] if r["id"] == SENT_WITH_CC["id"]]
    for person in record["recipients"]:
        for optional in ("signedAt", "declinedAt", "lastName", "order"):
            person.pop(optional, None)
    path = tmp_path / "craftkit.yaml"
    path.write_text(yaml.safe_dump(data))
    async with client_for(make_app(fixtures=(path,))) as mock:
        url = f"/__mock/craftkit/signature-requests/{record['id']}/events"
        signers = [p for p in record["recipients"] if p["designation"] != "CC"]
        for _ in signers:
            response = await mock.http.post(url, json={"event": "signed"})
            assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"


async def test_a_refusal_names_the_field_without_a_stray_dot(mock: ContractClient) -> None:
    response = await mock.http.post(
        "/__mock/craftkit/signature-requests", json={"project": "proj_acmee"}
    )
    detail = problem(response, 400)["detail"]
    assert detail.startswith("body: project: unknown project 'proj_acmee'"), detail
    assert "did you mean 'proj_acme'" in detail


@pytest.mark.parametrize(
    ("method", "path", "nearest"),
    [
        pytest.param("GET", "/__mock/stat", "GET /__mock/state", id="typo"),
        pytest.param(
            "POST",
            "/__mock/craftkit/signature-request",
            "POST /__mock/craftkit/signature-requests",
            id="singular",
        ),
        pytest.param("GET", "/__mock/" + "x" * 30_000, "", id="huge"),  # shown cut short
    ],
)
async def test_a_path_no_operation_has_is_a_404_naming_the_nearest(
    mock: ContractClient, method: str, path: str, nearest: str
) -> None:
    """As the vendor routes' near-miss; a record not found keeps its own 404."""
    response = await mock.http.request(method, path)
    detail = problem(response, 404)["detail"]
    assert detail.startswith(f"no control-plane operation at {path[:117]}"), detail[:200]
    assert f"the nearest is {nearest}" in detail and len(detail) < 400, detail[:300]
    missing = problem(await mock.http.get(f"/__mock/craftkit/signature-requests/{UNKNOWN_ID}"), 404)
    assert missing["detail"].startswith(f"no signature request '{UNKNOWN_ID}'"), missing


async def test_the_control_plane_root_leads_to_its_swagger_ui(mock: ContractClient) -> None:
    response = await mock.http.get("/__mock")
    assert response.status_code == 307
    page = await mock.http.get(response.headers["location"])
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "urls.primaryName=Contract%20mock%20control%20plane" in response.headers["location"]


@pytest.mark.own_app  # breaks the app's store
async def test_a_store_lost_mid_operation_is_a_503_said_like_everywhere_else(
    mock: ContractClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def lost(*args: object) -> None:
        raise StoreUnavailable("connection reset")

    monkeypatch.setattr(mock.app.backend, "changed", lost)
    with caplog.at_level("INFO"):
        answers = [await mock.http.get("/__mock/state") for _ in range(2)]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == str(RETRY_AFTER)
        assert "state store is unreachable (connection reset)" in answer.json()["detail"]
    said = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert said and all("memory unreachable" in line for line in said), said


CAP = 1_048_576  # Settings.max_body_bytes: the vendor routes' cap, and the control plane's
BODIES = [  # every control-plane operation that reads a body
    "/__mock/craftkit/signature-requests",
    CRAFTKIT_BATCH,
    f"/__mock/craftkit/signature-requests/{SENT_WITH_CC['id']}/events",
    "/__mock/firma/jwts",
    FIRMA_BATCH,
    "/__mock/faults",
]


@pytest.mark.parametrize("path", BODIES)
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_cap_is_413_and_changes_nothing(
    mock: ContractClient, path: str, declared: bool
) -> None:
    """Connexion would buffer any body: the control plane refuses what the vendor routes do."""
    body = b'{"name": "' + b"a" * CAP + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    before = await mock.state()
    response = await mock.http.post(
        path,
        content=body if declared else chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert problem(response, 413)["detail"] == f"the request body is larger than {CAP} bytes"
    assert response.headers["connection"] == "close"  # the rest of the body is not read
    assert await mock.state() == before


async def test_a_body_at_the_cap_is_read(mock: ContractClient) -> None:
    fault = b'{"api": "craftkit", "operation": "cancelSignature", "status": 502}'
    response = await mock.http.post(
        "/__mock/faults",
        content=fault + b" " * (CAP - len(fault)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
