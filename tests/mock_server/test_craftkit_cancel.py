"""Every row of docs/behaviour.md's Craftkit table, over HTTP, answers spec-validated."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import (
    ACME_LIVE_KEY,
    ACME_TEST_KEY,
    GLOBEX_KEY,
    ContractClient,
    not_uuid_strings,
    signature_requests,
)

pytestmark = pytest.mark.anyio

SENT = signature_requests(project="proj_acme", status="sent")[0]
VIEWED = signature_requests(project="proj_acme", status="viewed")[0]
GLOBEX_IN_FLIGHT = signature_requests(project="proj_globex", status="sent")[0]
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
UNCHANGING = ("id", "renderId", "name", "expirationHours", "createdAt")


async def assert_still_cancellable(mock: ContractClient, record_id: str) -> None:
    """A refused request must leave the record in flight: a real cancel still succeeds."""
    response = await mock.cancel(record_id)
    assert response.status_code == 200, f"state changed by a refused request: {response.text}"


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}, body
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty"),
        pytest.param(f"Basic {ACME_TEST_KEY}", id="basic-scheme"),
        pytest.param(ACME_TEST_KEY, id="no-scheme"),
        pytest.param("Bearer", id="bearer-without-token"),
        pytest.param("Bearer    ", id="bearer-blank-token"),
    ],
)
async def test_missing_bearer_token_is_401(mock: ContractClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await mock.cancel(SENT["id"], key=None, headers=headers)
    assert response.status_code == 401
    assert error_of(response) == {"code": "unauthorized", "message": "Missing Bearer token."}
    await assert_still_cancellable(mock, SENT["id"])


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("ck_test_nobody_9999", id="unknown-test-key"),
        pytest.param("ck_live_nobody_9999", id="unknown-live-key"),
        pytest.param("sk_live_acme_0001", id="wrong-prefix"),
        pytest.param("acme_0001", id="no-prefix"),
        pytest.param(ACME_TEST_KEY.upper(), id="case-changed"),
    ],
)
async def test_unknown_or_wrong_prefix_key_is_401(mock: ContractClient, key: str) -> None:
    response = await mock.cancel(SENT["id"], key=key)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    await assert_still_cancellable(mock, SENT["id"])


async def test_duplicate_authorization_headers_are_refused(mock: ContractClient) -> None:
    headers = [("Authorization", f"Bearer {ACME_TEST_KEY}"), ("Authorization", "Bearer x")]
    response = await mock.request("POST", f"/v1/signatures/{SENT['id']}/cancel", headers=headers)
    assert response.status_code == 401
    await assert_still_cancellable(mock, SENT["id"])


@pytest.mark.parametrize("key", [ACME_TEST_KEY, ACME_LIVE_KEY], ids=["ck_test", "ck_live"])
async def test_both_key_flavours_of_a_project_authenticate(mock: ContractClient, key: str) -> None:
    response = await mock.cancel(SENT["id"], key=key)
    assert response.status_code == 200


async def test_bearer_scheme_is_case_insensitive(mock: ContractClient) -> None:
    response = await mock.cancel(
        SENT["id"], key=None, headers={"Authorization": f"bearer {ACME_TEST_KEY}"}
    )
    assert response.status_code == 200


INVALID_BODIES = [
    pytest.param(b"{not json", "application/json", "formErrors", id="invalid-json"),
    pytest.param(b"[1, 2]", "application/json", "formErrors", id="array"),
    pytest.param(b'"cancel"', "application/json", "formErrors", id="string"),
    pytest.param(b"null", "application/json", "formErrors", id="null"),
    pytest.param(b'{"reason": 5}', "application/json", "reason", id="reason-number"),
    pytest.param(b'{"reason": null}', "application/json", "reason", id="reason-null"),
    pytest.param(b'{"reason": ["a"]}', "application/json", "reason", id="reason-array"),
    pytest.param(
        b'{"reason": "' + b"x" * 501 + b'"}', "application/json", "reason", id="reason-501-chars"
    ),
]


@pytest.mark.parametrize(("body", "content_type", "where"), INVALID_BODIES)
async def test_invalid_body_is_400_with_zod_flatten_issues(
    mock: ContractClient, body: bytes, content_type: str, where: str
) -> None:
    response = await mock.cancel(SENT["id"], content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    issues = error["issues"]
    assert isinstance(issues, dict) and set(issues) == {"formErrors", "fieldErrors"}
    if where == "formErrors":
        assert issues["formErrors"], issues
    else:
        assert list(issues["fieldErrors"]) == [where], issues
    await assert_still_cancellable(mock, SENT["id"])


async def test_reason_messages_follow_zod(mock: ContractClient) -> None:
    too_long = await mock.cancel(SENT["id"], json={"reason": "x" * 501})
    wrong_type = await mock.cancel(SENT["id"], json={"reason": 5})
    assert too_long.json()["error"]["issues"]["fieldErrors"] == {
        "reason": ["String must contain at most 500 character(s)"]
    }
    assert wrong_type.json()["error"]["issues"]["fieldErrors"] == {
        "reason": ["Expected string, received number"]
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="no-body"),
        pytest.param({}, id="empty-object"),
        pytest.param({"reason": "Superseded by a corrected document."}, id="reason"),
        pytest.param({"reason": "x" * 500}, id="reason-500-chars"),
        pytest.param({"reason": "Ω" * 500}, id="reason-500-non-ascii"),
        pytest.param({"reason": "ok", "extra": 1}, id="extra-field"),
    ],
)
async def test_valid_bodies_cancel(mock: ContractClient, body: object) -> None:
    response = (
        await mock.cancel(SENT["id"], json=body)
        if body is not None
        else await mock.cancel(SENT["id"])
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "bad_id",
    [
        pytest.param("not-a-uuid", id="word"),
        pytest.param("12345", id="number"),
        pytest.param(SENT["id"] + "0", id="uuid-plus-digit"),
        pytest.param("{" + SENT["id"] + "}", id="braced-uuid"),
        pytest.param("%C3%A9t%C3%A9", id="unicode"),
    ],
)
async def test_non_uuid_id_is_400_or_404(mock: ContractClient, bad_id: str) -> None:
    response = await mock.cancel(bad_id)
    assert response.status_code in (400, 404)
    assert error_of(response)["code"] in ("invalid_request", "not_found")


@pytest.mark.parametrize("spelling", not_uuid_strings(SENT["id"]))
async def test_a_uuid_spelt_as_only_a_lenient_parser_reads_it_is_404_and_untouched(
    mock: ContractClient, spelling: str
) -> None:
    """docs/behaviour.md: an id that is not a uuid is the mock's 404, though Python's
    uuid.UUID reads each of these as the request's id (or another)."""
    response = await mock.cancel(quote(spelling, safe=""))
    assert response.status_code == 404, response.text
    assert error_of(response) == {"code": "not_found", "message": "Signature request not found."}
    await assert_still_cancellable(mock, SENT["id"])


async def test_unknown_id_is_404(mock: ContractClient) -> None:
    response = await mock.cancel(UNKNOWN_ID)
    assert response.status_code == 404
    assert error_of(response) == {"code": "not_found", "message": "Signature request not found."}


async def test_another_projects_request_is_404_and_untouched(mock: ContractClient) -> None:
    response = await mock.cancel(GLOBEX_IN_FLIGHT["id"], key=ACME_TEST_KEY)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    owner = await mock.cancel(GLOBEX_IN_FLIGHT["id"], key=GLOBEX_KEY)
    assert owner.status_code == 200, "a 404 to another tenant must not change the request"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(r, id=f"{r['status']}-{i}")
        for i, r in enumerate(signature_requests(project="proj_acme"))
        if r["status"] in ("sent", "viewed") and "mock" not in r
    ],
)
async def test_in_flight_cancels_once_then_conflicts(
    mock: ContractClient, record: dict[str, object]
) -> None:
    first = await mock.cancel(str(record["id"]))
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "cancelled"
    for name in UNCHANGING:
        assert body[name] == record[name], f"cancel changed {name}"
    assert [(r["id"], r["email"], r["designation"]) for r in body["recipients"]] == [
        (r["id"], r["email"], r["designation"])
        for r in record["recipients"]  # type: ignore[attr-defined]
    ]
    second = await mock.cancel(str(record["id"]))
    assert second.status_code == 409
    assert error_of(second)["code"] == "conflict"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(r, id=f"{r['status']}-{i}")
        for i, r in enumerate(signature_requests(project="proj_acme"))
        if r["status"] not in ("sent", "viewed")
    ],
)
async def test_terminal_is_409_and_unchanged(
    mock: ContractClient, record: dict[str, object]
) -> None:
    for _ in range(2):
        response = await mock.cancel(str(record["id"]))
        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "conflict"
        assert str(record["status"]) in str(error["message"])


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        pytest.param("upstream_locked", 409, "conflict", id="upstream-locked"),
        pytest.param("provider_error", 502, "signature_provider_error", id="provider-error"),
    ],
)
async def test_simulated_upstream_refusal_changes_nothing(
    mock: ContractClient, behaviour: str, status: int, code: str
) -> None:
    [record] = [r for r in signature_requests() if r.get("mock", {}).get("on_cancel") == behaviour]
    for _ in range(3):
        response = await mock.cancel(record["id"])
        assert response.status_code == status
        assert error_of(response)["code"] == code
    [stored] = [r for r in await mock.signature_requests() if r["id"] == record["id"]]
    assert stored["status"] == record["status"], "a refused cancel changed the stored status"


async def test_cancel_touches_no_other_request(mock: ContractClient) -> None:
    before = await mock.signature_requests()
    await mock.cancel(SENT["id"])
    after = await mock.signature_requests()
    changed = [b["id"] for b, a in zip(before, after, strict=True) if a != b]
    assert changed == [SENT["id"]]


async def test_uppercase_uuid_names_the_same_request(mock: ContractClient) -> None:
    response = await mock.cancel(VIEWED["id"].upper())
    assert response.status_code == 200
    assert response.json()["id"] == VIEWED["id"]
