"""Malformed input to the control plane (issue #13): a 4xx in its problem+json style, never a 500.

Each control-plane POST that takes a body reads it with the vendor routes' own
parser: bytes that are not UTF-8, nesting too deep, a number of more than 4,300
digits, ``NaN`` or a lone surrogate are 400s naming what is wrong, and change
nothing. A media type is matched in any case, with any parameters; another type is
a 415. Whatever a client sent to a vendor route, the journal lists it as strict JSON.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server._http import NESTING_LIMIT
from mock_server.control import DOCUMENT
from mock_server.control.bodies import json_answer
from tests.conftest import (
    FIRMA_ACME_KEYS,
    ROOT,
    ContractClient,
    jwts,
    problem,
    signature_requests,
)

pytestmark = pytest.mark.anyio

SENT = next(r for r in signature_requests(project="proj_acme", status="sent") if "mock" not in r)

# Each control-plane POST with a body: its path, a body it takes, and what its 2xx says.
POSTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "create": ("/__mock/craftkit/signature-requests", {"name": "NDA"}, {"name": "NDA"}),
    "event": (
        f"/__mock/craftkit/signature-requests/{SENT['id']}/events",
        {"event": "viewed"},
        {"status": "viewed"},
    ),
    "jwt": ("/__mock/firma/jwts", {"workspace": "ws_acme"}, {"workspace": "ws_acme"}),
    "fault": (
        "/__mock/faults",
        {"api": "craftkit", "operation": "cancelSignature", "status": 502, "times": 1},
        {"status": 502, "remaining": 1},
    ),
}


def nested(levels: int) -> bytes:
    return b'{"name": ' + b"[" * levels + b"]" * levels + b"}"


MALFORMED = [
    pytest.param(b'{"name": "\xff\xfe"}', "not valid UTF-8", id="non-utf8"),
    pytest.param(b"\xef\xbb\xbf{}", "not valid JSON", id="utf8-bom"),
    pytest.param(b"{oops", "not valid JSON", id="invalid-json"),
    pytest.param(b'{"name": "x"', "not valid JSON", id="truncated"),
    pytest.param(nested(100_000), "nested", id="nested-100000"),
    pytest.param(nested(NESTING_LIMIT), f"deeper than {NESTING_LIMIT}", id="nested-past-limit"),
    pytest.param(b'{"name": ' + b"1" * 4301 + b"}", "4300 digits", id="4301-digits"),
    pytest.param(b'{"name": -' + b"9" * 5000 + b"}", "4300 digits", id="5000-digits-negative"),
    pytest.param(b'{"name": 0.' + b"9" * 5000 + b"}", "4300 digits", id="5000-digits-decimal"),
    pytest.param(b'{"name": NaN}', "NaN", id="nan"),
    pytest.param(b'{"name": -Infinity}', "-Infinity", id="infinity"),
    pytest.param(b'{"name": 1e999}', "1e999", id="beyond-a-double"),
    pytest.param(b'{"name": "\\ud800"}', "body.name: \\ud800", id="lone-surrogate"),
    pytest.param(b'{"name": "a\\udfffb"}', "\\udfff", id="lone-low-surrogate"),
    pytest.param(b'{"recipients": [{"email": "\\udc00"}]}', "recipients[0].email", id="nested-sur"),
    pytest.param(b'{"\\ud83d": 1}', "body: in a key, \\ud83d", id="surrogate-in-a-key"),
]


async def snapshot(mock: ContractClient) -> tuple[dict[str, Any], Any]:
    """Everything a control-plane POST can change: the records and the faults."""
    faults = await mock.http.get("/__mock/faults")
    assert faults.status_code == 200, faults.text
    return await mock.state(), faults.json()


@pytest.mark.parametrize("operation", POSTS)
@pytest.mark.parametrize(("content", "named"), MALFORMED)
async def test_a_malformed_body_is_a_400_naming_it_and_changes_nothing(
    mock: ContractClient, operation: str, content: bytes, named: str
) -> None:
    """Found by the #13 audit: all but invalid syntax were 500s."""
    path, _, _ = POSTS[operation]
    before = await snapshot(mock)
    response = await mock.http.post(
        path, content=content, headers={"Content-Type": "application/json"}
    )
    assert named in problem(response, 400)["detail"]
    assert await snapshot(mock) == before


@pytest.mark.parametrize("doc", [DOCUMENT, ROOT / "README.md"], ids=lambda path: path.name)
def test_the_docs_state_the_limits(doc: Path) -> None:
    text = " ".join(doc.read_text().split())
    assert f"deeper than {NESTING_LIMIT} levels" in text
    assert f"more than {sys.get_int_max_str_digits()} digits" in text


async def test_nesting_up_to_the_limit_is_read(mock: ContractClient) -> None:
    """The limit refuses only what is past it: the body reaches the operation's own checks."""
    path, _, _ = POSTS["create"]
    response = await mock.http.post(
        path, content=nested(NESTING_LIMIT - 1), headers={"Content-Type": "application/json"}
    )
    assert "not of type 'string'" in problem(response, 400)["detail"]


async def test_surrogate_pairs_are_text(mock: ContractClient) -> None:
    """Only a half pair is refused: ``\\ud83d\\ude00`` is one emoji."""
    path, _, _ = POSTS["create"]
    content = b'{"name": "NDA \\ud83d\\ude00"}'
    response = await mock.http.post(
        path, content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "NDA \U0001f600"
    assert "NDA \U0001f600".encode() in response.content, "UTF-8, not escaped"


@pytest.mark.parametrize("operation", POSTS)
@pytest.mark.parametrize(
    "content_type",
    [
        "Application/Json",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        "Application/JSON;Charset=UTF-8",
        'application/json ; charset="utf-8"',
        None,
    ],
)
async def test_json_is_json_in_any_case_and_with_parameters(
    mock: ContractClient, operation: str, content_type: str | None
) -> None:
    """Found by the #13 audit: ``Application/Json`` reached the operation as bytes (500)."""
    path, body, answer = POSTS[operation]
    headers = {"Content-Type": content_type} if content_type else {}
    response = await mock.http.post(path, content=json.dumps(body).encode(), headers=headers)
    assert response.status_code in (200, 201), response.text
    assert answer.items() <= response.json().items()


@pytest.mark.parametrize("operation", POSTS)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonp",
        "application/merge-patch+json",
        "json",
    ],
)
async def test_another_media_type_is_a_415_and_changes_nothing(
    mock: ContractClient, operation: str, content_type: str
) -> None:
    path, body, _ = POSTS[operation]
    before = await snapshot(mock)
    response = await mock.http.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": content_type}
    )
    assert "application/json" in problem(response, 415)["detail"]
    assert await snapshot(mock) == before


@pytest.mark.parametrize("operation", POSTS)
@pytest.mark.parametrize(
    "types", [["text/plain", "application/json"], ["application/json", "text/plain"]],
    ids=["plain-first", "json-first"],
)  # fmt: skip
async def test_two_content_types_are_a_400_and_change_nothing(
    mock: ContractClient, operation: str, types: list[str]
) -> None:
    path, body, _ = POSTS[operation]
    before = await snapshot(mock)
    headers = [("Content-Type", kind) for kind in types]
    response = await mock.http.post(path, content=json.dumps(body).encode(), headers=headers)
    detail = problem(response, 400)["detail"]
    assert detail == f"send one Content-Type header (got 2: {', '.join(types)})", detail
    assert await snapshot(mock) == before


# --- what the journal lists ------------------------------------------------------------------

JOURNALLED = [
    pytest.param(b'{"jwt_id": "\\ud800"}', {"jwt_id": "\ud800"}, id="lone-surrogate"),
    pytest.param(b'{"jwt_id": "\\udfff\\ud800"}', {"jwt_id": "\udfff\ud800"}, id="reversed-pair"),
    pytest.param(b'{"jwt_id": NaN}', None, id="nan"),
    pytest.param(b'{"jwt_id": Infinity}', None, id="infinity"),
    pytest.param(b'{"jwt_id": 1e999}', None, id="beyond-a-double"),
    pytest.param(b'{"jwt_id": ' + b"1" * 5000 + b"}", None, id="5000-digits"),
    pytest.param(b"[" * 5000 + b"]" * 5000, None, id="nested-5000"),
    pytest.param(nested(NESTING_LIMIT), None, id="nested-past-limit"),
    pytest.param(b'{"jwt_id": "\xff"}', None, id="non-utf8"),
]


def strict(content: bytes) -> Any:
    """``content`` read as ``JSON.parse`` would: UTF-8, no ``NaN``/``Infinity``."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in an answer: not JSON")

    return json.loads(content.decode("utf-8"), parse_constant=refuse)


@pytest.mark.parametrize(("content", "parsed"), JOURNALLED)
async def test_the_journal_lists_what_the_client_sent_as_strict_json(
    mock: ContractClient, caplog: pytest.LogCaptureFixture, content: bytes, parsed: Any
) -> None:
    """Found by the #13 audit: a lone surrogate made the journal a 500 (logging the whole
    journal in the exception's repr), ``NaN`` and ``1e999`` made it emit invalid JSON."""
    headers = {"Authorization": FIRMA_ACME_KEYS[0], "Content-Type": "application/json"}
    assert (await mock.revoke(content=content, headers=headers)).status_code == 400
    with caplog.at_level(logging.INFO):
        response = await mock.http.get("/__mock/requests")
    assert response.status_code == 200, response.text[:300]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    [entry] = strict(response.content)["requests"]
    assert entry["request"]["body"] == content.decode("utf-8", errors="replace")
    if parsed is None:
        assert "json" not in entry["request"], "only a body that is strict JSON is shown parsed"
    else:
        assert entry["request"]["json"] == parsed
        assert b"\\ud800" in response.content or b"\\udfff" in response.content


def test_an_answer_is_strict_json_whatever_it_holds() -> None:
    """The last line of defence: a lone surrogate escaped, a non-finite number a string."""
    body = {"name": "Zo\u00eb \ud800", "n": [float("nan"), float("inf"), -float("inf"), 1.5]}
    content = bytes(json_answer(body).body)
    assert strict(content) == {
        "name": "Zo\u00eb \ud800",
        "n": ["NaN", "Infinity", "-Infinity", 1.5],
    }
    plain = bytes(json_answer({"name": "Zo\u00eb"}).body)
    assert plain == '{"name":"Zo\u00eb"}'.encode(), "readable UTF-8 when it can be"


# --- anything at all ---------------------------------------------------------------------------

NASTY = [
    b"NaN",
    b"-Infinity",
    b"1e999",
    b"1" * 4400,
    b'"\\ud800"',
    b'"\\udc00x"',
    b"[" * 3000 + b"]" * 3000,
    b"[" * (NESTING_LIMIT + 1) + b"]" * (NESTING_LIMIT + 1),
    b'"\xff"',
    b"null",
    b'"sent"',
]
FIELDS = ["name", "event", "status", "message", "workspace", "api", "operation", "recipients"]


def _json_text(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN, Infinity and lone surrogates (escaped) included


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=()), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
known_shapes = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["viewed", "signed", "declined", "expired", "failed", "x"]),
        "api": st.sampled_from(["craftkit", "firma", "CRAFTKIT"]),
        "operation": st.sampled_from(["cancelSignature", "POST /jwt/revoke-signing-request"]),
        "status": st.sampled_from([200, 400, 409, 502, 999, -1]),
        "workspace": st.sampled_from(["ws_acme", "ws_nope"]),
        "name": st.text(max_size=5),
        "times": st.integers(min_value=-1, max_value=3),
    },
)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(_json_text),
    known_shapes.map(_json_text),
    st.tuples(st.sampled_from(FIELDS), st.sampled_from(NASTY)).map(
        lambda pair: b'{"' + pair[0].encode() + b'": ' + pair[1] + b"}"
    ),
)
content_types = st.sampled_from(
    [None, "application/json", "Application/JSON; charset=UTF-8", "text/plain", "application/x"]
)
ACTIONS = [
    f"/__mock/craftkit/signature-requests/{r['id']}/cancel"
    for r in signature_requests(project="proj_acme")
    if r["status"] in ("sent", "completed") or "mock" in r
] + [f"/__mock/firma/jwts/{j['jwt_id']}/revoke" for j in jwts(workspace="ws_acme")]
"""The control plane's POSTs without a body: a cancel or revoke of each kind of record."""
paths = st.sampled_from([path for path, _, _ in POSTS.values()] + ["/__mock/reset", *ACTIONS])


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=paths, content=bodies, content_type=content_types)
async def test_any_body_to_any_post_is_never_a_5xx_and_a_4xx_changes_nothing(
    mock: ContractClient, path: str, content: bytes, content_type: str | None
) -> None:
    # A session per example: each starts from the fixtures.
    mock.http.headers["X-Mock-Session"] = f"fuzz-{uuid.uuid4().hex}"
    headers = {"Content-Type": content_type} if content_type else {}
    before = await snapshot(mock)
    response = await mock.http.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        problem(response, response.status_code)
        assert await snapshot(mock) == before
    if response.content:
        strict(response.content)  # every answer with a body is strict JSON


# Ids for the operations that name a record or a fault in their path: the fixtures', and
# anything else a path segment can hold.
KNOWN_IDS = [r["id"] for r in signature_requests()] + [j["jwt_id"] for j in jwts()]
ids = st.one_of(
    st.sampled_from(KNOWN_IDS),
    st.sampled_from(KNOWN_IDS).map(str.upper),
    st.integers(min_value=-2, max_value=2**64).map(str),
    st.text(min_size=1),
)
BY_ID = [
    ("GET", "/__mock/craftkit/signature-requests/{}"),
    ("GET", "/__mock/firma/jwts/{}"),
    ("POST", "/__mock/craftkit/signature-requests/{}/cancel"),
    ("POST", "/__mock/firma/jwts/{}/revoke"),
    ("DELETE", "/__mock/faults/{}"),
]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operation=st.sampled_from(BY_ID), id=ids)
async def test_any_id_to_any_operation_by_id_is_never_a_5xx_and_a_4xx_changes_nothing(
    mock: ContractClient, operation: tuple[str, str], id: str
) -> None:
    mock.http.headers["X-Mock-Session"] = f"fuzz-{uuid.uuid4().hex}"
    added = await mock.http.post(
        "/__mock/faults", json={"api": "craftkit", "operation": "cancelSignature", "status": 401}
    )
    assert added.status_code == 201, added.text
    method, template = operation
    before = await snapshot(mock)
    response = await mock.http.request(method, template.format(quote(id, safe="")))
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400 or method == "GET":
        if response.status_code >= 400:
            problem(response, response.status_code)
        assert await snapshot(mock) == before
    if response.content:
        strict(response.content)
