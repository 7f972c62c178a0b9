"""The dashboard's files (``/__mock/ui/``): what is served, with which headers, to whom.

The page itself is driven in a real browser by ``tests/browser/test_dashboard.py``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files
from uuid import uuid4

import httpx
import pytest

from mock_server.app import MockApp
from mock_server.control.page import HEADERS, Page
from tests.mock_server.conftest import TOKEN, Connect

pytestmark = pytest.mark.anyio

UI = "/__mock/ui/"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("", "text/html; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ],
)
async def test_each_file_is_served_with_its_type_and_the_page_headers(
    connect: Connect, open_app: MockApp, name: str, media_type: str
) -> None:
    async with connect(open_app) as client:
        http = client.http
        response = await http.get(UI + name)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    for header, value in HEADERS.items():
        assert response.headers[header] == value
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    shipped = files("mock_server.control") / "ui" / (name or "index.html")
    assert response.content == shipped.read_bytes()


async def test_the_bare_path_redirects_to_the_folder_keeping_the_query(
    connect: Connect, open_app: MockApp
) -> None:
    async with connect(open_app) as client:
        http = client.http
        bare = await http.get("/__mock/ui")
        query = await http.get("/__mock/ui?x=1")
    assert (bare.status_code, bare.headers["location"]) == (307, UI)
    assert query.headers["location"] == UI + "?x=1"


@pytest.mark.parametrize(
    "path",
    [
        "/__mock/ui/nope.js",
        "/__mock/ui/%2e%2e/openapi.yaml",
        "/__mock/ui/page.py",
        "/__mock/ui/app.js/",
        "/__mock/ui//app.js",
    ],
)
async def test_a_file_not_shipped_is_a_404(connect: Connect, open_app: MockApp, path: str) -> None:
    async with connect(open_app) as client:
        http = client.http
        response = await http.get(path)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_only_get_and_head(connect: Connect, open_app: MockApp) -> None:
    async with connect(open_app) as client:
        http = client.http
        post = await http.post(UI + "app.js")
        head = await http.head(UI + "app.js")
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert head.status_code == 200 and head.content == b""


async def test_serving_the_page_starts_no_session(connect: Connect, open_app: MockApp) -> None:
    async with connect(open_app) as client:
        http = client.http
        before = (await http.get("/__mock/health")).json()["sessions"]
        for name in ("", "app.js", "app.css"):
            await http.get(UI + name, headers={"X-Mock-Session": f"page-{uuid4().hex}"})
        assert (await http.get("/__mock/health")).json()["sessions"] == before


@pytest.mark.parametrize(
    ("peer", "host", "headers", "fragment"),
    [
        ("10.0.0.5", "127.0.0.1:8000", {}, "loopback clients only"),
        ("127.0.0.1", "attacker.example", {}, "DNS rebinding"),
        ("127.0.0.1", "127.0.0.1:8000", {"Origin": "https://evil.example"}, "refuses pages"),
        ("127.0.0.1", "127.0.0.1:8000", {"Sec-Fetch-Site": "cross-site"}, "without an Origin"),
    ],
    ids=["remote", "rebound-host", "other-origin", "cross-site-no-origin"],
)
async def test_without_a_token_the_files_follow_the_control_planes_rules(
    connect: Connect,
    open_app: MockApp,
    peer: str,
    host: str,
    headers: dict[str, str],
    fragment: str,
) -> None:
    async with connect(open_app, peer) as client:
        http = client.http
        http.headers["Host"] = host
        page = await http.get(UI, headers=headers)
        state = await http.get("/__mock/state", headers=headers)
    assert page.status_code == state.status_code == 403
    assert fragment in page.json()["detail"]


NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"}
"""What Chromium sends when a link on another page is clicked: no ``Origin`` on a GET."""


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
async def test_a_link_from_another_page_opens_the_dashboard_and_nothing_else(
    connect: Connect, open_app: MockApp, site: str
) -> None:
    """The frontend under development (another port: same-site; another name: cross-site)
    may link the dashboard: its files hold no data, and its calls then carry its own
    ``Origin``. The data, and the files framed or fetched by that page, stay refused."""
    async with connect(open_app) as client:
        http = client.http
        http.headers["Host"] = "127.0.0.1:8000"
        page = await http.get(UI, headers={**NAVIGATION, "Sec-Fetch-Site": site})
        framed = await http.get(
            UI, headers={**NAVIGATION, "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": site}
        )
        script = {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script", "Sec-Fetch-Site": site}
        fetched = await http.get(UI + "app.js", headers=script)
        data = await http.get("/__mock/state", headers={**NAVIGATION, "Sec-Fetch-Site": site})
    assert page.status_code == 200, page.text
    assert framed.status_code == fetched.status_code == data.status_code == 403


async def test_with_a_token_the_files_are_served_without_it_and_the_data_are_not(
    connect: Connect,
    token_app: MockApp,
) -> None:
    async with connect(token_app, "10.0.0.5") as client:
        http = client.http
        http.headers["Host"] = "mock.example"
        for name in ("", "app.js", "app.css"):
            assert (await http.get(UI + name)).status_code == 200
        refused = await http.get("/__mock/state")
        allowed = await http.get("/__mock/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    assert allowed.status_code == 200


async def test_the_mocks_own_origin_may_drive_the_control_plane_whatever_cors_origin_says(
    connect: Connect,
    custom_origins_app: MockApp,
) -> None:
    # Started with --cors-origin https://app.example: the dashboard at localhost:8000 sends
    # Origin http://localhost:8000 on its POSTs. Another local page may not.
    async with connect(custom_origins_app) as client:
        http = client.http
        http.headers["Host"] = "localhost:8000"
        own = await http.post("/__mock/reset", headers={"Origin": "http://localhost:8000"})
        other_port = await http.post("/__mock/reset", headers={"Origin": "http://localhost:3000"})
        other_host = await http.post("/__mock/reset", headers={"Origin": "http://127.0.0.1:8000"})
        listed = await http.post("/__mock/reset", headers={"Origin": "https://app.example"})
    assert own.status_code == 204, own.text
    assert other_port.status_code == other_host.status_code == 403
    assert listed.status_code == 204


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[tuple[str, str]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.data.append((self._open[-1], data))


async def test_the_page_has_no_inline_script_or_style_and_names_only_shipped_files(
    connect: Connect,
    open_app: MockApp,
) -> None:
    parser = _Tags()
    async with connect(open_app) as client:
        http = client.http
        parser.feed((await http.get(UI)).text)
        for tag, attrs in parser.tags:
            assert "style" not in attrs, tag
            assert not any(name.startswith("on") for name in attrs), (tag, attrs)
            assert tag != "style"
            reference = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
            if reference:
                assert (await http.get(httpx.URL(UI).join(reference).path)).status_code == 200
        assert [tag for tag, _ in parser.data if tag in ("script", "style")] == []
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "app.js"}]


def test_the_files_are_package_data() -> None:
    # Read through importlib.resources, as installed (tests/e2e/test_install.py fetches
    # one from the installed wheel).
    assert set(Page().files) == {"index.html", "app.js", "app.css"}
    assert not re.search(r"https?://", Page().files["app.js"][0].decode()), "no CDN, no host"


async def test_the_landing_page_links_the_dashboard(connect: Connect, open_app: MockApp) -> None:
    async with connect(open_app) as client:
        http = client.http
        landing = await http.get("/")
    assert f'href="{UI}"' in landing.text
