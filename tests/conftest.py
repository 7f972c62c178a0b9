"""Shared test scaffolding: the mock in-process, and a client that checks every answer.

Every response a test receives through :class:`ContractClient` is validated
against the original vendor spec with openapi-core (3.1 for Craftkit), or the
control plane's own document for ``/__mock``, and must never be an undocumented
5xx: a test cannot pass on an off-contract answer.
"""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.responses import ResponseValidator
from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.control import BASE_PATH, DOCUMENT
from mock_server.control.methods import declared_methods

# Debian's chromium driven by Playwright, and a screenshot of each failing test's page
# (tests/_browser.py; re-exported by name so that pytest sees the fixtures and the hook).
from tests._browser import browser as browser
from tests._browser import browser_tab as browser_tab
from tests._browser import pytest_runtest_makereport as pytest_runtest_makereport

# A real redis-server per worker, its URL emptied per test, servers of a test's own
# (the fixtures are in tests/_redis.py; re-exported by name so that pytest sees them).
from tests._redis import redis_server as redis_server
from tests._redis import redis_server_factory as redis_server_factory
from tests._redis import redis_url as redis_url

ROOT = Path(__file__).resolve().parents[1]
SPECS = {
    "craftkit": ROOT / "specs/craftkit.openapi.yaml",
    "firma": ROOT / "specs/firma.openapi.yaml",
}
FIXTURES = {"craftkit": ROOT / "fixtures/craftkit.yaml", "firma": ROOT / "fixtures/firma.yaml"}
FIRMA_BASES = ("/functions/v1/signing-request-api", "/api/v1")

ACME_TEST_KEY = "ck_test_acme_0001"
ACME_LIVE_KEY = "ck_live_acme_0001"
GLOBEX_KEY = "ck_live_globex_0001"
FIRMA_ACME_KEYS = ("firma_acme_0001", "firma_acme_0002")
FIRMA_GLOBEX_KEY = "firma_globex_0001"


def make_rule(target: str) -> tuple[list[str], str]:
    """The Makefile's ``target``: its prerequisites and its recipe (the tab-indented lines)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)*)", makefile, re.M)
    assert rule is not None, f"Makefile: no {target} target"
    return rule.group(1).split(), rule.group(2)


def ensured(tool: str) -> Path:
    """Run ``tools/ensure_<tool>`` (it may install the package) and return the path it
    prints; it must succeed."""
    done = subprocess.run(
        [str(ROOT / "tools" / f"ensure_{tool}")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def fixture_data(api: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURES[api].read_text())
    return data


def signature_requests(**match: Any) -> list[dict[str, Any]]:
    """Bundled Craftkit fixture records whose fields equal ``match``."""
    records = fixture_data("craftkit")["signature_requests"]
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def jwts(**match: Any) -> list[dict[str, Any]]:
    records = fixture_data("firma")["jwts"]
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


NOT_UUID_STRINGS: list[tuple[str, Callable[[str], str]]] = [
    # Python's uuid.UUID, and so the OAS `uuid` format checks, read each of these (it
    # drops braces, `urn:` and `uuid:` anywhere, and every hyphen, then int(..., 16)
    # takes any script's digits, `_` and spaces); the library then only asks for
    # hyphens at 8, 13, 18 and 23, which each keeps.
    ("trailing-brace", lambda u: u + "}"),
    ("trailing-hyphen", lambda u: u + "-"),
    ("arabic-indic-digits", lambda u: u[:-2] + "\u0661\u0662"),
    ("fullwidth-digits", lambda u: u[:-2] + "\uff11\uff12"),
    ("underscore-for-a-digit", lambda u: u[:30] + "_" + u[31:]),
    ("space-for-a-digit", lambda u: " " + u[1:]),
    ("uuid-prefix", lambda u: "uuid:" + u[5:] + u[:5]),
    ("urn-prefix", lambda u: "urn:" + u[4:] + u[:4]),
    # ...and these, which the library already refuses (docs/behaviour.md names them).
    ("braces", lambda u: "{" + u + "}"),
    ("urn-uuid-prefix", lambda u: "urn:uuid:" + u),
    ("no-hyphens", lambda u: u.replace("-", "")),
]
"""Spellings of a uuid that are not uuid strings (docs/behaviour.md: 36 characters, ASCII
hex digits in any case, hyphens at 8-4-4-4-12): the mock refuses or misses each."""


def not_uuid_strings(uuid_string: str) -> list[Any]:
    """:data:`NOT_UUID_STRINGS` of ``uuid_string``, as a table of ``pytest.param`` with ids."""
    return [pytest.param(spell(uuid_string), id=name) for name, spell in NOT_UUID_STRINGS]


@dataclass
class FrozenClock:
    """A clock tests move by hand."""

    now: float = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ContractClient:
    """httpx over the ASGI app; each answer is checked against its spec."""

    http: httpx.AsyncClient
    app: MockApp
    validators: dict[str, ResponseValidator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http.event_hooks["response"].append(self.check_control)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, url, **kwargs)
        assert response.status_code < 500 or response.status_code == 502, (
            f"undocumented {response.status_code} for {method} {url}: {response.text}"
        )
        validator = self._validator_for(method, response.request.url.path)
        if validator is not None:
            errors = validator.errors(response)
            assert not errors, f"{method} {url} answered off-contract: {errors}"
        return response

    async def check_control(self, response: httpx.Response) -> None:
        """The control plane's answer to any request of a test (``http`` calls too) against
        its document: it must describe every answer the control plane gives."""
        request, validator = response.request, self.validators.get("control")
        if validator is None or not request.url.path.startswith(BASE_PATH + "/"):
            return
        method, path = request.method, request.url.path
        # Only declared operations have declared answers (a 405 is the document's rule).
        if method != "HEAD" and any(
            pattern.fullmatch(path) and method in methods for pattern, methods in _CONTROL_PATHS
        ):
            await response.aread()
            errors = validator.validation_errors(response)
            assert not errors, f"{method} {request.url} answered off-contract: {errors}"

    def _validator_for(self, method: str, url: str) -> ResponseValidator | None:
        # Only declared operations have declared answers to check against.
        if method != "POST":
            return None
        if re.fullmatch(r"/v1/signatures/[^/]+/cancel", url):
            return self.validators["craftkit"]
        for base in FIRMA_BASES:
            if url == f"{base}/jwt/revoke-signing-request":
                return self.validators[base]
        return None

    async def state(self, session: str | None = None) -> dict[str, Any]:
        """``GET /__mock/state``: every record of the session, as the control plane shows it."""
        headers = {"X-Mock-Session": session} if session else {}
        response = await self.http.get("/__mock/state", headers=headers)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    async def signature_requests(self, session: str | None = None) -> list[dict[str, Any]]:
        state = await self.state(session)
        records: list[dict[str, Any]] = state["craftkit"]["signature_requests"]
        return records

    async def jwts(self, session: str | None = None) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = (await self.state(session))["firma"]["jwts"]
        return records

    async def cancel(
        self, signature_id: str, key: str | None = ACME_TEST_KEY, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        return await self.request(
            "POST", f"/v1/signatures/{signature_id}/cancel", headers=headers, **kwargs
        )

    async def revoke(
        self,
        body: Any = None,
        key: str | None = FIRMA_ACME_KEYS[0],
        *,
        base: str = FIRMA_BASES[0],
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers.setdefault("Authorization", key)
        if body is not None:
            kwargs["json"] = body
        return await self.request(
            "POST", f"{base}/jwt/revoke-signing-request", headers=headers, **kwargs
        )


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The ``application/problem+json`` body of a refusal, checked for shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _shares_app(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("own_app") is None


@pytest.fixture(scope="module")
def module_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="module")
def module_app(module_clock: FrozenClock) -> MockApp:
    return create_app(Settings(), clock=module_clock)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FrozenClock:
    """A frozen clock: the module app's, back at the start (``own_app``: a clock of its own)."""
    if not _shares_app(request):
        return FrozenClock()
    shared: FrozenClock = request.getfixturevalue("module_clock")
    shared.now = FrozenClock().now
    return shared


AppFactory = Callable[..., MockApp]


@pytest.fixture
def make_app(clock: FrozenClock) -> AppFactory:
    def build(**overrides: Any) -> MockApp:
        return create_app(Settings(**overrides), clock=clock)

    return build


@pytest.fixture
async def mock(
    request: pytest.FixtureRequest, make_app: AppFactory
) -> AsyncIterator[ContractClient]:
    """The mock with the bundled fixtures, and a validating client for it.

    The tests of a module share one app (building one takes about 0.2 s) and each
    test's requests name an ``X-Mock-Session`` of its own, so every test still starts
    from the fixtures and never sees another's changes. A test that changes the app
    itself, or needs the ``default`` session, is marked ``own_app``.
    """
    if _shares_app(request):
        async with _client(request.getfixturevalue("module_app")) as client:
            client.http.headers["X-Mock-Session"] = f"test-{uuid.uuid4().hex}"
            yield client
        return
    async with _client(make_app()) as client:
        yield client


@contextlib.asynccontextmanager
async def _client(app: MockApp) -> AsyncIterator[ContractClient]:
    await app.start()  # what the server's lifespan does: httpx's transport sends none
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield ContractClient(http, app, _validators())


def spec_responses(api: str) -> dict[int, dict[str, Any]]:
    """The one operation's ``application/json`` responses by status, read from the spec here
    (never through the mock's own reading of it, so a wrong choice by the mock cannot hide)."""
    document = yaml.safe_load(SPECS[api].read_text())

    def deref(node: Any) -> Any:
        while "$ref" in node:
            target = document
            for token in node["$ref"].removeprefix("#/").split("/"):
                target = target[token]
            node = target
        return node

    [item] = document["paths"].values()
    return {
        int(status): deref(response)["content"]["application/json"]
        for status, response in item["post"]["responses"].items()
    }


_CONTROL_PATHS = declared_methods(yaml.safe_load(DOCUMENT.read_text()), BASE_PATH)


@functools.cache
def _validators() -> dict[str, ResponseValidator]:
    """Built once per run: openapi-core's spec objects are slow to make and never change."""
    validators = {
        "craftkit": ResponseValidator.from_path(SPECS["craftkit"], base_url="http://localhost"),
        "control": ResponseValidator.from_path(DOCUMENT, base_url=f"http://localhost{BASE_PATH}"),
    }
    for base in FIRMA_BASES:
        validators[base] = ResponseValidator.from_path(
            SPECS["firma"], base_url=f"http://localhost{base}"
        )
    return validators


def store_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``--store`` URL of a parametrised ``store`` (``memory``, ``sqlite``, ``redis``):
    SQLite in ``tmp_path``, Redis the real server (``redis_url``)."""
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'mock.db'}"
    if store == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return store


@pytest.fixture
def client_for() -> Callable[[MockApp], contextlib.AbstractAsyncContextManager[ContractClient]]:
    """``async with client_for(app) as client`` for tests that build their own app."""
    return _client
