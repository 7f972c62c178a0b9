"""Browsers (CORS, every route) and who may drive the control plane (loopback, or a token),
and under which ``Host`` it and the docs answer (DNS rebinding).

Neither concern touches records, so the tables share one app per setting; a
test that checks a refusal changed nothing builds its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.control import Throttle
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_BASES,
    AppFactory,
    FrozenClock,
    jwts,
    signature_requests,
)
from tests.mock_server.conftest import TOKEN, Connect

pytestmark = pytest.mark.anyio

SENT = next(r for r in signature_requests(project="proj_acme", status="sent") if "mock" not in r)
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]
REMOTE = "10.0.0.5"
LOCAL_PAGE = "http://localhost:5173"
EXPOSED = {
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
    "x-mock-session-created",
}


@pytest.fixture(scope="module")
def any_origin_app() -> MockApp:
    return create_app(Settings(cors_origins=("*",)))


# --- CORS ---------------------------------------------------------------------------------

ROUTES = [
    pytest.param("POST", f"/v1/signatures/{SENT['id']}/cancel", id="craftkit"),
    *[pytest.param("POST", f"{b}/jwt/revoke-signing-request", id=f"firma{b}") for b in FIRMA_BASES],
    pytest.param("GET", "/__mock/state", id="control-state"),
    pytest.param("DELETE", "/__mock/faults", id="control-faults"),
    pytest.param("POST", "/nowhere/at/all", id="unknown-path"),
]


def preflight(origin: str, method: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, prefer, x-mock-session",
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_preflight_from_an_allowed_origin_is_answered_on_every_route(
    open_app: MockApp, connect: Connect, method: str, path: str
) -> None:
    async with connect(open_app) as client:
        response = await client.http.options(path, headers=preflight(LOCAL_PAGE, method))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == LOCAL_PAGE
    assert method in response.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "prefer", "x-mock-session"} <= allowed
    assert response.headers["access-control-allow-credentials"] == "true"


REFUSED_AS = {  # a preflight CORS refuses: the route's answer to an OPTIONS, in its envelope
    "craftkit": (405, "application/json"),
    "firma/functions/v1/signing-request-api": (405, "application/json"),
    "firma/api/v1": (405, "application/json"),
    "control-state": (403, "application/problem+json"),  # a page of another site
    "control-faults": (403, "application/problem+json"),
    "unknown-path": (404, "application/json"),
}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_preflight_from_another_origin_is_refused_on_every_route_in_its_envelope(
    open_app: MockApp, connect: Connect, method: str, path: str, request: pytest.FixtureRequest
) -> None:
    async with connect(open_app) as client:
        response = await client.http.options(
            path, headers=preflight("https://evil.example", method)
        )
    assert "access-control-allow-origin" not in response.headers
    status, media_type = REFUSED_AS[request.node.callspec.id]
    assert (response.status_code, response.headers["content-type"]) == (status, media_type)
    assert "Disallowed CORS" not in response.text


@pytest.mark.parametrize(
    ("path", "status", "media_type"),
    [
        pytest.param(f"/v1/signatures/{SENT['id']}/cancel", 405, "application/json", id="craftkit"),
        pytest.param("/__mock/state", 405, "application/problem+json", id="control"),
    ],
)
async def test_preflight_for_a_method_no_browser_may_ask_is_the_route_s_405(
    open_app: MockApp, connect: Connect, path: str, status: int, media_type: str
) -> None:
    async with connect(open_app) as client:
        response = await client.http.options(path, headers=preflight(LOCAL_PAGE, "FOO"))
    assert "access-control-allow-origin" not in response.headers
    assert (response.status_code, response.headers["content-type"]) == (status, media_type)


async def test_a_private_network_preflight_is_not_allowed_when_every_origin_is(
    any_origin_app: MockApp, connect: Connect
) -> None:
    """With --cors-origin '*' any public page would reach a mock on this machine."""
    headers = {**preflight("https://anyone.example", "POST"),
               "Access-Control-Request-Private-Network": "true"}  # fmt: skip
    async with connect(any_origin_app) as client:
        response = await client.http.options(f"/v1/signatures/{SENT['id']}/cancel", headers=headers)
    assert "access-control-allow-private-network" not in response.headers
    assert "access-control-allow-origin" not in response.headers
    assert response.status_code == 405


async def test_a_private_network_preflight_from_an_allowed_origin_is_allowed(
    custom_origins_app: MockApp, connect: Connect
) -> None:
    """Chrome asks before a page of another network (a deployed frontend) calls this one."""
    headers = {**preflight("https://app.example", "POST"),
               "Access-Control-Request-Private-Network": "true"}  # fmt: skip
    async with connect(custom_origins_app) as client:
        response = await client.http.options(f"/v1/signatures/{SENT['id']}/cancel", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-private-network"] == "true"


async def test_preflight_to_the_control_plane_needs_no_loopback_or_token(
    token_app: MockApp, connect: Connect
) -> None:
    async with connect(token_app, REMOTE) as client:
        response = await client.http.options("/__mock/state", headers=preflight(LOCAL_PAGE, "GET"))
    assert response.status_code == 200, "browsers send no credentials on a preflight"
    assert response.headers["access-control-allow-origin"] == LOCAL_PAGE


@pytest.mark.parametrize(
    ("app", "origin", "allowed"),
    [
        pytest.param("open_app", "http://localhost:5173", True, id="default-localhost-port"),
        pytest.param("open_app", "http://localhost", True, id="default-localhost"),
        pytest.param("open_app", "https://localhost:8443", True, id="default-https"),
        pytest.param("open_app", "http://127.0.0.1:3000", True, id="default-ipv4-loopback"),
        pytest.param("open_app", "http://[::1]:8080", True, id="default-ipv6-loopback"),
        pytest.param("open_app", "http://localhost.evil.example", False, id="default-lookalike"),
        pytest.param("open_app", "http://localhost:5173.evil.example", False, id="default-suffix"),
        pytest.param("open_app", "http://app.localhost:5173", False, id="default-subdomain"),
        pytest.param("open_app", "http://localhost:123456", False, id="default-bad-port"),
        pytest.param("open_app", "https://app.example", False, id="default-remote-site"),
        pytest.param("open_app", "null", False, id="default-null-origin"),
        pytest.param("custom_origins_app", "https://app.example", True, id="custom-listed"),
        pytest.param(
            "custom_origins_app", "http://localhost:5173", False, id="custom-replaces-local"
        ),
        pytest.param("custom_origins_app", "http://app.example", False, id="custom-other-scheme"),
        pytest.param("any_origin_app", "https://anyone.example", True, id="star-any"),
    ],
)
async def test_actual_responses_allow_exactly_the_configured_origins(
    request: pytest.FixtureRequest, connect: Connect, app: str, origin: str, allowed: bool
) -> None:
    async with connect(request.getfixturevalue(app)) as client:
        for response in (
            await client.http.get("/__mock/state", headers={"Origin": origin}),
            await client.revoke({"jwt_id": ACTIVE["jwt_id"]}, headers={"Origin": origin}),
            await client.http.options("/__mock/state", headers=preflight(origin, "GET")),
        ):
            shown = response.headers.get("access-control-allow-origin")
            assert shown == (origin if allowed else None), response.request.method


@pytest.mark.parametrize(
    ("site", "allowed"),
    [("cross-site", False), ("same-site", False), ("same-origin", True), ("none", True)],
)
async def test_a_browser_s_request_from_another_site_without_origin_is_refused(
    open_app: MockApp, connect: Connect, site: str, allowed: bool
) -> None:
    """An <img> or <iframe> of another site sends no Origin: Sec-Fetch-Site (set by the
    browser, not the page) says where it comes from; it may not use the control plane
    (e.g. fill its event streams). The vendor routes answer as ever."""
    async with connect(open_app) as client:
        control = await client.http.get("/__mock/state", headers={"Sec-Fetch-Site": site})
        vendor = await client.cancel(SENT["id"], headers={"Sec-Fetch-Site": site})
    if allowed:
        assert control.status_code == 200
    else:
        assert control.status_code == 403
        assert "Sec-Fetch-Site" in control.json()["detail"]
    assert vendor.status_code == 200


async def test_responses_without_origin_carry_no_cors_headers(
    open_app: MockApp, connect: Connect
) -> None:
    async with connect(open_app) as client:
        response = await client.cancel(SENT["id"])
    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]


@pytest.mark.parametrize("app", ["open_app", "any_origin_app"])
async def test_every_answer_varies_on_origin_with_or_without_one(
    request: pytest.FixtureRequest, connect: Connect, app: str
) -> None:
    """Caches must not serve a page's answer (with its CORS headers) to another origin."""
    async with connect(request.getfixturevalue(app)) as client:
        answers = [
            await client.cancel(SENT["id"]),
            await client.revoke({"jwt_id": ACTIVE["jwt_id"]}),
            await client.http.get("/__mock/state"),
            await client.http.post("/nowhere"),
            await client.http.get("/__mock/state", headers={"Origin": LOCAL_PAGE}),
        ]
    for response in answers:
        assert response.headers.get_list("vary") == ["Origin"], response.request.url


@pytest.mark.parametrize(
    ("host", "app", "request_of"),
    [
        pytest.param("127.0.0.1", "open_app", "craftkit", id="craftkit-200"),
        pytest.param("127.0.0.1", "open_app", "firma", id="firma-200"),
        pytest.param("127.0.0.1", "open_app", "unknown", id="unknown-path-404"),
        pytest.param("127.0.0.1", "open_app", "control", id="control-200"),
        pytest.param(REMOTE, "open_app", "control", id="control-403"),
        pytest.param(REMOTE, "token_app", "control", id="control-401"),
    ],
)
async def test_a_page_can_read_every_answer_and_its_rate_limit_headers(
    request: pytest.FixtureRequest, connect: Connect, host: str, app: str, request_of: str
) -> None:
    origin = {"Origin": LOCAL_PAGE}
    async with connect(request.getfixturevalue(app), host) as client:
        if request_of == "craftkit":
            response = await client.cancel(SENT["id"], headers=origin)
        elif request_of == "firma":
            response = await client.revoke({"jwt_id": ACTIVE["jwt_id"]}, headers=origin)
        elif request_of == "unknown":
            response = await client.request("POST", "/nowhere", headers=origin)
        else:
            response = await client.http.get("/__mock/state", headers=origin)
    assert response.headers["access-control-allow-origin"] == LOCAL_PAGE
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed >= EXPOSED
    if request_of == "firma":
        assert "x-ratelimit-remaining" in response.headers


# --- who may use /__mock ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "host", "authorization", "status"),
    [
        pytest.param("open_app", "127.0.0.1", None, 200, id="loopback-no-token"),
        pytest.param("open_app", "127.8.9.10", None, 200, id="loopback-range-no-token"),
        pytest.param("open_app", "::1", None, 200, id="ipv6-loopback-no-token"),
        pytest.param("open_app", "::ffff:127.0.0.1", None, 200, id="ipv4-mapped-loopback"),
        pytest.param("open_app", "::ffff:10.0.0.5", None, 403, id="ipv4-mapped-remote"),
        pytest.param("open_app", REMOTE, None, 403, id="remote-no-token"),
        pytest.param(
            "open_app", "192.168.1.20", f"Bearer {TOKEN}", 403, id="remote-a-token-unasked-for"
        ),
        pytest.param("open_app", "0.0.0.0", None, 403, id="unspecified-address"),
        pytest.param("token_app", "127.0.0.1", None, 401, id="token-set-loopback-missing"),
        pytest.param("token_app", REMOTE, None, 401, id="token-set-remote-missing"),
        pytest.param("token_app", REMOTE, "Bearer wrong-token", 401, id="wrong-token"),
        pytest.param("token_app", REMOTE, f"Bearer {TOKEN}x", 401, id="token-with-suffix"),
        pytest.param("token_app", REMOTE, f"Bearer {TOKEN[:-1]}", 401, id="token-prefix"),
        pytest.param("token_app", REMOTE, TOKEN, 401, id="token-without-scheme"),
        pytest.param("token_app", REMOTE, f"Basic {TOKEN}", 401, id="basic-scheme"),
        pytest.param("token_app", REMOTE, "Bearer ", 401, id="bearer-empty"),
        pytest.param("token_app", REMOTE, f"Bearer {TOKEN}", 200, id="right-token-remote"),
        pytest.param("token_app", "127.0.0.1", f"Bearer {TOKEN}", 200, id="right-token-loopback"),
        pytest.param("token_app", REMOTE, f"bearer {TOKEN}", 200, id="right-token-lower-scheme"),
    ],
)
async def test_control_plane_access_rule(
    request: pytest.FixtureRequest,
    connect: Connect,
    app: str,
    host: str,
    authorization: str | None,
    status: int,
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with connect(request.getfixturevalue(app), host) as client:
        response = await client.http.get("/__mock/state", headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert set(response.json()) == {"session", "craftkit", "firma"}
        return
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], bool(body["detail"])) == (status, True)
    assert TOKEN not in response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        pytest.param("https://evil.example", 403, id="other-site"),
        pytest.param("http://localhost.evil.example:5173", 403, id="look-alike"),
        pytest.param(LOCAL_PAGE, 204, id="local-page"),
        pytest.param("null", 403, id="opaque-origin-sandboxed-page-or-file"),
        pytest.param(None, 204, id="no-origin-curl"),
    ],
)
async def test_a_page_from_another_site_cannot_drive_the_control_plane(
    make_app: AppFactory, connect: Connect, origin: str | None, status: int
) -> None:
    # A simple cross-site POST (text/plain, no preflight) reaches the server whatever
    # CORS says; without a token, the Origin the browser adds is what tells it apart.
    app = make_app()
    async with connect(app) as page:
        assert (await page.cancel(SENT["id"])).status_code == 200
        headers = {"Content-Type": "text/plain", **({"Origin": origin} if origin else {})}
        response = await page.http.post("/__mock/reset", headers=headers)
        assert response.status_code == status, response.text
        after = await page.cancel(SENT["id"])
    assert after.status_code == (409 if status == 403 else 200), "a refused reset changed state"


async def test_an_opaque_origin_drives_the_control_plane_only_when_every_origin_may(
    any_origin_app: MockApp, connect: Connect
) -> None:
    """``--cors-origin '*'`` lets any page drive it; ``null`` is one more page then."""
    async with connect(any_origin_app) as page:
        response = await page.http.post(
            "/__mock/reset", headers={"Content-Type": "text/plain", "Origin": "null"}
        )
    assert response.status_code == 204, response.text


async def test_a_non_ascii_admin_token_matches_as_typed(
    make_app: AppFactory, connect: Connect
) -> None:
    app = make_app(admin_token="sécret-ключ")
    async with connect(app, REMOTE) as client:
        right = await client.http.get(
            "/__mock/state", headers={b"Authorization": "Bearer sécret-ключ".encode()}
        )
        wrong = await client.http.get(
            "/__mock/state", headers={b"Authorization": "Bearer sécret".encode()}
        )
    assert (right.status_code, wrong.status_code) == (200, 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/__mock/reset", id="reset"),
        pytest.param("GET", "/__mock/requests", id="journal"),
        pytest.param("DELETE", "/__mock/requests", id="clear-journal"),
        pytest.param("POST", "/__mock/faults", id="faults"),
        pytest.param("POST", "/__mock/firma/jwts", id="issue"),
        pytest.param("GET", "/__mock", id="base-path"),
        pytest.param("GET", "/__mock/no-such-operation", id="unknown-operation"),
    ],
)
async def test_every_control_path_is_guarded(
    open_app: MockApp, connect: Connect, method: str, path: str
) -> None:
    async with connect(open_app, REMOTE) as client:
        response = await client.http.request(method, path, json={})
    assert response.status_code == 403, "the rule applies before routing: no probing for paths"


@pytest.mark.parametrize(
    ("settings", "host", "authorization", "status"),
    [
        pytest.param({}, REMOTE, None, 403, id="remote"),
        pytest.param({"admin_token": TOKEN}, REMOTE, "Bearer wrong", 401, id="wrong-token"),
    ],
)
async def test_a_refused_control_call_changes_nothing(
    make_app: AppFactory,
    connect: Connect,
    settings: dict[str, Any],
    host: str,
    authorization: str | None,
    status: int,
) -> None:
    app = make_app(**settings)
    headers = {"Authorization": authorization} if authorization else {}
    async with connect(app, host) as outsider:
        outsider.http.headers.pop("X-Mock-Session")
        assert (await outsider.cancel(SENT["id"])).status_code == 200
        fault = {"api": "craftkit", "operation": "cancelSignature", "status": 502}
        refused = [
            await outsider.http.post("/__mock/reset", headers=headers),
            await outsider.http.post("/__mock/faults", json=fault, headers=headers),
            await outsider.http.delete("/__mock/requests", headers=headers),
        ]
    assert [r.status_code for r in refused] == [status] * 3
    async with connect(app) as insider:
        insider.http.headers.pop("X-Mock-Session")
        if settings:
            insider.http.headers["Authorization"] = f"Bearer {TOKEN}"
        assert (await insider.cancel(SENT["id"], key=ACME_TEST_KEY)).status_code == 409
        assert (await insider.http.get("/__mock/faults")).json() == {"faults": []}
        assert len((await insider.http.get("/__mock/requests")).json()["requests"]) == 2


@pytest.mark.parametrize("app", ["open_app", "token_app"])
@pytest.mark.parametrize("host", ["127.0.0.1", REMOTE])
async def test_vendor_routes_ignore_the_control_plane_rule(
    request: pytest.FixtureRequest, connect: Connect, app: str, host: str
) -> None:
    async with connect(request.getfixturevalue(app), host) as client:
        cancel = await client.cancel(SENT["id"])
        revoke = await client.revoke({"jwt_id": ACTIVE["jwt_id"]}, base=FIRMA_BASES[1])
        token_as_key = await client.cancel(SENT["id"], key=TOKEN)
    assert (cancel.status_code, revoke.status_code) == (200, 200)
    assert token_as_key.status_code == 401, "the admin token is no vendor credential"
    assert token_as_key.json()["error"]["code"] == "unauthorized"


# --- Host: DNS rebinding ------------------------------------------------------------------
# A page on attacker.example whose name is then pointed at 127.0.0.1 is the mock's own
# origin to the browser; only the Host it sends tells it apart.

HOST_APPS: dict[str, dict[str, Any]] = {
    "default": {},
    "allowed": {"allowed_hosts": ("mock.internal", "fd00::7")},
    "bound-lan": {"host": "10.0.0.5"},
    "bound-any": {"host": "0.0.0.0"},
    "any-host": {"allowed_hosts": ("*",)},
    "token": {"admin_token": TOKEN},
}


@pytest.fixture(scope="module")
def host_apps() -> dict[str, MockApp]:
    return {name: create_app(Settings(**settings)) for name, settings in HOST_APPS.items()}


HOSTS = [
    ("default", "localhost:8000", True),
    ("default", "LocalHost", True),
    ("default", "localhost.:80", True),
    ("default", "app.localhost:5173", True),
    ("default", "127.0.0.1:8000", True),
    ("default", "127.8.9.10", True),
    ("default", "[::1]:8000", True),
    ("default", "attacker.example", False),
    ("default", "attacker.example:8000", False),
    ("default", "localhost.attacker.example", False),
    ("default", "127.0.0.1.attacker.example", False),
    ("default", "0.0.0.0:8000", False),
    ("default", "10.0.0.5:8000", False),
    ("default", "mock.internal", False),
    ("allowed", "mock.internal:8000", True),
    ("allowed", "MOCK.INTERNAL", True),
    ("allowed", "[fd00::7]:8000", True),
    ("allowed", "localhost:8000", True),
    ("allowed", "other.internal", False),
    ("allowed", "sub.mock.internal", False),
    ("bound-lan", "10.0.0.5:8000", True),
    ("bound-lan", "10.0.0.6:8000", False),
    ("bound-any", "0.0.0.0:8000", False),
    ("bound-any", "attacker.example", False),
    ("bound-any", "localhost:8000", True),
    ("any-host", "attacker.example", True),
]


@pytest.mark.parametrize(
    ("app", "host", "allowed"), [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in HOSTS]
)
async def test_the_control_plane_answers_only_a_host_naming_this_machine(
    host_apps: dict[str, MockApp], connect: Connect, app: str, host: str, allowed: bool
) -> None:
    async with connect(host_apps[app]) as client:  # a loopback peer: only Host decides
        response = await client.http.get("/__mock/state", headers={"Host": host})
        redirect = await client.http.get("/__mock", headers={"Host": host})
    if allowed:
        assert response.status_code == 200, response.text
        assert redirect.status_code == 307
        return
    assert (response.status_code, redirect.status_code) == (403, 403), response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert repr(host) in detail, "the refusal names the Host it refused"
    name = host.rsplit(":", 1)[0].lower()
    assert f"--allowed-host {name} " in detail and "--admin-token" in detail


@pytest.mark.parametrize(
    ("app", "host", "allowed"),
    [("default", "localhost:8000", True), ("any-host", "rebound.attacker.example:8000", False)],
)
async def test_the_own_origin_allowance_needs_a_host_rule(
    host_apps: dict[str, MockApp], connect: Connect, app: str, host: str, allowed: bool
) -> None:
    """A page's own origin may drive the control plane (the dashboard) only where the Host
    rule tells this machine's names from others: under ``--allowed-host '*'`` a DNS-rebound
    page's ``Origin`` names its own ``Host`` too."""
    async with connect(host_apps[app]) as client:
        client.http.headers["Host"] = host
        reset = await client.http.post("/__mock/reset", headers={"Origin": f"http://{host}"})
    if allowed:
        assert reset.status_code == 204, reset.text
    else:
        assert reset.status_code == 403, reset.text
        assert f"refuses pages from http://{host}" in reset.json()["detail"]


@pytest.mark.parametrize(
    ("app", "host", "allowed"), [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in HOSTS]
)
@pytest.mark.parametrize("path", ["/", "/favicon.ico", "/docs/", "/docs", "/docs/control.json"])
async def test_the_docs_pages_answer_only_a_host_naming_this_machine(
    host_apps: dict[str, MockApp],
    connect: Connect,
    app: str,
    host: str,
    allowed: bool,
    path: str,
) -> None:
    """Their "Try it out" drives the mock; a rebound page must not get them either."""
    async with connect(host_apps[app], REMOTE) as client:  # any peer may read the docs
        response = await client.http.get(path, headers={"Host": host})
    if allowed:
        assert response.status_code in (200, 307), response.text
        return
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert repr(host) in response.text and "--allowed-host" in response.text


@pytest.mark.parametrize("host", ["attacker.example", "0.0.0.0:8000", "10.9.9.9"])
async def test_with_a_token_any_host_may_drive_the_control_plane_and_read_the_docs(
    host_apps: dict[str, MockApp], connect: Connect, host: str
) -> None:
    token = {"Authorization": f"Bearer {TOKEN}", "Host": host}
    async with connect(host_apps["token"], REMOTE) as client:
        state = await client.http.get("/__mock/state", headers=token)
        without = await client.http.get("/__mock/state", headers={"Host": host})
        docs = await client.http.get("/docs/", headers={"Host": host})
    assert (state.status_code, without.status_code, docs.status_code) == (200, 401, 200)


@pytest.mark.parametrize("app", ["default", "bound-any"])
async def test_vendor_routes_answer_any_host(
    host_apps: dict[str, MockApp], connect: Connect, app: str
) -> None:
    """A mock reachable under its clients' own names: the Host rule is not theirs."""
    host = {"Host": "attacker.example"}
    async with connect(host_apps[app]) as client:
        cancel = await client.cancel(SENT["id"], headers=host)
        revoke = await client.revoke({"jwt_id": ACTIVE["jwt_id"]}, headers=host)
        unknown = await client.http.post("/nowhere", headers=host)
    assert (cancel.status_code, revoke.status_code, unknown.status_code) == (200, 200, 404)


async def test_a_refused_host_changes_nothing(make_app: AppFactory, connect: Connect) -> None:
    app = make_app()
    async with connect(app) as client:
        assert (await client.cancel(SENT["id"])).status_code == 200
        rebound = {"Host": "attacker.example:8000", "Content-Type": "text/plain"}
        assert (await client.http.post("/__mock/reset", headers=rebound)).status_code == 403
        assert (await client.cancel(SENT["id"])).status_code == 409, "the reset went through"


# --- wrong admin tokens: throttled per address --------------------------------------------


async def test_wrong_admin_tokens_are_throttled_per_address_with_a_growing_wait(
    make_app: AppFactory, connect: Connect, clock: FrozenClock
) -> None:
    app = make_app(admin_token=TOKEN)
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    right = {"Authorization": f"Bearer {TOKEN}"}
    async with connect(app, REMOTE) as guesser, connect(app, "10.0.0.6") as colleague:
        guesses = [await guesser.http.get("/__mock/state", headers=wrong) for _ in range(6)]
        assert [r.status_code for r in guesses] == [401, 401, 401, 401, 401, 429], (
            "5 wrong tokens are 401s, as README and --help say; each further one a 429"
        )
        assert guesses[-1].headers["retry-after"] == "1"
        assert guesses[-1].headers["content-type"] == "application/problem+json"
        assert REMOTE in guesses[-1].json()["detail"]
        locked = await guesser.http.get("/__mock/state", headers=right)
        assert (locked.status_code, locked.headers["retry-after"]) == (429, "1"), (
            "while locked out even the right token waits: guesses are not even compared"
        )
        assert (await colleague.http.get("/__mock/state", headers=right)).status_code == 200
        assert (await colleague.http.get("/__mock/state", headers=wrong)).status_code == 401

        waits = [1]
        for _ in range(4):
            clock.now += waits[-1]  # the wait is over: the next guess is compared
            response = await guesser.http.get("/__mock/state", headers=wrong)
            assert response.status_code == 429
            waits.append(int(response.headers["retry-after"]))
        assert waits == [1, 2, 4, 8, 16], "each further wrong token doubles the wait"

        clock.now += 16
        assert (await guesser.http.get("/__mock/state", headers=right)).status_code == 200
        again = await guesser.http.get("/__mock/state", headers=wrong)
        assert again.status_code == 401, "the right token cleared the address's count"


async def test_requests_without_a_token_are_no_guesses(
    make_app: AppFactory, connect: Connect
) -> None:
    app = make_app(admin_token=TOKEN)
    async with connect(app, REMOTE) as client:
        answers = [await client.http.get("/__mock/state") for _ in range(2 * Throttle.FREE)]
        right = await client.http.get("/__mock/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert {r.status_code for r in answers} == {401}
    assert right.status_code == 200


def test_the_throttle_counts_an_ipv6_slash_64_as_one_address() -> None:
    throttle = Throttle(clock=lambda: 0.0)
    for host in range(1, Throttle.FREE + 2):
        throttle.failed(f"2001:db8:0:1::{host}")
    assert throttle.locked("2001:db8:0:1::ffff") == 1
    assert throttle.locked("2001:db8:0:2::1") is None


def test_the_throttle_waits_at_most_its_longest() -> None:
    throttle = Throttle(clock=lambda: 0.0)
    waits = [throttle.failed(REMOTE) for _ in range(Throttle.FREE + 20)]
    assert waits[-1] == throttle.locked(REMOTE) == Throttle.LONGEST


def test_the_throttle_keeps_locking_out_a_patient_guesser() -> None:
    """Thousands of wrong tokens, each after the lock-out ends: still a lock-out each time
    (2.0 ** 1024 overflowed: a 500, and no lock-out from then on)."""
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    for _ in range(Throttle.FREE + 2000):
        wait = throttle.failed(REMOTE)
        now[0] += wait or 0
    assert throttle.failed(REMOTE) == Throttle.LONGEST
    assert throttle.locked(REMOTE) == Throttle.LONGEST


def test_the_throttle_forgets_a_quiet_address() -> None:
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    for _ in range(Throttle.FREE):
        throttle.failed(REMOTE)
    now[0] += Throttle.FORGET + 1
    assert throttle.failed(REMOTE) is None, "failures long past no longer count"


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = Throttle(clock=lambda: 0.0)
    throttle.ADDRESSES = 3
    for _ in range(Throttle.FREE):
        throttle.failed(REMOTE)
    assert throttle.failed(REMOTE) == 1  # remembered: the next failure locks it out
    for _ in range(Throttle.FREE):
        throttle.failed("10.0.0.7")
    for other in ("10.1.0.1", "10.1.0.2", "10.1.0.3"):
        throttle.failed(other)
    assert throttle.locked(REMOTE) is None, "the least recently failing went first"
    assert throttle.failed("10.0.0.7") is None, "... and its count with it"
