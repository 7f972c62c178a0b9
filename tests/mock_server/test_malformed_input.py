"""Malformed input of every kind gets a documented 4xx in the API's envelope and changes nothing."""

from __future__ import annotations

import json
import sys

import pytest

from mock_server._http import BadBody, parse_json
from tests.conftest import (
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    ContractClient,
    jwts,
    signature_requests,
)

pytestmark = pytest.mark.anyio

SENT = signature_requests(project="proj_acme", status="sent")[1]
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]
CRAFTKIT_AUTH = {"Authorization": "Bearer ck_test_acme_0001"}
FIRMA_AUTH = {"Authorization": FIRMA_ACME_KEYS[0]}
JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = b'{"reason": "' + b"x" * 2_000_000 + b'"}'

MALFORMED = [
    pytest.param(b"{oops", JSON, id="invalid-json"),
    pytest.param(b'{"reason": "x"}', {"Content-Type": "text/plain"}, id="text-plain"),
    pytest.param(
        b'{"reason": "x"}', {"Content-Type": "application/x-www-form-urlencoded"}, id="form"
    ),
    pytest.param(b'{"reason": "x"}', {}, id="no-content-type"),
    pytest.param(b'{"reason": "\xff\xfe"}', JSON, id="non-utf8"),
    pytest.param(b"\xef\xbb\xbf{}", JSON, id="utf8-bom"),
    pytest.param(HUGE, JSON, id="huge-body"),
    pytest.param(DEEP, JSON, id="deeply-nested"),
    pytest.param(b'{"reason": NaN}', JSON, id="nan"),
    pytest.param(b'{"jwt_id": Infinity}', JSON, id="infinity"),
    pytest.param(b'{"n": 1e999}', JSON, id="beyond-a-double"),
    pytest.param(b'{"n": ' + b"1" * 4301 + b"}", JSON, id="4301-digits"),
    pytest.param(b'{"n": 1.' + b"1" * 4300 + b"}", JSON, id="4301-digits-decimal"),
    pytest.param(b'{"n": 1e' + b"0" * 4300 + b"1}", JSON, id="4302-digits-exponent"),
    pytest.param(b"\x00\x01\x02", JSON, id="binary"),
    pytest.param(b'{"reason": "x"', JSON, id="truncated"),
]


@pytest.mark.parametrize(("content", "headers"), MALFORMED)
async def test_craftkit_malformed_is_400_and_state_unchanged(
    mock: ContractClient, content: bytes, headers: dict[str, str]
) -> None:
    response = await mock.cancel(SENT["id"], content=content, headers={**CRAFTKIT_AUTH, **headers})
    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"]["code"] == "invalid_request"
    assert (await mock.cancel(SENT["id"])).status_code == 200, "malformed request changed state"


@pytest.mark.parametrize(("content", "headers"), MALFORMED)
async def test_firma_malformed_is_400_and_state_unchanged(
    mock: ContractClient, content: bytes, headers: dict[str, str]
) -> None:
    response = await mock.revoke(content=content, headers={**FIRMA_AUTH, **headers})
    assert response.status_code == 400, response.text[:200]
    assert response.json()["error"] == "Bad Request"
    assert (await mock.revoke({"jwt_id": ACTIVE["jwt_id"]})).status_code == 200


@pytest.mark.parametrize(
    "types", [["text/plain", "application/json"], ["application/json", "text/plain"],
              ["application/json", "application/json"]], ids=["plain-first", "json-first", "same"]
)  # fmt: skip
@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_two_content_types_are_400_whichever_comes_first_and_change_nothing(
    mock: ContractClient, api: str, types: list[str]
) -> None:
    """Which of two Content-Type headers holds is anyone's guess (a server or a proxy
    may read either): refused, as two Authorization headers are."""
    craftkit = api == "craftkit"
    auth = CRAFTKIT_AUTH if craftkit else FIRMA_AUTH
    headers = [*auth.items(), *(("Content-Type", kind) for kind in types)]
    if craftkit:
        url, body = f"/v1/signatures/{SENT['id']}/cancel", b"{}"
    else:
        url, body = (
            f"{FIRMA_BASES[0]}/jwt/revoke-signing-request",
            json.dumps({"jwt_id": ACTIVE["jwt_id"]}).encode(),
        )
    response = await mock.request("POST", url, content=body, headers=headers)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"] if craftkit else response.json()["message"]
    assert message == f"Send one Content-Type header (got 2: {', '.join(types)}).", message
    if craftkit:
        assert (await mock.cancel(SENT["id"])).status_code == 200, "the refusal changed state"
    else:
        assert (await mock.revoke({"jwt_id": ACTIVE["jwt_id"]})).status_code == 200


@pytest.mark.parametrize(
    "charset_type",
    ["application/json; charset=utf-8", "application/json;charset=UTF-8", "application/merge+json"],
)
async def test_json_media_type_parameters_are_accepted(
    mock: ContractClient, charset_type: str
) -> None:
    body = json.dumps({"jwt_id": ACTIVE["jwt_id"]}).encode()
    response = await mock.revoke(content=body, headers={"Content-Type": charset_type})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path_id",
    [
        pytest.param("%E2%9C%93", id="check-mark"),
        pytest.param("%F0%9F%98%80", id="emoji"),
        pytest.param("%00", id="nul"),
        pytest.param("%20", id="space"),
        pytest.param("..", id="dot-dot"),
        pytest.param("x" * 5000, id="very-long"),
    ],
)
async def test_odd_ids_are_400_or_404(mock: ContractClient, path_id: str) -> None:
    response = await mock.cancel(path_id)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"Authorization": "Bearer\tck_test_acme_0001"}, 401, id="tab-separator"),
        pytest.param({"Authorization": "  Bearer   ck_test_acme_0001  "}, 200, id="extra-spaces"),
        pytest.param({"Authorization": "Bearer ck_test_acme_0001 extra"}, 401, id="trailing-word"),
        pytest.param({"Authorization": "Bearer " + "k" * 10_000}, 401, id="huge-token"),
        pytest.param(
            {"Authorization": "Bearer ck_test_\xe9".encode("latin-1")}, 401, id="latin1-token"
        ),
    ],
)
async def test_authorization_header_oddities(
    mock: ContractClient, headers: dict[str, str], status: int
) -> None:
    response = await mock.cancel(SENT["id"], key=None, headers=headers)
    assert response.status_code == status, response.text


@pytest.mark.parametrize("limit", [0, 640])
def test_the_digit_limit_of_numbers_is_python_s_own_setting(limit: int) -> None:
    """``PYTHONINTMAXSTRDIGITS`` (or ``-X int_max_str_digits``) sets it; 0 is no limit, as
    for an integer (a decimal was then refused whatever its length: "more than 0")."""
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        assert parse_json(b'{"a": 1.5, "b": 2}') == {"a": 1.5, "b": 2}
        long = b"1." + b"1" * 700
        if limit:
            with pytest.raises(BadBody, match=f"more than {limit} digits"):
                parse_json(long)
        else:
            assert parse_json(long) == pytest.approx(10 / 9)
    finally:
        sys.set_int_max_str_digits(before)
