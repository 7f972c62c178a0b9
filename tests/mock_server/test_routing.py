"""Routing by the specs: base paths, 405 + Allow, unknown paths, in each API's envelope."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.types import Message, Scope

from mock_server import Settings, create_app
from mock_server.routes import RouteTable
from tests.conftest import FIRMA_BASES, ContractClient, signature_requests

pytestmark = pytest.mark.anyio

CANCEL = f"/v1/signatures/{signature_requests(status='sent')[0]['id']}/cancel"
ROUTES: RouteTable = create_app(Settings()).routes


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    ("path", "shape"),
    [
        pytest.param(CANCEL, "craftkit", id="craftkit"),
        *[pytest.param(f"{b}/jwt/revoke-signing-request", "firma", id=b) for b in FIRMA_BASES],
    ],
)
async def test_undeclared_method_is_405_with_allow(
    mock: ContractClient, method: str, path: str, shape: str
) -> None:
    response = await mock.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if shape == "craftkit":
        assert body["error"]["code"] == "method_not_allowed"
    else:
        assert body["error"] == "Method Not Allowed"


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        pytest.param("/", "craftkit", id="root"),
        pytest.param("/favicon.ico", "craftkit", id="favicon-not-get"),
        pytest.param("/v1/signatures", "craftkit", id="craftkit-undeclared"),
        pytest.param("/v1/signatures/a/b/cancel", "craftkit", id="slash-in-id"),
        pytest.param("/functions/v1/signing-request-api/jwt", "firma", id="firma-undeclared"),
        pytest.param("/api/v1/jwt/revoke-signing-request/extra", "firma", id="firma-suffix"),
    ],
)
async def test_unknown_path_is_404_in_the_owning_apis_envelope(
    mock: ContractClient, path: str, shape: str
) -> None:
    response = await mock.request("POST", path)
    assert response.status_code == 404
    body = response.json()
    if shape == "craftkit":
        assert body["error"]["code"] == "not_found"
    else:
        assert body["error"] == "Not Found"
        assert "x-ratelimit-limit" in response.headers


@pytest.mark.own_app  # replaces the app's handler
async def test_unexpected_error_is_500_in_envelope_and_logged(
    mock: ContractClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Any, store: Any) -> Any:
        raise RuntimeError("planted")

    mock.app.live.craftkit.operations = {"cancelSignature": broken}
    response = await mock.http.post(CANCEL)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "planted" in caplog.text


@pytest.mark.anyio
async def test_a_client_that_leaves_mid_body_is_no_error(
    mock: ContractClient, caplog: pytest.LogCaptureFixture
) -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"reas', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/signatures/00000000-0000-4000-8000-000000000000/cancel",
        "raw_path": b"/v1/signatures/00000000-0000-4000-8000-000000000000/cancel",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("mock.test", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"authorization", b"Bearer ck_test_acme_0001"),
            (b"content-type", b"application/json"),
            (b"content-length", b"20"),
            (b"x-mock-session", b"leaving"),
        ],
        "http_version": "1.1",
    }
    with caplog.at_level("ERROR"):
        await mock.app(scope, receive, send)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize(
    ("path", "closest"),
    [
        pytest.param(
            "/v1/signature/83cb4bbe-b73d-548a-b4ae-d7de75b07165/cancel",
            "POST /v1/signatures/{id}/cancel",
            id="craftkit-typo",
        ),
        pytest.param(
            "/functions/v1/signing-request-api/jwt/revoke-signing",
            "POST /functions/v1/signing-request-api/jwt/revoke-signing-request",
            id="firma-truncated",
        ),
        pytest.param(
            "/api/v1/jwt/revoke_signing_request",
            "POST /api/v1/jwt/revoke-signing-request",
            id="firma-other-base",
        ),
        pytest.param(
            "/jwt/revoke-signing-request",
            "POST /api/v1/jwt/revoke-signing-request",
            id="firma-path-without-base",
        ),
        # A slash added: a 404 like any other undeclared path, never a redirect (Starlette
        # answered 307 to the path without it, a status neither contract declares).
        pytest.param(
            "/v1/signatures/83cb4bbe-b73d-548a-b4ae-d7de75b07165/cancel/",
            "POST /v1/signatures/{id}/cancel",
            id="craftkit-trailing-slash",
        ),
        pytest.param(
            "/api/v1/jwt/revoke-signing-request/",
            "POST /api/v1/jwt/revoke-signing-request",
            id="firma-trailing-slash",
        ),
        pytest.param(
            "/functions/v1/signing-request-api/jwt/revoke-signing-request//",
            "POST /functions/v1/signing-request-api/jwt/revoke-signing-request",
            id="firma-two-trailing-slashes",
        ),
    ],
)
async def test_unknown_path_names_the_closest_declared_one(
    mock: ContractClient, path: str, closest: str
) -> None:
    response = await mock.request("POST", path)
    assert response.status_code == 404
    body = response.json()
    message = body["error"]["message"] if isinstance(body["error"], dict) else body["message"]
    assert message == (
        f"No operation is declared at POST {path}; the closest declared is {closest}."
    )
    # Within each API's error schema: Craftkit's {error: {code, message}}, Firma's strings.
    api = "craftkit" if isinstance(body["error"], dict) else "firma"
    assert mock.app.live.api(api).contract.is_valid("/components/schemas/Error", body)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("PUT", "/__mock/faults", "GET, HEAD, POST, DELETE", id="faults"),
        pytest.param("OPTIONS", "/__mock/requests", "GET, HEAD, DELETE", id="journal"),
        pytest.param("GET", "/__mock/reset", "POST", id="reset"),
        pytest.param("DELETE", "/__mock/state", "GET, HEAD", id="state"),
        pytest.param("GET", "/__mock/craftkit/signature-requests/x/events", "POST", id="events"),
        pytest.param("PATCH", "/__mock/firma/jwts/batch", "POST", id="batch"),
        pytest.param(
            "POST", "/__mock/firma/jwts/0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c", "GET, HEAD", id="jwt"
        ),
        pytest.param("GET", "/__mock/craftkit/signature-requests/x/cancel", "POST", id="cancel"),
        pytest.param("GET", "/__mock/faults/1", "DELETE", id="fault"),
        pytest.param("POST", "/__mock/sessions", "GET, HEAD", id="sessions"),
        pytest.param("POST", "/__mock/health", "GET, HEAD", id="health"),
    ],
)
async def test_a_control_path_s_405_allows_every_method_it_has(
    mock: ContractClient, method: str, path: str, allow: str
) -> None:
    # Connexion's router named only the first operation's methods (PUT /__mock/faults
    # said Allow: HEAD, GET, hiding POST and DELETE).
    response = await mock.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"
    assert f"takes {allow}, not {method}" in response.json()["detail"]


async def test_a_control_path_answers_head_where_it_answers_get(mock: ContractClient) -> None:
    response = await mock.request("HEAD", "/__mock/state")
    assert response.status_code == 200


async def test_the_hint_compares_a_bounded_sketch_of_a_huge_path(
    mock: ContractClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """difflib is quadratic: a client's 30 KB path segment held the event loop for
    seconds. The hint compares at most SKETCH characters a segment, 4x that in all."""
    import difflib

    from mock_server import routes

    compared: list[int] = []
    real = difflib.SequenceMatcher

    def spy(junk: object, a: str, b: str, autojunk: bool = True) -> difflib.SequenceMatcher[str]:
        compared.append(max(len(a), len(b)))
        return real(None, a, b, autojunk=autojunk)

    monkeypatch.setattr(difflib, "SequenceMatcher", spy)
    response = await mock.request("POST", f"/v1/signatures/{'x' * 30_000}/cancelx")
    assert response.status_code == 404
    assert "the closest declared is POST /v1/signatures/{id}/cancel" in response.text
    assert compared and max(compared) <= routes.SKETCH * 4 + 100


segments = st.one_of(
    st.sampled_from(["", "v1", "signatures", "cancel", "jwt", "revoke-signing-request", "api"]),
    st.sampled_from(["functions", "signing-request-api", "{id}", "%2F", ".", ".."]),
    st.text(max_size=6),
)


@st.composite
def near_paths(draw: st.DrawFn) -> str:
    """A declared path with some of its segments replaced, dropped or added."""
    parts = draw(
        st.sampled_from([CANCEL, *[f"{base}/jwt/revoke-signing-request" for base in FIRMA_BASES]])
    ).split("/")
    changed = [draw(segments) if draw(st.booleans()) else part for part in parts]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(changed)))
        if draw(st.booleans()):
            changed.insert(at, draw(segments))
        else:
            del changed[at : at + 1]
    return "/".join(changed)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(path=near_paths(), method=st.sampled_from(["POST", "GET"]))
@example(path="/v1/signatures//cancel", method="POST")
@example(path="/v1/signatures/a/b/cancel", method="POST")
@example(path="/v1/signatures/a/cancel/", method="POST")
@example(path="/api/v1/jwt/revoke-signing-request/", method="POST")
@example(path="/api/v1//jwt/revoke-signing-request", method="POST")
@example(path=CANCEL + "\n", method="POST")
@example(path="/api/v1/jwt/revoke-signing-request\n", method="POST")
def test_the_table_matches_segments_as_the_routers_patterns_do(path: str, method: str) -> None:
    """RouteTable matches a template of whole string segments by comparing segments: it
    must route every path as the patterns of Connexion's router would."""
    table = ROUTES
    by_patterns = RouteTable([replace(entry, template="{}") for entry in table._entries])
    assert [entry.segments for entry in by_patterns._entries] == [None] * len(table._entries)
    assert table.match(method, path) == by_patterns.match(method, path)


def test_the_table_matches_the_declared_paths_by_segments() -> None:
    assert [entry.segments is not None for entry in ROUTES._entries] == [True] * 3
    found = ROUTES.match("POST", CANCEL)
    assert found is not None and found.path_params == {"id": CANCEL.split("/")[3]}
