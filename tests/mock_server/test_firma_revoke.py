"""Every row of docs/behaviour.md's Firma table, over HTTP, answers spec-validated."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import (
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    FIRMA_GLOBEX_KEY,
    AppFactory,
    ContractClient,
    FrozenClock,
    fixture_data,
    jwts,
    not_uuid_strings,
)

pytestmark = pytest.mark.anyio

ACTIVE = jwts(workspace="ws_acme", revoked_at=None)
REVOKED = [j for j in jwts(workspace="ws_acme") if j["revoked_at"] is not None]
GLOBEX_ACTIVE = jwts(workspace="ws_globex")[0]
UNKNOWN = "00000000-0000-4000-8000-000000000000"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def envelope(response: httpx.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    assert set(body) <= {"error", "message", "details"} and {"error", "message"} <= set(body), body
    return body


async def assert_still_active(mock: ContractClient, jwt_id: str) -> None:
    response = await mock.revoke({"jwt_id": jwt_id})
    assert response.status_code == 200, f"state changed by a refused request: {response.text}"


@pytest.mark.parametrize("base", FIRMA_BASES)
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(FIRMA_ACME_KEYS[0], id="raw-key"),
        pytest.param(f"Bearer {FIRMA_ACME_KEYS[0]}", id="bearer-key"),
        pytest.param(f"bearer {FIRMA_ACME_KEYS[1]}", id="lower-bearer-second-key"),
        pytest.param(FIRMA_ACME_KEYS[1], id="second-key"),
    ],
)
async def test_active_jwt_revokes_with_either_authorization_form(
    mock: ContractClient, base: str, authorization: str
) -> None:
    response = await mock.revoke({"jwt_id": ACTIVE[0]["jwt_id"]}, key=authorization, base=base)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "JWT revoked successfully"
    assert body["jwt_id"] == ACTIVE[0]["jwt_id"]
    assert body["revoked"] is True
    assert body["revoked_at"].endswith("Z")


async def test_revoke_again_is_400_already_revoked(mock: ContractClient) -> None:
    await mock.revoke({"jwt_id": ACTIVE[1]["jwt_id"]})
    again = await mock.revoke({"jwt_id": ACTIVE[1]["jwt_id"]})
    assert again.status_code == 400
    assert envelope(again) == {"error": "Bad Request", "message": "JWT has already been revoked"}


@pytest.mark.parametrize("record", REVOKED, ids=lambda r: r["revoked_at"])
async def test_revoked_in_fixture_is_400(mock: ContractClient, record: dict[str, str]) -> None:
    response = await mock.revoke({"jwt_id": record["jwt_id"]})
    assert response.status_code == 400
    assert envelope(response)["message"] == "JWT has already been revoked"


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="bearer-alone"),
        pytest.param("firma_nobody", id="unknown"),
        pytest.param("Bearer firma_nobody", id="unknown-bearer"),
        pytest.param("Basic firma_acme_0001", id="other-scheme"),
    ],
)
async def test_missing_or_unknown_key_is_401(
    mock: ContractClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await mock.revoke({"jwt_id": ACTIVE[2]["jwt_id"]}, key=None, headers=headers)
    assert response.status_code == 401
    assert envelope(response) == {"error": "Unauthorized", "message": "Invalid API key"}
    assert all(name in response.headers for name in RATE_HEADERS)
    await assert_still_active(mock, ACTIVE[2]["jwt_id"])


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        pytest.param(b"{not json", None, id="invalid-json"),
        pytest.param(b"", "jwt_id", id="empty-body"),
        pytest.param(b"{}", "jwt_id", id="jwt_id-missing"),
        pytest.param(b'{"jwt_id": "abc"}', "jwt_id", id="not-a-uuid"),
        pytest.param(b'{"jwt_id": 42}', "jwt_id", id="number"),
        pytest.param(b'{"jwt_id": null}', "jwt_id", id="null"),
        pytest.param(b"[]", "_errors", id="array"),
    ],
)
async def test_invalid_body_is_400(
    mock: ContractClient, content: bytes, detail: str | None
) -> None:
    response = await mock.revoke(content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    body = envelope(response)
    assert body["error"] == "Bad Request"
    if detail is not None:
        assert body["message"] == "Invalid JWT ID"
        assert detail in body["details"], body  # type: ignore[operator]


@pytest.mark.parametrize("spelling", not_uuid_strings(ACTIVE[0]["jwt_id"]))
async def test_a_jwt_id_only_a_lenient_parser_reads_is_400_invalid_jwt_id(
    mock: ContractClient, spelling: str
) -> None:
    """Found in review: the spec's `uuid` format, checked by Python's uuid.UUID, took these,
    and they were a 404 `JWT not found` (docs/behaviour.md: a jwt_id that is not a uuid
    string is 400 `Invalid JWT ID`), on both base paths."""
    for base in FIRMA_BASES:
        response = await mock.revoke({"jwt_id": spelling}, base=base)
        assert response.status_code == 400, response.text
        assert envelope(response) == {
            "error": "Bad Request",
            "message": "Invalid JWT ID",
            "details": {"jwt_id": ["Invalid uuid"]},
        }
    await assert_still_active(mock, ACTIVE[0]["jwt_id"])


async def test_unknown_jwt_is_404(mock: ContractClient) -> None:
    response = await mock.revoke({"jwt_id": UNKNOWN})
    assert response.status_code == 404
    assert envelope(response)["error"] == "Not Found"


async def test_another_workspaces_jwt_is_404_and_untouched(mock: ContractClient) -> None:
    response = await mock.revoke({"jwt_id": GLOBEX_ACTIVE["jwt_id"]}, key=FIRMA_ACME_KEYS[0])
    assert response.status_code == 404
    owner = await mock.revoke({"jwt_id": GLOBEX_ACTIVE["jwt_id"]}, key=FIRMA_GLOBEX_KEY)
    assert owner.status_code == 200


async def test_revoke_touches_no_other_jwt(mock: ContractClient) -> None:
    before = await mock.jwts()
    await mock.revoke({"jwt_id": ACTIVE[3]["jwt_id"]})
    after = await mock.jwts()
    changed = [b["jwt_id"] for b, a in zip(before, after, strict=True) if a != b]
    assert changed == [ACTIVE[3]["jwt_id"]]


async def test_remaining_falls_by_one_per_authenticated_post_whatever_the_outcome(
    mock: ContractClient,
) -> None:
    bodies = [
        {"jwt_id": ACTIVE[4]["jwt_id"]},
        {"jwt_id": ACTIVE[4]["jwt_id"]},
        {"jwt_id": UNKNOWN},
        {},
    ]
    seen = []
    for body in bodies:
        response = await mock.revoke(body)
        seen.append(int(response.headers["x-ratelimit-remaining"]))
        assert response.headers["x-ratelimit-limit"] == "120"
    assert seen == [119, 118, 117, 116]
    other_key = await mock.revoke({"jwt_id": UNKNOWN}, key=FIRMA_ACME_KEYS[1])
    assert other_key.headers["x-ratelimit-remaining"] == "119", "quotas are per key"


def limited_fixture(tmp_path: Path, per_minute: int) -> Path:
    data = fixture_data("firma")
    data["rate_limits"] = {"write_per_minute": per_minute}
    path = tmp_path / "firma.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def test_past_write_per_minute_is_429_with_retry_after_until_the_window_resets(
    make_app: AppFactory, client_for: object, clock: FrozenClock, tmp_path: Path
) -> None:
    app = make_app(fixtures=(limited_fixture(tmp_path, 3),))
    async with client_for(app) as mock:  # type: ignore[operator]
        for _ in range(3):
            assert (await mock.revoke({"jwt_id": UNKNOWN})).status_code == 404
        clock.now += 15
        limited = await mock.revoke({"jwt_id": ACTIVE[5]["jwt_id"]})
        assert limited.status_code == 429
        body = envelope(limited)
        assert body["error"] == "Rate Limit Exceeded"
        assert limited.headers["retry-after"] == "45"
        assert body["details"] == {"retry_after": 45}
        assert limited.headers["x-ratelimit-remaining"] == "0"
        clock.now += 45
        after = await mock.revoke({"jwt_id": ACTIVE[5]["jwt_id"]})
        assert after.status_code == 200, "a 429 must not have revoked, and the window must reset"
        assert after.headers["x-ratelimit-remaining"] == "2"


@pytest.mark.parametrize(
    ("method", "path", "prefer", "status"),
    [
        pytest.param("GET", "/jwt/revoke-signing-request", None, 405, id="405"),
        pytest.param("POST", "/no-such-route", None, 404, id="unknown-path"),
        pytest.param("POST", "/jwt/revoke-signing-request", "code=200", 200, id="forced-200"),
        pytest.param("POST", "/jwt/revoke-signing-request", "code=404", 404, id="forced-404"),
        pytest.param("POST", "/jwt/revoke-signing-request", "wait=5", 400, id="prefer-refused"),
    ],
)
async def test_past_the_quota_only_a_429_carries_retry_after(
    make_app: AppFactory,
    client_for: object,
    tmp_path: Path,
    method: str,
    path: str,
    prefer: str | None,
    status: int,
) -> None:
    """The contract declares ``Retry-After`` on 429 alone: another answer to a key past its
    quota (a 405, a forced 200) still shows the quota spent, but asks for no wait."""
    app = make_app(fixtures=(limited_fixture(tmp_path, 1),))
    async with client_for(app) as mock:  # type: ignore[operator]
        assert (await mock.revoke({"jwt_id": UNKNOWN})).status_code == 404
        assert (await mock.revoke({"jwt_id": UNKNOWN})).status_code == 429
        headers = {"Authorization": FIRMA_ACME_KEYS[0]}
        if prefer is not None:
            headers["Prefer"] = prefer
        response = await mock.request(
            method, f"{FIRMA_BASES[0]}{path}", headers=headers, json={"jwt_id": UNKNOWN}
        )
        assert response.status_code == status, response.text
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert "retry-after" not in response.headers, response.headers
        still = await mock.revoke({"jwt_id": UNKNOWN})
        assert (still.status_code, still.headers["retry-after"]) == (429, "60")


@pytest.mark.parametrize("base", FIRMA_BASES)
async def test_every_firma_answer_carries_rate_limit_headers(
    mock: ContractClient, base: str
) -> None:
    answers = [
        await mock.request("GET", f"{base}/jwt/revoke-signing-request"),
        await mock.request(
            "POST", f"{base}/no-such-route", headers={"Authorization": FIRMA_ACME_KEYS[0]}
        ),
        await mock.revoke({"jwt_id": UNKNOWN}, base=base),
        await mock.revoke({"jwt_id": "x"}, base=base),
    ]
    for response in answers:
        missing = [name for name in RATE_HEADERS if name not in response.headers]
        assert not missing, f"{response.request.method} {response.request.url}: {missing}"


@pytest.mark.parametrize("content", [b"null", b"[]", b'"jwt"'], ids=["null", "array", "string"])
async def test_a_body_of_the_wrong_type_is_said_once(mock: ContractClient, content: bytes) -> None:
    response = await mock.revoke(content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    errors = envelope(response)["details"]["_errors"]  # type: ignore[index]
    assert len(errors) == 1 and errors[0].startswith("Expected object, received "), errors
