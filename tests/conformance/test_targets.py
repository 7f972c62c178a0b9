"""The harness's targets are what they claim: correct by default, each fault visible.

Everything goes over a real loopback socket, and every answer of a correct
target to a declared operation is validated against its spec (openapi-core).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.responses import ResponseValidator
from tests.conformance.servers import AppSlot, serve
from tests.conformance.targets import (
    CRAFTKIT_FAULTS,
    CRAFTKIT_VARIANTS,
    FIRMA_BASE_PATHS,
    FIRMA_FAULTS,
    FIRMA_VARIANTS,
    craftkit_app,
    firma_app,
    load_fixture,
)

pytestmark = pytest.mark.loopback

ROOT = Path(__file__).resolve().parents[2]
SPECS = {
    "craftkit": ROOT / "specs/craftkit.openapi.yaml",
    "firma": ROOT / "specs/firma.openapi.yaml",
}

# environ={}: the bundled defaults, whatever the developer's shell exports.
CRAFTKIT = load_fixture(ROOT / "fixtures/craftkit.yaml", environ={})
CRAFTKIT["projects"][0]["api_keys"].append("pk_acme_0001")  # a known key with a wrong prefix
FIRMA = load_fixture(ROOT / "fixtures/firma.yaml", environ={})
FIRMA_TIGHT = {**FIRMA, "rate_limits": {"write_per_minute": 2}}

ACME_TEST, ACME_LIVE, GLOBEX = "ck_test_acme_0001", "ck_live_acme_0001", "ck_live_globex_0001"
FIRMA_ACME, FIRMA_ACME_2, FIRMA_GLOBEX = "firma_acme_0001", "firma_acme_0002", "firma_globex_0001"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
REVOKE = f"{FIRMA_BASE_PATHS[0]}/jwt/revoke-signing-request"


def signature(**match: Any) -> str:
    """The id of the first Craftkit fixture record whose fields equal ``match``."""
    hits = [
        r for r in CRAFTKIT["signature_requests"] if all(r.get(k) == v for k, v in match.items())
    ]
    return str(hits[0]["id"])


def plain_signature(n: int = 0, **match: Any) -> str:
    """The ``n``-th acme record matching ``match`` without a ``mock.on_cancel`` hint."""
    hits = [
        r["id"]
        for r in CRAFTKIT["signature_requests"]
        if r["project"] == "proj_acme" and "mock" not in r
        if all(r.get(k) == v for k, v in match.items())
    ]
    return str(hits[n])


def jwt(n: int = 0, **match: Any) -> str:
    hits = [j for j in FIRMA["jwts"] if all(j.get(k) == v for k, v in match.items())]
    return str(hits[n]["jwt_id"])


SENT, SENT_2 = plain_signature(0, status="sent"), plain_signature(1, status="sent")
VIEWED = plain_signature(status="viewed")
GLOBEX_SENT = signature(project="proj_globex", status="sent")
ACTIVE, ACTIVE_2 = jwt(0, workspace="ws_acme", revoked_at=None), jwt(1, workspace="ws_acme")
REVOKED = next(j["jwt_id"] for j in FIRMA["jwts"] if j["revoked_at"] is not None)
GLOBEX_ACTIVE = jwt(workspace="ws_globex")


# -- plumbing ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, httpx.Client]]:
    """One server and one client for the module; each test puts its own target in the slot."""
    slot = AppSlot()
    with serve(slot) as url, httpx.Client(base_url=url, timeout=5.0) as http:
        yield slot, http


@pytest.fixture
def target(served: tuple[AppSlot, httpx.Client]) -> Callable[[Any], httpx.Client]:
    """``target(app)`` installs ``app`` and returns a client for it."""
    slot, http = served

    def install(app: Any) -> httpx.Client:
        slot.app = app
        return http

    return install


@functools.cache
def validator(api: str, base_url: str) -> ResponseValidator:
    return ResponseValidator.from_path(SPECS[api], base_url=base_url)


def conforms(response: httpx.Response) -> httpx.Response:
    """``response``, after checking it against the spec of the operation it answers."""
    url = response.request.url
    root = f"{url.scheme}://{url.host}:{url.port}"
    if url.path.startswith("/v1/"):
        errors = validator("craftkit", root).errors(response)
    else:
        base = next(b for b in FIRMA_BASE_PATHS if url.path.startswith(b))
        errors = validator("firma", root + base).errors(response)
    assert not errors, f"{response.status_code} {response.text[:300]}: {errors}"
    return response


def cancel(
    http: httpx.Client, sid: str, key: str | None = ACME_TEST, **kwargs: Any
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {key}")
    return http.post(f"/v1/signatures/{sid}/cancel", headers=headers, **kwargs)


def revoke(
    http: httpx.Client,
    jwt_id: Any = None,
    key: str | None = FIRMA_ACME,
    *,
    base: str = FIRMA_BASE_PATHS[0],
    **kwargs: Any,
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers.setdefault("Authorization", key)
    if jwt_id is not None:
        kwargs["json"] = {"jwt_id": jwt_id}
    return http.post(f"{base}/jwt/revoke-signing-request", headers=headers, **kwargs)


def at_once(count: int, request: Callable[[], httpx.Response]) -> list[int]:
    """Statuses of ``count`` copies of ``request`` released together from a barrier."""
    barrier = threading.Barrier(count)

    def go() -> int:
        barrier.wait(timeout=5)
        return request().status_code

    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(lambda _: go(), range(count)))


# -- fixtures and choices --------------------------------------------------------


def test_load_fixture_expands_variables(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("keys: ['${A:-one}', 'x-${B}-y', plain]\nn: 3\n")
    assert load_fixture(path, environ={"B": "two"}) == {"keys": ["one", "x-two-y", "plain"], "n": 3}
    assert load_fixture(path, environ={"A": "1", "B": "2"})["keys"][:2] == ["1", "x-2-y"]
    with pytest.raises(KeyError, match=r"\$\{B\}"):
        load_fixture(path, environ={})


@pytest.mark.parametrize(
    ("build", "kwargs"),
    [
        pytest.param(craftkit_app, {"faults": frozenset({"typo"})}, id="craftkit-fault"),
        pytest.param(craftkit_app, {"variant": "terse"}, id="craftkit-variant"),
        pytest.param(firma_app, {"faults": frozenset({"cascad"})}, id="firma-fault"),
        pytest.param(firma_app, {"variant": "strict"}, id="firma-variant"),
    ],
)
def test_unknown_fault_or_variant_is_refused(build: Callable[..., Any], kwargs: Any) -> None:
    with pytest.raises(ValueError, match="unknown"):
        build(CRAFTKIT if build is craftkit_app else FIRMA, **kwargs)


# -- Craftkit: docs/behaviour.md's table, for the reference and each variant -----------

CRAFTKIT_VARIANT_NAMES = [None, *CRAFTKIT_VARIANTS]
JSON = {"Content-Type": "application/json"}


CRAFTKIT_ROWS = [
    pytest.param(SENT, {"key": None}, 401, "unauthorized", id="no-authorization"),
    pytest.param(
        SENT,
        {"headers": {"Authorization": f"Basic {ACME_TEST}"}},
        401,
        "unauthorized",
        id="basic-scheme",
    ),
    pytest.param(SENT, {"key": "ck_live_nobody"}, 401, "unauthorized", id="unknown-key"),
    pytest.param(SENT, {"key": "pk_acme_0001"}, 401, "unauthorized", id="wrong-prefix"),
    pytest.param(
        SENT, {"content": b"{oops", "headers": JSON}, 400, "invalid_request", id="not-json"
    ),
    pytest.param(SENT, {"json": ["reason"]}, 400, "invalid_request", id="array-body"),
    pytest.param(SENT, {"json": {"reason": 7}}, 400, "invalid_request", id="reason-number"),
    pytest.param(SENT, {"json": {"reason": "x" * 501}}, 400, "invalid_request", id="reason-501"),
    pytest.param(SENT, {"json": {"reason": "x" * 500}}, 200, None, id="reason-500"),
    pytest.param(SENT, {}, 200, None, id="no-body"),
    pytest.param(SENT, {"json": {}}, 200, None, id="empty-object"),
    pytest.param(SENT, {"key": ACME_LIVE}, 200, None, id="live-key"),
    pytest.param(
        SENT,
        {"headers": {"Authorization": f"bearer {ACME_TEST}"}},
        200,
        None,
        id="lowercase-scheme",
    ),
    pytest.param(VIEWED, {}, 200, None, id="viewed"),
    pytest.param(UNKNOWN, {}, 404, "not_found", id="unknown-id"),
    pytest.param(GLOBEX_SENT, {}, 404, "not_found", id="other-project"),
    *[
        pytest.param(signature(status=s), {}, 409, "conflict", id=f"terminal-{s}")
        for s in ("completed", "declined", "expired", "cancelled", "failed")
    ],
    pytest.param(
        signature(mock={"on_cancel": "upstream_locked"}), {}, 409, "conflict", id="upstream-locked"
    ),
    pytest.param(
        signature(mock={"on_cancel": "provider_error"}),
        {},
        502,
        "signature_provider_error",
        id="provider-error",
    ),
]


@pytest.mark.parametrize("variant", CRAFTKIT_VARIANT_NAMES)
@pytest.mark.parametrize(("sid", "request_", "status", "code"), CRAFTKIT_ROWS)
def test_craftkit_follows_the_design_table(
    target: Callable[[Any], httpx.Client],
    variant: str | None,
    sid: str,
    request_: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    http = target(craftkit_app(CRAFTKIT, variant=variant))
    response = conforms(cancel(http, sid, **request_))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if code is not None:
        assert body["error"]["code"] == code
        if status == 400:
            assert set(body["error"]["issues"]) == {"formErrors", "fieldErrors"}
        return
    record = next(r for r in CRAFTKIT["signature_requests"] if r["id"] == sid)
    assert body["status"] == "cancelled"
    assert "project" not in body and "mock" not in body
    may_change = {"status", "completedAt", "errorMessage", "project", "mock"}
    assert as_stored({k: v for k, v in record.items() if k not in may_change}) == as_stored(
        {k: v for k, v in body.items() if k in record and k not in may_change}
    )


def as_stored(value: Any) -> Any:
    """``value`` with what a lean writer may change undone: ``.000Z`` and null fields left out."""
    if isinstance(value, str):
        return value.replace(".000Z", "Z")
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


@pytest.mark.parametrize("variant", CRAFTKIT_VARIANT_NAMES)
def test_craftkit_non_uuid_id_is_400_or_404(
    target: Callable[[Any], httpx.Client], variant: str | None
) -> None:
    response = conforms(cancel(target(craftkit_app(CRAFTKIT, variant=variant)), "not-a-uuid"))
    expected = 400 if variant == "strict" else 404
    assert response.status_code == expected
    assert response.json()["error"]["code"] == (
        "invalid_request" if expected == 400 else "not_found"
    )


def test_craftkit_cancel_is_stateful_and_refusals_change_nothing(
    target: Callable[[Any], httpx.Client],
) -> None:
    http = target(craftkit_app(CRAFTKIT))
    provider = signature(mock={"on_cancel": "provider_error"})
    assert [conforms(cancel(http, provider)).status_code for _ in range(2)] == [502, 502]
    assert conforms(cancel(http, SENT, json={"reason": 1})).status_code == 400
    assert conforms(cancel(http, SENT, key=GLOBEX)).status_code == 404
    assert [conforms(cancel(http, SENT)).status_code for _ in range(2)] == [200, 409]
    assert conforms(cancel(http, SENT_2)).status_code == 200, "one cancel touched another record"


def test_craftkit_concurrent_cancels_have_one_winner(target: Callable[[Any], httpx.Client]) -> None:
    http = target(craftkit_app(CRAFTKIT))
    assert at_once(6, lambda: cancel(http, SENT)) == [200, 409, 409, 409, 409, 409]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_craftkit_routing_errors(target: Callable[[Any], httpx.Client], method: str) -> None:
    http = target(craftkit_app(CRAFTKIT))
    wrong_method = http.request(method, f"/v1/signatures/{SENT}/cancel")
    assert (wrong_method.status_code, wrong_method.headers.get("allow")) == (405, "POST")
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    unknown = http.request(method, "/v1/signatures")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


def test_craftkit_variants_differ_on_the_wire(target: Callable[[Any], httpx.Client]) -> None:
    strict = cancel(target(craftkit_app(CRAFTKIT, variant="strict")), SENT)
    assert strict.headers["content-type"] == "application/json; charset=utf-8"
    assert strict.json()["object"] == "signature_request" and strict.json()["completedAt"]
    chunked = cancel(target(craftkit_app(CRAFTKIT, variant="chunked")), SENT)
    assert "content-length" not in chunked.headers
    assert chunked.headers["transfer-encoding"] == "chunked"


MALFORMED = [
    pytest.param(b"{oops", JSON, id="invalid-json"),
    pytest.param(b'{"reason": "x"}', {"Content-Type": "text/plain"}, id="text-plain"),
    pytest.param(b'{"reason": "x"}', {}, id="no-content-type"),
    pytest.param(b"\xef\xbb\xbf{}", JSON, id="utf8-bom"),
    pytest.param(b'{"reason": "\xff"}', JSON, id="non-utf8"),
    pytest.param(b'{"jwt_id": NaN}', JSON, id="nan"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, JSON, id="deeply-nested"),
    pytest.param(b'{"reason": "' + b"x" * 2_000_000 + b'"}', JSON, id="huge"),
]


@pytest.mark.parametrize(("content", "headers"), MALFORMED)
@pytest.mark.parametrize("api", ["craftkit", "firma"])
def test_malformed_bodies_are_400_and_change_nothing(
    target: Callable[[Any], httpx.Client], api: str, content: bytes, headers: dict[str, str]
) -> None:
    if api == "craftkit":
        http = target(craftkit_app(CRAFTKIT))
        response = conforms(cancel(http, SENT, content=content, headers=headers))
        assert response.json()["error"]["code"] == "invalid_request"
        after = cancel(http, SENT)
    else:
        http = target(firma_app(FIRMA))
        auth = {"Authorization": FIRMA_ACME, **headers}
        response = conforms(revoke(http, content=content, headers=auth))
        assert response.json()["error"] == "Bad Request"
        after = revoke(http, ACTIVE)
    assert response.status_code == 400, response.text[:200]
    assert after.status_code == 200, "a refused request changed state"


# -- Firma: docs/behaviour.md's table, for the reference and each variant --------------

FIRMA_VARIANT_NAMES = [None, *FIRMA_VARIANTS]
FIRMA_ROWS = [
    pytest.param({"jwt_id": ACTIVE}, 200, None, id="raw-key"),
    pytest.param({"jwt_id": ACTIVE, "key": f"Bearer {FIRMA_ACME}"}, 200, None, id="bearer-key"),
    pytest.param({"jwt_id": ACTIVE, "key": FIRMA_ACME_2}, 200, None, id="second-key"),
    pytest.param({"jwt_id": ACTIVE, "key": None}, 401, "Unauthorized", id="no-key"),
    pytest.param({"jwt_id": ACTIVE, "key": "firma_nobody"}, 401, "Unauthorized", id="unknown-key"),
    pytest.param({"content": b"{oops", "headers": JSON}, 400, "Bad Request", id="not-json"),
    pytest.param({}, 400, "Bad Request", id="no-body"),
    pytest.param({"json": {}}, 400, "Bad Request", id="no-jwt-id"),
    pytest.param({"jwt_id": "not-a-uuid"}, 400, "Bad Request", id="non-uuid"),
    pytest.param({"jwt_id": 42}, 400, "Bad Request", id="number"),
    pytest.param({"jwt_id": UNKNOWN}, 404, "Not Found", id="unknown-jwt"),
    pytest.param({"jwt_id": GLOBEX_ACTIVE}, 404, "Not Found", id="other-workspace"),
    pytest.param({"jwt_id": REVOKED}, 400, "Bad Request", id="already-revoked"),
]


@pytest.mark.parametrize("variant", FIRMA_VARIANT_NAMES)
@pytest.mark.parametrize("base", FIRMA_BASE_PATHS)
@pytest.mark.parametrize(("request_", "status", "reason"), FIRMA_ROWS)
def test_firma_follows_the_design_table(
    target: Callable[[Any], httpx.Client],
    variant: str | None,
    base: str,
    request_: dict[str, Any],
    status: int,
    reason: str | None,
) -> None:
    http = target(firma_app(FIRMA, variant=variant))
    if variant == "one_server" and base != FIRMA_BASE_PATHS[0]:  # issue #10: not served
        assert revoke(http, base=base, **request_).status_code == 404
        return
    response = conforms(revoke(http, base=base, **request_))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    has_rate_headers = all(h in response.headers for h in RATE_HEADERS)
    assert has_rate_headers == (variant != "terse" or status == 200)
    if reason is None:
        assert body["message"] == "JWT revoked successfully"
        assert (body["jwt_id"], body["revoked"]) == (request_["jwt_id"], True)
        assert variant == "sparse" or body["revoked_at"].endswith("Z")
        return
    assert body["error"] == reason
    if status == 401:
        assert body == {"error": "Unauthorized", "message": "Invalid API key"}
    if request_.get("jwt_id") == REVOKED:
        assert body["message"] == "JWT has already been revoked"


def test_firma_revoke_is_stateful(target: Callable[[Any], httpx.Client]) -> None:
    http = target(firma_app(FIRMA))
    assert conforms(revoke(http, ACTIVE, key=FIRMA_GLOBEX)).status_code == 404
    assert [conforms(revoke(http, ACTIVE)).status_code for _ in range(2)] == [200, 400]
    assert revoke(http, ACTIVE).json()["message"] == "JWT has already been revoked"
    assert conforms(revoke(http, ACTIVE_2)).status_code == 200, "one revoke touched another JWT"
    assert at_once(5, lambda: revoke(http, GLOBEX_ACTIVE, key=FIRMA_GLOBEX)) == [
        200,
        400,
        400,
        400,
        400,
    ]


def test_firma_rate_limit_is_a_fixed_window_per_key(target: Callable[[Any], httpx.Client]) -> None:
    now = [1_800_000_000.0]
    http = target(firma_app(FIRMA_TIGHT, clock=lambda: now[0]))
    first, second = conforms(revoke(http, UNKNOWN)), conforms(revoke(http, ACTIVE))
    assert [r.headers["x-ratelimit-remaining"] for r in (first, second)] == ["1", "0"]
    assert first.headers["x-ratelimit-reset"] == "1800000060"
    limited = conforms(revoke(http, ACTIVE_2))
    assert limited.status_code == 429
    assert limited.json()["error"] == "Rate Limit Exceeded"
    assert limited.headers["retry-after"] == str(limited.json()["details"]["retry_after"]) == "60"
    assert conforms(revoke(http, ACTIVE_2, key=FIRMA_ACME_2)).status_code == 200, (
        "keys share a window"
    )
    now[0] += 60
    assert conforms(revoke(http, UNKNOWN)).headers["x-ratelimit-remaining"] == "1"


@pytest.mark.parametrize("base", FIRMA_BASE_PATHS)
def test_firma_routing_errors(target: Callable[[Any], httpx.Client], base: str) -> None:
    http = target(firma_app(FIRMA))
    wrong_method = http.get(
        f"{base}/jwt/revoke-signing-request", headers={"Authorization": FIRMA_ACME}
    )
    assert (wrong_method.status_code, wrong_method.headers.get("allow")) == (405, "POST")
    assert wrong_method.json()["error"] == "Method Not Allowed"
    unknown = http.post(f"{base}/jwt", headers={"Authorization": FIRMA_ACME})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "Not Found")


def test_sparse_variants_differ_on_the_wire(target: Callable[[Any], httpx.Client]) -> None:
    craftkit = target(craftkit_app(CRAFTKIT, variant="sparse"))
    body = conforms(cancel(craftkit, SENT.upper())).json()
    assert body["id"] == SENT.upper() and body["createdAt"].endswith(".000Z")
    assert body["completedAt"].endswith("Z") and "metadata" in body
    assert any("lastName" not in r for r in body["recipients"])
    options = craftkit.options(f"/v1/signatures/{SENT}/cancel")
    assert (options.status_code, options.headers["allow"]) == (204, "POST, OPTIONS")
    firma = target(firma_app(FIRMA, variant="sparse"))
    revoked = conforms(revoke(firma, ACTIVE.upper()))
    assert revoked.json()["jwt_id"] == ACTIVE.upper() and "revoked_at" not in revoked.json()
    assert revoked.headers["x-request-id"] == "req_sparse"


def test_firma_variants_differ_on_the_wire(target: Callable[[Any], httpx.Client]) -> None:
    terse = target(firma_app(FIRMA, variant="terse"))
    assert "details" in revoke(terse, json={}).json()
    assert "signing_request_id" in revoke(terse, ACTIVE).json()
    chunked = revoke(target(firma_app(FIRMA, variant="chunked")), ACTIVE)
    assert "content-length" not in chunked.headers


# -- every planted fault changes what a client observes -------------------------

Probe = Callable[[httpx.Client], object]


def _statuses(*calls: Callable[[httpx.Client], httpx.Response]) -> Probe:
    return lambda http: tuple(call(http).status_code for call in calls)


def _hangs(http: httpx.Client) -> object:
    try:
        return revoke(http, ACTIVE, timeout=0.5).status_code
    except httpx.TimeoutException:
        return "timed out"


def _exhaust(key: str) -> Callable[[httpx.Client], httpx.Response]:
    def call(http: httpx.Client) -> httpx.Response:
        for _ in range(FIRMA_TIGHT["rate_limits"]["write_per_minute"]):
            revoke(http, UNKNOWN, key=key)
        return revoke(http, UNKNOWN, key=key)

    return call


FAULT_PROBES = [
    # -- Craftkit
    (
        "craftkit",
        "terminal_cancellable",
        _statuses(lambda h: cancel(h, signature(status="completed"))),
    ),
    (
        "craftkit",
        "recancel_accepted",
        _statuses(lambda h: cancel(h, signature(status="cancelled"))),
    ),
    ("craftkit", "ignores_auth", _statuses(lambda h: cancel(h, SENT, key=None))),
    ("craftkit", "tenant_leak", _statuses(lambda h: cancel(h, GLOBEX_SENT))),
    ("craftkit", "wrong_id_echoed", lambda h: cancel(h, SENT).json()["id"]),
    ("craftkit", "status_not_cancelled", lambda h: cancel(h, SENT).json()["status"]),
    (
        "craftkit",
        "wrong_error_code",
        lambda h: cancel(h, signature(status="expired")).json()["error"]["code"],
    ),
    ("craftkit", "error_text_plain", lambda h: cancel(h, UNKNOWN).headers["content-type"]),
    (
        "craftkit",
        "long_reason_accepted",
        _statuses(lambda h: cancel(h, SENT, json={"reason": "x" * 501})),
    ),
    (
        "craftkit",
        "rejected_changes_state",
        _statuses(lambda h: cancel(h, SENT, json={"reason": 1}), lambda h: cancel(h, SENT)),
    ),
    ("craftkit", "cascade", _statuses(lambda h: cancel(h, SENT), lambda h: cancel(h, SENT_2))),
    ("craftkit", "unknown_500", _statuses(lambda h: cancel(h, UNKNOWN))),
    ("craftkit", "unknown_403", _statuses(lambda h: cancel(h, UNKNOWN))),
    ("craftkit", "schema_break", lambda h: "renderId" in cancel(h, SENT).json()),
    ("craftkit", "name_changed", lambda h: cancel(h, SENT).json()["name"]),
    (
        "craftkit",
        "no_allow_header",
        lambda h: h.get(f"/v1/signatures/{SENT}/cancel").headers.get("allow"),
    ),
    ("craftkit", "test_keys_refused", _statuses(lambda h: cancel(h, SENT, key=ACME_TEST))),
    ("craftkit", "empty_body_refused", _statuses(lambda h: cancel(h, SENT))),
    (
        "craftkit",
        "provider_error_changes_state",
        _statuses(*[lambda h: cancel(h, signature(mock={"on_cancel": "provider_error"}))] * 2),
    ),
    ("craftkit", "racy_cancel", lambda h: at_once(5, lambda: cancel(h, SENT)).count(200)),
    # -- Firma (over FIRMA_TIGHT: two writes per minute per key)
    ("firma", "bearer_refused", _statuses(lambda h: revoke(h, ACTIVE, key=f"Bearer {FIRMA_ACME}"))),
    ("firma", "rerevoke_accepted", _statuses(lambda h: revoke(h, REVOKED))),
    ("firma", "workspace_leak", _statuses(lambda h: revoke(h, GLOBEX_ACTIVE))),
    ("firma", "wrong_error_reason", lambda h: revoke(h, UNKNOWN).json()["error"]),
    ("firma", "revoked_false", lambda h: revoke(h, ACTIVE).json()["revoked"]),
    ("firma", "no_rate_limit", _statuses(_exhaust(FIRMA_ACME))),
    ("firma", "no_retry_after", lambda h: _exhaust(FIRMA_ACME)(h).headers.get("retry-after")),
    ("firma", "hang", _hangs),
    ("firma", "non_json_200", lambda h: revoke(h, ACTIVE).headers["content-type"]),
    ("firma", "cascade", _statuses(lambda h: revoke(h, ACTIVE), lambda h: revoke(h, ACTIVE_2))),
    ("firma", "firma_wrong_id_echoed", lambda h: revoke(h, ACTIVE).json()["jwt_id"]),
    ("firma", "second_key_refused", _statuses(lambda h: revoke(h, ACTIVE, key=FIRMA_ACME_2))),
    (
        "firma",
        "rate_limited_revokes",
        _statuses(
            _exhaust(FIRMA_ACME),
            lambda h: revoke(h, ACTIVE),
            lambda h: revoke(h, ACTIVE, key=FIRMA_ACME_2),
        ),
    ),
    (
        "firma",
        "only_success_counted",
        lambda h: revoke(h, UNKNOWN).headers["x-ratelimit-remaining"],
    ),
    (
        "firma",
        "rate_limit_shared",
        _statuses(_exhaust(FIRMA_ACME), lambda h: revoke(h, UNKNOWN, key=FIRMA_ACME_2)),
    ),
    ("firma", "bad_uuid_404", _statuses(lambda h: revoke(h, "not-a-uuid"))),
    ("firma", "missing_jwt_id_500", _statuses(lambda h: revoke(h, json={}))),
    ("firma", "no_ratelimit_headers", lambda h: "x-ratelimit-limit" in revoke(h, ACTIVE).headers),
    (
        "firma",
        "racy_revoke",
        lambda h: at_once(5, lambda: revoke(h, GLOBEX_ACTIVE, key=FIRMA_GLOBEX)).count(200),
    ),
    # -- issue #10, auth and tenancy
    (
        "craftkit",
        "keys_case_insensitive",
        _statuses(lambda h: cancel(h, UNKNOWN, key="ck_test_ACME_0001")),
    ),
    (
        "craftkit",
        "key_prefix_accepted",
        _statuses(lambda h: cancel(h, UNKNOWN, key=ACME_TEST[:-1])),
    ),
    (
        "craftkit",
        "bearer_case_sensitive",
        _statuses(lambda h: cancel(h, UNKNOWN, headers={"Authorization": f"bearer {ACME_TEST}"})),
    ),
    (
        "craftkit",
        "extra_keys_unscoped",
        _statuses(lambda h: cancel(h, signature(status="completed"), key=ACME_LIVE)),
    ),
    (
        "craftkit",
        "extra_keys_skip_state",
        _statuses(lambda h: cancel(h, signature(status="completed"), key=ACME_LIVE)),
    ),
    ("craftkit", "id_before_key", _statuses(lambda h: cancel(h, "not-a-uuid", key=None))),
    (
        "craftkit",
        "body_before_key",
        _statuses(lambda h: cancel(h, SENT, key=None, json={"reason": 1})),
    ),
    (
        "craftkit",
        "state_before_tenant",
        _statuses(lambda h: cancel(h, signature(project="proj_globex", status="completed"))),
    ),
    (
        "craftkit",
        "foreign_404_differs",
        lambda h: cancel(h, GLOBEX_SENT).json()["error"]["message"],
    ),
    ("craftkit", "losers_get_502", lambda h: at_once(5, lambda: cancel(h, SENT))),
    (
        "craftkit",
        "lock_per_key",
        lambda h: at_once(
            4, _alternating(lambda key: cancel(h, SENT, key=key), ACME_TEST, ACME_LIVE)
        ).count(200),
    ),
    ("firma", "key_suffix_accepted", _statuses(lambda h: revoke(h, UNKNOWN, key=FIRMA_ACME[1:]))),
    (
        "firma",
        "key_extension_accepted",
        _statuses(lambda h: revoke(h, UNKNOWN, key=FIRMA_ACME + "x")),
    ),
    (
        "firma",
        "second_key_other_workspace",
        _statuses(lambda h: revoke(h, REVOKED, key=FIRMA_ACME_2)),
    ),
    (
        "firma",
        "bearer_rerevokes",
        _statuses(lambda h: revoke(h, REVOKED, key=f"Bearer {FIRMA_ACME}")),
    ),
    (
        "firma",
        "body_before_key",
        _statuses(lambda h: revoke(h, key=None, content=b"{oops", headers=JSON)),
    ),
    (
        "firma",
        "craftkit_envelope_for_ck_keys",
        lambda h: revoke(h, UNKNOWN, key="ck_live_nobody").json()["error"],
    ),
    (
        "firma",
        "revoked_before_workspace",
        _statuses(lambda h: revoke(h, REVOKED, key=FIRMA_GLOBEX)),
    ),
    (
        "firma",
        "losers_get_404",
        lambda h: at_once(5, lambda: revoke(h, GLOBEX_ACTIVE, key=FIRMA_GLOBEX)),
    ),
    (
        "firma",
        "lock_per_key",
        lambda h: at_once(
            4, _alternating(lambda key: revoke(h, ACTIVE, key=key), FIRMA_ACME, FIRMA_ACME_2)
        ).count(200),
    ),
    (
        "firma",
        "second_server_leak",
        _statuses(lambda h: revoke(h, GLOBEX_ACTIVE, base=FIRMA_BASE_PATHS[1])),
    ),
    (
        "firma",
        "separate_worlds",
        _statuses(
            lambda h: revoke(h, ACTIVE), lambda h: revoke(h, ACTIVE, base=FIRMA_BASE_PATHS[1])
        ),
    ),
    # -- rate limits and bounded answers (issue #10, probe)
    ("firma", "remaining_stuck", lambda h: revoke(h, UNKNOWN).headers["x-ratelimit-remaining"]),
    (
        "firma",
        "remaining_negative",
        lambda h: _exhaust(FIRMA_ACME)(h).headers["x-ratelimit-remaining"],
    ),
    ("firma", "limit_misannounced", lambda h: revoke(h, UNKNOWN).headers["x-ratelimit-limit"]),
    (
        "firma",
        "rate_limit_per_workspace",
        _statuses(_exhaust(FIRMA_ACME), lambda h: revoke(h, UNKNOWN, key=FIRMA_ACME_2)),
    ),
    (
        "firma",
        "reset_in_milliseconds",
        lambda h: len(revoke(h, UNKNOWN).headers["x-ratelimit-reset"]),
    ),
    ("firma", "reset_relative", lambda h: len(revoke(h, UNKNOWN).headers["x-ratelimit-reset"])),
    ("firma", "retry_after_hour", lambda h: _exhaust(FIRMA_ACME)(h).headers.get("retry-after")),
    ("firma", "late_reset", lambda h: _after_a_window(h).status_code),
    ("firma", "rate_limit_plain", lambda h: _exhaust(FIRMA_ACME)(h).headers["content-type"]),
    ("firma", "locked_for_an_hour", _statuses(lambda h: revoke(h, UNKNOWN))),
    ("craftkit", "slow_endless_body", lambda h: _body_ends_within(h, 0.5)),
    ("craftkit", "huge_body", lambda h: len(cancel(h, UNKNOWN).content) > 1 << 20),
    ("craftkit", "gzip_bomb", lambda h: _unread(h).headers.get("content-encoding")),
]


# ---- issue #10: valid requests, forbidden values, what a response means, late faults
UTF16_500 = {"reason": "\u00e9" * 250 + "\U0001f600" * 250}  # 500 characters, 750 UTF-16 units
APP_JSON = {"Content-Type": "Application/JSON; charset=UTF-8"}
FAULT_PROBES += [
    (
        "craftkit",
        "charset_refused",
        _statuses(lambda h: cancel(h, SENT, content=b"{}", headers=APP_JSON)),
    ),
    ("craftkit", "extra_key_refused", _statuses(lambda h: cancel(h, SENT, json={"x": 1}))),
    ("craftkit", "reason_utf16_counted", _statuses(lambda h: cancel(h, SENT, json=UTF16_500))),
    ("craftkit", "reason_bytes_counted", _statuses(lambda h: cancel(h, SENT, json=UTF16_500))),
    (
        "craftkit",
        "reason_graphemes_counted",
        _statuses(lambda h: cancel(h, SENT, json={"reason": "\u00e9" * 500 + "\u0301"})),
    ),
    (
        "craftkit",
        "null_reason_accepted",
        _statuses(lambda h: cancel(h, SENT, json={"reason": None})),
    ),
    ("craftkit", "case_sensitive_id", _statuses(lambda h: cancel(h, SENT.upper()))),
    (
        "craftkit",
        "options_500",
        _statuses(lambda h: h.options(f"/v1/signatures/{SENT}/cancel")),
    ),
    (
        "craftkit",
        "recipients_declined",
        lambda h: [r["declinedAt"] for r in cancel(h, SENT).json()["recipients"]],
    ),
    ("craftkit", "completed_at_future", lambda h: cancel(h, SENT).json()["completedAt"]),
    ("craftkit", "completed_before_created", lambda h: cancel(h, SENT).json()["completedAt"]),
    (
        "craftkit",
        "late_failure",
        lambda h: [
            cancel(
                h, r["id"], key=None, headers={"Authorization": f"Bearer {_owner_key(r)}"}
            ).status_code
            for r in CRAFTKIT["signature_requests"]
            if r["status"] in ("sent", "viewed") and "mock" not in r
        ],
    ),
    (
        "firma",
        "media_type_case_sensitive",
        _statuses(
            lambda h: revoke(
                h,
                content=f'{{"jwt_id": "{ACTIVE}"}}'.encode(),
                headers={"Content-Type": "Application/JSON"},
            )
        ),
    ),
    (
        "firma",
        "extra_key_refused",
        _statuses(lambda h: revoke(h, json={"jwt_id": ACTIVE, "reason": "x"})),
    ),
    ("firma", "case_sensitive_jwt_id", _statuses(lambda h: revoke(h, ACTIVE.upper()))),
    ("firma", "lenient_uuid", _statuses(lambda h: revoke(h, ACTIVE.replace("-", "")))),
    (
        "firma",
        "delete_revokes",
        _statuses(
            lambda h: h.request(
                "DELETE", REVOKE, json={"jwt_id": ACTIVE}, headers={"Authorization": FIRMA_ACME}
            )
        ),
    ),
    ("firma", "revoked_at_example", lambda h: revoke(h, ACTIVE).json()["revoked_at"][:4]),
    (
        "firma",
        "late_failure",
        lambda h: [
            revoke(h, j["jwt_id"], key=_firma_key(j)).status_code
            for j in FIRMA["jwts"]
            if j["revoked_at"] is None
        ],
    ),
]


def _owner_key(record: dict[str, Any]) -> str:
    project = next(p for p in CRAFTKIT["projects"] if p["id"] == record["project"])
    return str(project["api_keys"][0])


def _firma_key(record: dict[str, Any]) -> str:
    workspace = next(w for w in FIRMA["workspaces"] if w["id"] == record["workspace"])
    return str(workspace["api_keys"][0])


class Tick:
    """A clock that moves only when told (Unix seconds)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


TICK = Tick()  # the Firma apps of the fault probes run on it


def _after_a_window(http: httpx.Client) -> httpx.Response:
    """Exhaust the key, move the clock one window on: the quota should be back."""
    _exhaust(FIRMA_ACME)(http)
    TICK.now += 61
    return revoke(http, UNKNOWN)


def _body_ends_within(http: httpx.Client, seconds: float) -> bool:
    """Whether the 404 body ends within ``seconds`` (read as it streams, never past that)."""
    deadline = time.monotonic() + seconds
    with http.stream("POST", f"/v1/signatures/{UNKNOWN}/cancel", headers=CRAFTKIT_AUTH) as r:
        for _ in r.iter_raw():
            if time.monotonic() > deadline:
                return False
    return True


def _unread(http: httpx.Client) -> httpx.Response:
    """The 404's status and headers, its body left unread (a gzip bomb stays a bomb)."""
    with http.stream("POST", f"/v1/signatures/{UNKNOWN}/cancel", headers=CRAFTKIT_AUTH) as r:
        return r


CRAFTKIT_AUTH = {"Authorization": f"Bearer {ACME_TEST}"}


def test_every_fault_has_a_probe() -> None:
    probed = {(api, fault) for api, fault, _ in FAULT_PROBES}
    declared = {("craftkit", f) for f in CRAFTKIT_FAULTS} | {("firma", f) for f in FIRMA_FAULTS}
    assert probed == declared


@pytest.mark.parametrize(
    ("api", "fault", "probe"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in FAULT_PROBES],
)
def test_each_fault_visibly_changes_behaviour(
    target: Callable[[Any], httpx.Client], api: str, fault: str, probe: Probe
) -> None:
    def build(faults: frozenset[str]) -> Any:
        if api == "craftkit":
            return craftkit_app(CRAFTKIT, faults)
        # late_failure needs every active JWT revoked: more writes than FIRMA_TIGHT allows
        return firma_app(FIRMA if fault == "late_failure" else FIRMA_TIGHT, faults, clock=TICK)

    correct = probe(target(build(frozenset())))
    faulty = probe(target(build(frozenset({fault}))))
    assert correct != faulty, f"{fault} is invisible to this probe: both answered {correct!r}"


def test_a_hanging_target_still_shuts_down_promptly() -> None:
    outcome: list[BaseException | int] = []

    def call(url: str) -> None:
        try:
            headers = {"Authorization": FIRMA_ACME}
            outcome.append(
                httpx.post(url + REVOKE, json={"jwt_id": ACTIVE}, headers=headers).status_code
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    with serve(firma_app(FIRMA, frozenset({"hang"}))) as url:
        client = threading.Thread(target=call, args=(url,), daemon=True)
        client.start()
        client.join(0.3)
        assert client.is_alive(), f"the hang fault answered: {outcome}"
        started = time.monotonic()
    assert time.monotonic() - started < 3.0, "shutting down a hanging target took too long"
    client.join(5.0)
    # uvicorn answers 500 for a request it cancelled before it started answering.
    assert outcome and (isinstance(outcome[0], httpx.HTTPError) or outcome[0] == 500), outcome


# -- issue #10: helpers and variants ---------------------------------------------


def _alternating(
    request: Callable[[str], httpx.Response], *keys: str
) -> Callable[[], httpx.Response]:
    """A request that uses ``keys`` in turn, one per call (thread-safe)."""
    lock, turn = threading.Lock(), [0]

    def call() -> httpx.Response:
        with lock:
            key = keys[turn[0] % len(keys)]
            turn[0] += 1
        return request(key)

    return call


def test_firma_issue_10_variants_differ_on_the_wire(target: Callable[[Any], httpx.Client]) -> None:
    exact = target(firma_app(FIRMA, variant="bearer_exact_case"))
    assert revoke(exact, UNKNOWN, key=f"bearer {FIRMA_ACME}").status_code == 401
    assert revoke(exact, UNKNOWN, key=f"Bearer {FIRMA_ACME}").status_code == 404
    one = target(firma_app(FIRMA, variant="one_server"))
    assert revoke(one, UNKNOWN, base=FIRMA_BASE_PATHS[1]).json()["error"] == "Not Found"
    assert revoke(one, REVOKED, base=FIRMA_BASE_PATHS[1]).status_code == 404


# -- rate-limit and encoding variants (issue #10, probe) ---------------------------


def test_firma_sliding_window_frees_one_write_when_the_oldest_leaves(
    target: Callable[[Any], httpx.Client],
) -> None:
    clock = Tick()
    http = target(firma_app(FIRMA_TIGHT, variant="sliding", clock=clock))
    first = conforms(revoke(http, UNKNOWN))
    clock.now += 30
    second = conforms(revoke(http, UNKNOWN))
    assert [r.headers["x-ratelimit-remaining"] for r in (first, second)] == ["1", "0"]
    assert second.headers["x-ratelimit-reset"] == str(int(clock.now) - 30 + 60), "oldest + 60"
    limited = conforms(revoke(http, UNKNOWN))
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "30")
    clock.now += 30  # the first write leaves the window; the second is still in it
    assert [conforms(revoke(http, UNKNOWN)).status_code for _ in range(2)] == [404, 429]


def test_firma_slow_variant_answers_unknown_ids_late(target: Callable[[Any], httpx.Client]) -> None:
    http = target(firma_app(FIRMA, variant="slow"))
    started = time.monotonic()
    assert revoke(http, UNKNOWN).status_code == 404
    assert time.monotonic() - started >= 0.15


def test_craftkit_gzip_variant_compresses_what_the_client_accepts(
    target: Callable[[Any], httpx.Client],
) -> None:
    http = target(craftkit_app(CRAFTKIT, variant="gzip"))
    zipped = conforms(cancel(http, SENT, headers={"Accept-Encoding": "gzip"}))
    assert (zipped.status_code, zipped.headers["content-encoding"]) == (200, "gzip")
    plain = cancel(http, UNKNOWN, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
