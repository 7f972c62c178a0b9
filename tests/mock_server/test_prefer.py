"""``Prefer: code=NNN`` / ``example=<name>``: a documented answer, forced, with no side effect.

Every forced answer is validated against the vendor spec by the ``mock``
client, as every answer is. The tests share one app and each runs in an
``X-Mock-Session`` of its own (fresh records, journal and Firma quota).
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from mock_server.contract import Contract
from mock_server.documented import documented_operations
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    SPECS,
    ContractClient,
    FrozenClock,
    jwts,
    signature_requests,
    spec_responses,
)

pytestmark = pytest.mark.anyio

SENT = next(r for r in signature_requests(project="proj_acme", status="sent") if "mock" not in r)
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]
ACTIVE_BODY = {"jwt_id": ACTIVE["jwt_id"]}
CRAFTKIT_STATUSES = (200, 400, 401, 404, 409, 502)
FIRMA_STATUSES = (200, 400, 401, 404, 429)
REVOKE = "POST /jwt/revoke-signing-request"


CRAFTKIT = spec_responses("craftkit")
FIRMA = spec_responses("firma")
ALREADY_REVOKED = FIRMA[400]["examples"]["alreadyRevoked"]["value"]
INVALID_JWT = FIRMA[400]["examples"]["invalidJwt"]["value"]


def example_of(media: dict[str, Any]) -> Any:
    if "example" in media:
        return media["example"]
    return next(iter(media["examples"].values()))["value"]


async def call(mock: ContractClient, api: str, prefer: str, base: str = FIRMA_BASES[0]) -> Any:
    """A call that would succeed and change state if ``Prefer`` did not force its answer."""
    # Latin-1, as a header's raw bytes reach the app ("code=\xb2" is a superscript two).
    headers = {"Prefer": prefer.encode("latin-1")}
    if api == "craftkit":
        return await mock.cancel(SENT["id"], headers=headers)
    return await mock.revoke({"jwt_id": ACTIVE["jwt_id"]}, base=base, headers=headers)


async def journal(mock: ContractClient) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await mock.http.get("/__mock/requests")).json()["requests"]
    return entries


@pytest.mark.parametrize(
    ("api", "status", "base"),
    [
        *[pytest.param("craftkit", s, "", id=f"craftkit-{s}") for s in CRAFTKIT_STATUSES],
        *[
            pytest.param("firma", s, base, id=f"firma-{s}-{base}")
            for base in FIRMA_BASES
            for s in FIRMA_STATUSES
        ],
    ],
)
async def test_every_documented_status_can_be_forced_without_side_effects(
    mock: ContractClient, api: str, status: int, base: str
) -> None:
    assert sorted(CRAFTKIT if api == "craftkit" else FIRMA) == sorted(
        CRAFTKIT_STATUSES if api == "craftkit" else FIRMA_STATUSES
    ), "the spec documents other statuses than this table covers"
    before = await mock.state()

    response = await call(mock, api, f"code={status}", base or FIRMA_BASES[0])

    assert response.status_code == status, response.text
    media = (CRAFTKIT if api == "craftkit" else FIRMA)[status]
    if status != 200 and ("example" in media or "examples" in media):  # 200: tests below
        expected = example_of(media)
        if status == 429:  # the example's retry_after is Retry-After (tests below)
            retry_after = int(response.headers["retry-after"])
            expected = {**expected, "details": {"retry_after": retry_after}}
        assert response.json() == expected
    assert await mock.state() == before, "a forced answer must not change any record"
    [entry] = await journal(mock)
    assert (entry["simulated"], entry["response"]["status"]) == ("prefer", status)
    assert entry["operation"] == ("cancelSignature" if api == "craftkit" else REVOKE)
    if api == "firma":
        remaining = "0" if status == 429 else "120"  # a 429 is the key's past its quota
        assert response.headers["x-ratelimit-remaining"] == remaining
        assert ("retry-after" in response.headers) == (status == 429)
        if status == 429:
            assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("prefer", "body"),
    [
        pytest.param("code=400", ALREADY_REVOKED, id="code-alone-takes-the-first"),
        pytest.param("code=400, example=alreadyRevoked", ALREADY_REVOKED, id="already-revoked"),
        pytest.param("code=400, example=invalidJwt", INVALID_JWT, id="invalid-jwt"),
        pytest.param("example=invalidJwt", INVALID_JWT, id="example-alone-finds-its-response"),
        pytest.param('example="invalidJwt"', INVALID_JWT, id="quoted"),
        pytest.param("code=400; example=invalidJwt", INVALID_JWT, id="semicolon"),
        pytest.param("Code=400, Example=invalidJwt", INVALID_JWT, id="names-any-case"),
    ],
)
async def test_named_examples_pick_their_body(
    mock: ContractClient, prefer: str, body: dict[str, Any]
) -> None:
    assert ALREADY_REVOKED != INVALID_JWT
    response = await call(mock, "firma", prefer)
    assert response.status_code == 400
    assert response.json() == body
    assert (await call(mock, "firma", "dynamic=false")).status_code == 200, "state changed"


@pytest.mark.parametrize(
    ("api", "prefer"),
    [
        pytest.param("craftkit", "code=418", id="craftkit-undocumented-code"),
        pytest.param("craftkit", "code=500", id="craftkit-undocumented-500"),
        pytest.param("craftkit", "code=abc", id="craftkit-code-not-a-number"),
        pytest.param("craftkit", "code=\xb2", id="craftkit-code-superscript-digit"),
        pytest.param("firma", "code=4\xb9\xb9", id="firma-code-superscript-digits"),
        pytest.param("firma", "code=0409", id="firma-code-four-digits"),
        pytest.param("craftkit", "example=nope", id="craftkit-unknown-example"),
        pytest.param(
            "craftkit", "code=409, example=alreadyRevoked", id="craftkit-other-apis-example"
        ),
        pytest.param("firma", "code=409", id="firma-undocumented-code"),
        pytest.param("firma", "code=", id="firma-code-empty"),
        pytest.param("firma", "example=nope", id="firma-unknown-example"),
        pytest.param("firma", "code=401, example=invalidJwt", id="firma-example-of-another-code"),
    ],
)
async def test_undocumented_preference_is_400_in_the_vendor_envelope(
    mock: ContractClient, api: str, prefer: str
) -> None:
    before = await mock.state()

    response = await call(mock, api, prefer)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    if api == "craftkit":
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert "Prefer" in error["message"]
    else:
        assert response.json()["error"] == "Bad Request"
        assert "Prefer" in response.json()["message"]
        assert response.headers["x-ratelimit-remaining"] == "120"
    assert await mock.state() == before
    [entry] = await journal(mock)
    assert entry["simulated"] is None


@pytest.mark.parametrize(
    "prefer",
    [
        pytest.param("return=minimal", id="return-minimal"),
        pytest.param("respond-async, wait=5", id="other-preferences"),
        pytest.param("code=409, return=minimal", id="honoured-and-not"),
        pytest.param("example=", id="empty-example"),
        pytest.param("dynamic=maybe", id="dynamic-not-boolean"),
        pytest.param("dynamic=true, example=invalidJwt", id="dynamic-and-example"),
    ],
)
@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_a_preference_the_mock_cannot_honour_is_400_naming_what_it_can(
    mock: ContractClient, api: str, prefer: str
) -> None:
    before = await mock.state()
    response = await call(mock, api, prefer)
    assert response.status_code == 400, response.text
    body = response.json()
    message = body["error"]["message"] if api == "craftkit" else body["message"]
    assert message.startswith("Prefer: ")
    assert "code=" in message or "dynamic" in message or "example" in message
    assert await mock.state() == before


@pytest.mark.parametrize(
    ("prefer", "said"),
    [
        pytest.param('example="a, b", code=400', "'a, b'", id="comma-in-a-quoted-string"),
        pytest.param('example="a; b"', "'a; b'", id="semicolon-in-a-quoted-string"),
        pytest.param('example="invalidJwt', "a quoted string is not closed", id="unclosed"),
        pytest.param('example=invalid"Jwt"', "a whole quoted string", id="stray-quote"),
    ],
)
async def test_a_quoted_value_is_read_whole_and_a_broken_one_refused(
    mock: ContractClient, prefer: str, said: str
) -> None:
    """RFC 7240: a value is a token or a quoted string, which may hold ``,`` and ``;``.
    Split at them, ``example="a, b"`` was refused as ``cannot honour 'b"'``; an unclosed
    quote was taken."""
    before = await mock.state()
    response = await call(mock, "firma", prefer)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("Prefer: ") and said in message, message
    assert "cannot honour" not in message, message
    assert await mock.state() == before


async def test_an_escaped_quote_in_a_quoted_example_name_is_read_as_one(
    mock: ContractClient,
) -> None:
    response = await call(mock, "firma", 'code=400, example="invalid\\Jwt"')
    assert response.status_code == 400 and response.json() == INVALID_JWT, response.text


async def call_with_fields(mock: ContractClient, api: str, fields: list[str]) -> Any:
    """:func:`call` with one ``Prefer`` field line per item of ``fields``, as sent."""
    prefer = [("Prefer", field.encode("latin-1")) for field in fields]
    if api == "craftkit":
        headers = [*prefer, ("Authorization", f"Bearer {ACME_TEST_KEY}")]
        return await mock.request("POST", f"/v1/signatures/{SENT['id']}/cancel", headers=headers)
    headers = [*prefer, ("Authorization", FIRMA_ACME_KEYS[0])]
    path = f"{FIRMA_BASES[0]}/jwt/revoke-signing-request"
    return await mock.request("POST", path, headers=headers, json={"jwt_id": ACTIVE["jwt_id"]})


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(["dynamic=false", "return=minimal"], id="forces-nothing-then-unknown"),
        pytest.param(["", "return=minimal"], id="empty-then-unknown"),
        pytest.param(["code=404", "wait=5"], id="code-then-unknown"),
        pytest.param(["return=minimal", "code=409"], id="unknown-then-code"),
        pytest.param(["code=200", "code=abc"], id="code-then-not-a-number"),
        pytest.param(["dynamic=true", "example=invalidJwt"], id="dynamic-then-example"),
        pytest.param(["code=409", "code=404"], id="code-twice"),
    ],
)
@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_every_prefer_field_line_counts_as_one_list(
    mock: ContractClient, api: str, fields: list[str]
) -> None:
    """RFC 9110 5.3: several ``Prefer`` lines are their comma-joined list, so a preference
    on a second line is refused as on the first, never ignored."""
    before = await mock.state()
    response = await call_with_fields(mock, api, fields)
    assert response.status_code == 400, response.text
    body = response.json()
    message = body["error"]["message"] if api == "craftkit" else body["message"]
    assert message.startswith("Prefer: "), message
    assert await mock.state() == before, "the real answer happened"
    [entry] = await journal(mock)
    assert entry["simulated"] is None


@pytest.mark.parametrize(
    ("prefer", "query", "message"),
    [
        pytest.param(
            "code=409, code=404", "", "code= is asked for twice, 409 and 404", id="header"
        ),
        pytest.param(
            None, "__code=409&__code=404", "?__code= is asked for twice, 409 and 404", id="query"
        ),
        pytest.param(
            'example="a", example=b', "", "example= is asked for twice, a and b", id="example"
        ),
    ],
)
async def test_a_preference_asked_for_twice_with_two_values_is_400(
    mock: ContractClient, prefer: str | None, query: str, message: str
) -> None:
    """Which one the client meant is anyone's guess (RFC 7240 takes the first, a client
    that set it twice meant the last): refused, naming both, never a guess."""
    before = await mock.state()
    headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
    if prefer is not None:
        headers["Prefer"] = prefer
    path = f"/v1/signatures/{SENT['id']}/cancel" + (f"?{query}" if query else "")
    response = await mock.request("POST", path, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == f"Prefer: {message}; ask for one"
    assert await mock.state() == before


@pytest.mark.parametrize("prefer", ["code=409, code=409", "code=409, dynamic=TRUE, dynamic=true"])
async def test_a_preference_asked_for_twice_alike_is_one(mock: ContractClient, prefer: str) -> None:
    response = await call(mock, "craftkit", prefer)
    assert response.status_code == 409, response.text
    [entry] = await journal(mock)
    assert entry["simulated"] == "prefer"


@pytest.mark.parametrize(
    ("api", "fields", "status"),
    [
        pytest.param("craftkit", ["dynamic=false", "code=409"], 409, id="craftkit-second-line"),
        pytest.param("craftkit", ["", "code=404"], 404, id="craftkit-after-an-empty-line"),
        pytest.param("firma", ["code=400", "example=invalidJwt"], 400, id="firma-split"),
    ],
)
async def test_a_preference_on_a_later_prefer_line_forces_its_answer(
    mock: ContractClient, api: str, fields: list[str], status: int
) -> None:
    before = await mock.state()
    response = await call_with_fields(mock, api, fields)
    assert response.status_code == status, response.text
    if api == "firma":
        assert response.json() == INVALID_JWT
    assert await mock.state() == before
    [entry] = await journal(mock)
    assert entry["simulated"] == "prefer"
    assert entry["reason"]["prefer"] == ", ".join(fields)


@pytest.mark.parametrize("prefer", ["dynamic=false", "", " , "])
@pytest.mark.parametrize("api", ["craftkit", "firma"])
async def test_preferences_that_force_nothing_are_answered_for_real(
    mock: ContractClient, api: str, prefer: str
) -> None:
    response = await call(mock, api, prefer)
    assert response.status_code == 200, response.text
    assert (await call(mock, api, prefer)).status_code in (400, 409), "the first call changed state"
    assert [e["simulated"] for e in await journal(mock)] == [None, None]


@pytest.mark.parametrize(
    ("api", "query", "status", "body"),
    [
        pytest.param("craftkit", "__code=409", 409, CRAFTKIT[409]["example"], id="craftkit-code"),
        pytest.param("firma", "__code=400&__example=invalidJwt", 400, INVALID_JWT, id="firma"),
        pytest.param("firma", "__example=invalidJwt", 400, INVALID_JWT, id="example-alone"),
    ],
)
async def test_prisms_query_forms_force_a_documented_answer(
    mock: ContractClient, api: str, query: str, status: int, body: Any
) -> None:
    before = await mock.state()
    params = dict(parse_qsl(query, keep_blank_values=True))
    if api == "craftkit":
        response = await mock.cancel(SENT["id"], params=params)
    else:
        response = await mock.revoke({"jwt_id": ACTIVE["jwt_id"]}, params=params)
    assert (response.status_code, response.json()) == (status, body)
    assert await mock.state() == before, "a forced answer must not change any record"
    [entry] = await journal(mock)
    assert entry["simulated"] == "prefer"


@pytest.mark.parametrize(
    ("api", "query", "status"),
    [
        pytest.param("craftkit", "%5F%5Fcode=409", 409, id="craftkit-both-underscores"),
        pytest.param("craftkit", "_%5fcode=404", 404, id="craftkit-one-lower-case"),
        pytest.param("craftkit", "%5F%5Fnope=1", 400, id="craftkit-refused"),
        pytest.param("firma", "%5F%5Fexample=invalidJwt", 400, id="firma-example"),
        pytest.param("firma", "a=1&%5F_code=404", 404, id="firma-second-parameter"),
    ],
)
async def test_prisms_query_forms_percent_encoded_are_the_same_query(
    mock: ContractClient, api: str, query: str, status: int
) -> None:
    """``%5F`` is ``_``: the decoded query is what asks, as Prism reads it."""
    before = await mock.state()
    if api == "craftkit":
        path = f"/v1/signatures/{SENT['id']}/cancel?{query}"
        headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
        response = await mock.request("POST", path, headers=headers)
    else:
        path = f"{FIRMA_BASES[0]}/jwt/revoke-signing-request?{query}"
        headers = {"Authorization": FIRMA_ACME_KEYS[0]}
        response = await mock.request("POST", path, headers=headers, json=ACTIVE_BODY)
    assert response.request.url.query.decode() == query, "the client re-encoded the query"
    assert response.status_code == status, response.text
    assert await mock.state() == before, "the real answer happened"
    [entry] = await journal(mock)
    assert entry["reason"]["cause"] == "prefer"


@pytest.mark.parametrize("query", ["a=%41", "a=_%5F", "%5Fa=1"])
async def test_a_percent_encoded_query_that_asks_nothing_is_answered_for_real(
    mock: ContractClient, query: str
) -> None:
    path = f"/v1/signatures/{SENT['id']}/cancel?{query}"
    headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
    response = await mock.request("POST", path, headers=headers)
    assert response.status_code == 200, response.text
    assert (await mock.cancel(SENT["id"])).status_code == 409, "the call changed no state"


async def test_the_query_wins_over_the_header(mock: ContractClient) -> None:
    response = await mock.cancel(
        SENT["id"], params={"__code": "404"}, headers={"Prefer": "code=409"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["__code=999", "__nope=1", "__example=", "__dynamic=yes"])
async def test_a_query_form_the_mock_cannot_honour_is_400(mock: ContractClient, query: str) -> None:
    response = await mock.cancel(SENT["id"], params=dict(parse_qsl(query, keep_blank_values=True)))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("Prefer: ")
    assert (await mock.cancel(SENT["id"])).status_code == 200, "the refused call changed state"


@pytest.mark.parametrize(
    ("api", "prefer", "status"),
    [
        pytest.param("craftkit", "dynamic=true", 200, id="craftkit-first-documented"),
        pytest.param("craftkit", "code=409, dynamic=true", 409, id="craftkit-409"),
        pytest.param("firma", "dynamic=true", 200, id="firma-200"),
        pytest.param("firma", "code=429, dynamic=true", 429, id="firma-429"),
    ],
)
async def test_dynamic_bodies_are_drawn_from_the_schema(
    mock: ContractClient, api: str, prefer: str, status: int
) -> None:
    """Each answer is validated against the spec by the ``mock`` client (openapi-core);
    twenty draws differ from each other, unlike a sample."""
    before = await mock.state()
    bodies = []
    for _ in range(20):
        response = await call(mock, api, prefer)
        assert response.status_code == status, response.text
        bodies.append(response.text)
    assert len(set(bodies)) > 1, "dynamic=true answered the same body every time"
    assert await mock.state() == before


CONTRACTS = [Contract.load(name, path) for name, path in SPECS.items()]


@pytest.mark.parametrize("seed", range(100))
def test_generated_bodies_validate_against_the_contract(seed: int) -> None:
    """The contract's own validators (3.1 for Craftkit, 3.0 for Firma), over every
    documented response of both specs."""
    for contract in CONTRACTS:
        for operation in documented_operations(contract).values():
            for status, response in operation.responses.items():
                body = response.generate(random.Random(seed))
                pointer = _schema_pointer(contract, operation.path, operation.method, status)
                errors = [e.message for e in contract.validator(pointer).iter_errors(body)]
                assert not errors, (contract.name, status, body, errors)


def _schema_pointer(contract: Any, path: str, method: str, status: int) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method.lower()}/responses/{status}"
    response = contract.schema(pointer)
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
    return f"{pointer}/content/application~1json/schema"


async def test_forced_firma_answers_leave_the_quota_alone(mock: ContractClient) -> None:
    remaining = []
    for prefer in ("", "code=200", "code=429", "example=invalidJwt", ""):
        headers = {"Prefer": prefer} if prefer else {}
        response: httpx.Response = await mock.revoke({"jwt_id": ACTIVE["jwt_id"]}, headers=headers)
        remaining.append(response.headers["x-ratelimit-remaining"])
    assert remaining == ["119", "119", "0", "119", "118"], "a forced answer is no write"


CANCELLED_ALREADY = signature_requests(project="proj_acme", status="completed")[0]
UNKNOWN_ID = "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c"


@pytest.mark.parametrize("how", ["prefer", "query", "fault"])
async def test_a_forced_429_is_the_keys_own_429_past_its_quota(
    mock: ContractClient, clock: FrozenClock, how: str
) -> None:
    """Body and headers agree, as a real 429's do: nothing left, ``Retry-After`` the
    seconds until the key's window restarts (``X-RateLimit-Reset``) and
    ``details.retry_after`` the same number; the quota itself is untouched."""
    opened = await mock.revoke({"jwt_id": UNKNOWN_ID})  # opens the key's window
    assert opened.headers["x-ratelimit-remaining"] == "119"
    clock.now += 20
    if how == "fault":
        fault = {"api": "firma", "operation": REVOKE, "status": 429, "times": 1}
        assert (await mock.http.post("/__mock/faults", json=fault)).status_code == 201
    kwargs: dict[str, Any] = {
        "prefer": {"headers": {"Prefer": "code=429"}},
        "query": {"params": {"__code": "429"}},
        "fault": {},
    }[how]

    response = await mock.revoke(ACTIVE_BODY, **kwargs)

    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after == 40, "the seconds left in the key's window"
    assert response.json()["details"] == {"retry_after": retry_after}
    assert response.headers["x-ratelimit-reset"] == opened.headers["x-ratelimit-reset"]
    assert int(response.headers["x-ratelimit-reset"]) - clock.now == retry_after
    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == (
        "120",
        "0",
    )
    after = await mock.revoke(ACTIVE_BODY)
    assert after.status_code == 200, "a forced 429 changed state"
    assert after.headers["x-ratelimit-remaining"] == "118", "a forced 429 counted a write"
    assert "retry-after" not in after.headers


async def test_a_forced_429_for_a_key_without_a_window_asks_for_the_whole_minute(
    mock: ContractClient, clock: FrozenClock
) -> None:
    response = await mock.revoke(ACTIVE_BODY, key=None, headers={"Prefer": "code=429"})
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "60"
    assert response.json()["details"] == {"retry_after": 60}
    assert int(response.headers["x-ratelimit-reset"]) == clock.now + 60
    assert response.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize(
    "record",
    [pytest.param(SENT, id="in-flight"), pytest.param(CANCELLED_ALREADY, id="terminal")],
)
async def test_forced_cancel_200_is_the_addressed_record_cancelled(
    mock: ContractClient, record: dict[str, Any]
) -> None:
    before = await mock.state()
    stored = next(r for r in await mock.signature_requests() if r["id"] == record["id"])

    response = await mock.cancel(record["id"].upper(), headers={"Prefer": "code=200"})

    assert response.status_code == 200, response.text
    expected = {k: v for k, v in stored.items() if k not in ("project", "mock")}
    assert response.json() == {**expected, "status": "cancelled"}
    assert await mock.state() == before, "a forced answer must not change any record"


async def test_forced_cancel_200_of_an_unknown_id_is_the_sample_under_that_id(
    mock: ContractClient,
) -> None:
    response = await mock.cancel(UNKNOWN_ID, headers={"Prefer": "code=200"})
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["status"]) == (UNKNOWN_ID, "cancelled")
    not_a_uuid = await mock.cancel("not-a-uuid", headers={"Prefer": "code=200"})
    assert not_a_uuid.json()["status"] == "cancelled"


async def test_a_fault_forcing_200_answers_the_same_coherent_record(
    mock: ContractClient,
) -> None:
    fault = {"api": "craftkit", "operation": "cancelSignature", "status": 200, "times": 1}
    assert (await mock.http.post("/__mock/faults", json=fault)).status_code == 201
    response = await mock.cancel(CANCELLED_ALREADY["id"])
    assert (response.json()["id"], response.json()["status"]) == (
        CANCELLED_ALREADY["id"],
        "cancelled",
    )


@pytest.mark.parametrize(
    ("jwt_id", "named"),
    [
        pytest.param(ACTIVE["jwt_id"].upper(), ACTIVE["jwt_id"], id="held"),
        pytest.param(UNKNOWN_ID, UNKNOWN_ID, id="unknown"),
        pytest.param("nope", FIRMA[200]["example"]["jwt_id"], id="not-a-uuid"),
    ],
)
async def test_forced_revoke_200_names_the_addressed_jwt_revoked(
    mock: ContractClient, jwt_id: str, named: str
) -> None:
    before = await mock.state()
    response = await mock.revoke({"jwt_id": jwt_id}, headers={"Prefer": "code=200"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["jwt_id"], body["revoked"]) == (named, True)
    assert (
        body["revoked_at"].startswith("20")
        and body["revoked_at"] != FIRMA[200]["example"]["revoked_at"]
    )
    assert await mock.state() == before
