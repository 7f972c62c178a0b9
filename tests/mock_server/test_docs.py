"""The documentation pages: landing page, Swagger UI and its assets, the served documents."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mock_server.docs import DocsApp, Document

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
FIRMA_BASES = ["/functions/v1/signing-request-api", "/api/v1"]
TITLES = {
    "craftkit": "Craftkit API (OpenAPI 3.1.0)",
    "firma": "Firma Partner API (OpenAPI 3.0.3)",
    "control": "Mock control plane",
}
# Hostile text in a document: the pages must show it, never run it.
EVIL_TITLE = "Evil <script>alert(1)</script> & co"
EVIL_PATH = "/x/<b>{id}</b>"


def _spec(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / f"specs/{name}.openapi.yaml").read_text())
    return data


CONTROL_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Mock control plane", "version": "1"},
    "servers": [{"url": "http://localhost:8000/__mock"}],
    "paths": {
        "/reset": {"post": {"responses": {"204": {"description": "reset"}}}},
        "/requests": {
            "get": {"responses": {"200": {"description": "journal"}}},
            "delete": {"responses": {"204": {"description": "cleared"}}},
        },
    },
}
ORIGINALS = {"craftkit": _spec("craftkit"), "firma": _spec("firma"), "control": CONTROL_DOC}
BASES = {"craftkit": [""], "firma": FIRMA_BASES, "control": ["/__mock"]}
PRISTINE = copy.deepcopy(ORIGINALS)


def _documents() -> list[Document]:
    return [
        Document(n, TITLES[n], ORIGINALS[n], BASES[n]) for n in ("craftkit", "firma", "control")
    ]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def docs() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=DocsApp(_documents()))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        yield client


class _Refs(HTMLParser):
    """The URLs a page makes the browser fetch or follow, and its visible text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.text = ""
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        elif tag in ("link", "script") and (found.get("href") or found.get("src")):
            self.assets.append(str(found.get("href") or found.get("src")))

    def handle_data(self, data: str) -> None:
        self.text += data


def _swagger_config(page: str) -> dict[str, Any]:
    found = re.search(r'<script id="swagger-config" type="application/json">(.*?)</script>', page)
    assert found, "the Swagger UI page carries its configuration as a JSON script element"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_landing_page_lists_each_api_its_operations_and_links(
    docs: httpx.AsyncClient,
) -> None:
    response = await docs.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _Refs(response.text)
    assert "Contract mock: Craftkit and Firma" in page.text
    # Named literally, so an empty operation list cannot pass.
    assert "POST /v1/signatures/{id}/cancel at /" in page.text
    assert "POST /jwt/revoke-signing-request at " + ", ".join(FIRMA_BASES) in page.text
    for name, original in ORIGINALS.items():
        assert TITLES[name] in page.text
        for path, item in original["paths"].items():
            for method in set(item) - {"parameters", "summary", "description", "servers"}:
                assert f"{method.upper()} {path}" in page.text
        assert f"/docs/{name}.json" in page.links
    assert "/docs/?urls.primaryName=Craftkit%20API%20%28OpenAPI%203.1.0%29" in page.links
    assert "/docs/?urls.primaryName=Firma%20Partner%20API%20%28OpenAPI%203.0.3%29" in page.links
    assert "/docs/?urls.primaryName=Mock%20control%20plane" in page.links


async def test_landing_page_explains_the_control_plane(docs: httpx.AsyncClient) -> None:
    text = _Refs((await docs.get("/")).text).text
    control = text[text.index("Control plane") :]
    for needed in ("X-Mock-Session", "isolated copy of the fixture world", "/__mock", "loopback"):
        assert needed in control
    assert "--admin-token" in control
    assert "POST /reset at /__mock" in control


async def test_pages_escape_text_taken_from_documents() -> None:
    evil = {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}}
    evil["paths"] = {EVIL_PATH: {"get": {"responses": {"200": {"description": "ok"}}}}}
    app = DocsApp([Document("evil", EVIL_TITLE, evil, ["/<i>"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as c:
        landing = (await c.get("/")).text
        swagger = (await c.get("/docs/")).text
    for raw in ("<script>alert(1)</script>", "<b>", "<i>"):
        assert raw not in landing
        assert raw not in swagger
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in landing
    assert "GET /x/&lt;b&gt;{id}&lt;/b&gt;" in landing
    assert _swagger_config(swagger)["urls"] == [{"url": "/docs/evil.json", "name": EVIL_TITLE}]


async def test_swagger_ui_offers_every_document_in_the_given_order(
    docs: httpx.AsyncClient,
) -> None:
    response = await docs.get("/docs/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    config = _swagger_config(response.text)
    assert config["urls"] == [
        {"url": "/docs/craftkit.json", "name": TITLES["craftkit"]},
        {"url": "/docs/firma.json", "name": TITLES["firma"]},
        {"url": "/docs/control.json", "name": TITLES["control"]},
    ]
    assert config["deepLinking"] is True
    assert config["layout"] == "StandaloneLayout"
    assert "SwaggerUIStandalonePreset" in response.text
    for entry in config["urls"]:
        assert (await docs.get(entry["url"])).status_code == 200


async def test_every_asset_the_page_references_is_served(docs: httpx.AsyncClient) -> None:
    assets = _Refs((await docs.get("/docs/")).text).assets
    expected = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}
    assert {a.rsplit("/", 1)[-1] for a in assets} >= expected
    kinds = {".css": "text/css", ".js": "javascript", ".png": "image/png"}
    for url in assets:
        assert url.startswith("/docs/static/")
        response = await docs.get(url)
        assert response.status_code == 200, url
        assert kinds[Path(url).suffix] in response.headers["content-type"], url
        assert response.content, url
        if url.endswith("swagger-ui-bundle.js"):
            # Swagger UI 5: the Craftkit document is OpenAPI 3.1.0.
            assert b"isOAS31" in response.content


@pytest.mark.parametrize("name", ["craftkit", "firma", "control"])
async def test_document_points_servers_at_this_mock_and_is_otherwise_verbatim(
    docs: httpx.AsyncClient, name: str
) -> None:
    response = await docs.get(f"/docs/{name}.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    expected = [{"url": b or "/", "description": "this mock"} for b in BASES[name]]
    assert served.pop("servers") == expected
    original = json.loads(json.dumps({k: v for k, v in ORIGINALS[name].items() if k != "servers"}))
    assert served == _inlined_by_hand(original)
    assert ORIGINALS[name] == PRISTINE[name], (
        "serving a document must not mutate the caller's mapping"
    )


def _inlined_by_hand(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each local parameter ``$ref`` of its paths replaced by its target
    (the reference's own ``description`` winning), written apart from the code under test."""
    result = copy.deepcopy(document)

    def target(ref: dict[str, Any]) -> dict[str, Any]:
        node: Any = document
        for part in ref["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        node = target(node) if "$ref" in node else node
        return {**node, **{k: v for k, v in ref.items() if k in ("summary", "description")}}

    for item in result.get("paths", {}).values():
        for owner in [item, *(v for k, v in item.items() if k in ("get", "post", "put", "delete"))]:
            if "parameters" in owner:
                owner["parameters"] = [target(p) if "$ref" in p else p for p in owner["parameters"]]
    return result


async def test_craftkit_path_parameter_is_inlined_for_swagger_ui(
    docs: httpx.AsyncClient,
) -> None:
    # Swagger UI 5 shows a path-level $ref opened by a deep link as "any ()" and sends a
    # literal {id}: the served copy carries the parameter itself; components stay.
    served = (await docs.get("/docs/craftkit.json")).json()
    item = served["paths"]["/v1/signatures/{id}/cancel"]
    component = ORIGINALS["craftkit"]["components"]["parameters"]["SignatureId"]
    assert item["parameters"] == [component]
    assert served["components"] == json.loads(json.dumps(ORIGINALS["craftkit"]["components"]))
    assert "$ref" not in json.dumps(item["parameters"])


_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


@pytest.mark.parametrize(
    ("parameters", "served"),
    [
        pytest.param([{"$ref": "#/components/parameters/Id"}], [_PARAM], id="local"),
        pytest.param([{"$ref": "#/components/parameters/Alias"}], [_PARAM], id="chained"),
        pytest.param(
            [{"$ref": "#/components/parameters/Id", "description": "mine"}],
            [{**_PARAM, "description": "mine"}],
            id="reference-description-wins",
        ),
        pytest.param([{"$ref": "#/components/parameters/A~1b"}], [_PARAM], id="escaped-pointer"),
        pytest.param(
            [{"$ref": "#/components/parameters/Missing"}],
            [{"$ref": "#/components/parameters/Missing"}],
            id="dangling-kept",
        ),
        pytest.param(
            [{"$ref": "other.yaml#/Id"}], [{"$ref": "other.yaml#/Id"}], id="external-kept"
        ),
        pytest.param(
            [{"$ref": "#/components/parameters/Loop"}],
            [{"$ref": "#/components/parameters/Loop"}],
            id="cycle-kept",
        ),
        pytest.param([_PARAM], [_PARAM], id="inline-unchanged"),
    ],
)
@pytest.mark.parametrize("level", ["path", "operation"])
async def test_parameter_refs_are_inlined_at_path_and_operation_level(
    parameters: list[dict[str, Any]], served: list[dict[str, Any]], level: str
) -> None:
    item: dict[str, Any] = {"post": {"responses": {"200": {"description": "ok"}}}}
    owner = item if level == "path" else item["post"]
    owner["parameters"] = parameters
    document = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "paths": {"/x/{id}": item},
        "components": {
            "parameters": {
                "Id": _PARAM,
                "Alias": {"$ref": "#/components/parameters/Id"},
                "A/b": _PARAM,
                "Loop": {"$ref": "#/components/parameters/Loop"},
            }
        },
    }
    pristine = copy.deepcopy(document)
    transport = httpx.ASGITransport(app=DocsApp([Document("t", "T", document, [""])]))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        answer = (await client.get("/docs/t.json")).json()
    got = answer["paths"]["/x/{id}"]
    assert (got if level == "path" else got["post"])["parameters"] == served
    assert answer["components"] == pristine["components"]
    assert document == pristine


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/docs/nope.json", id="unknown-document"),
        pytest.param("/docs/craftkit.yaml", id="wrong-suffix"),
        pytest.param("/docs/craftkit.json/", id="trailing-slash"),
        pytest.param("/docs/static/missing.js", id="missing-asset"),
        pytest.param("/docs/static/", id="asset-directory"),
        pytest.param("/docs/anything", id="other-path"),
    ],
)
async def test_other_paths_under_docs_are_404(docs: httpx.AsyncClient, path: str) -> None:
    response = await docs.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "location"),
    [
        pytest.param("/docs", "/docs/", id="bare"),
        pytest.param("/docs?urls.primaryName=Firma", "/docs/?urls.primaryName=Firma", id="query"),
    ],
)
async def test_docs_redirects_to_the_slash(
    docs: httpx.AsyncClient, path: str, location: str
) -> None:
    response = await docs.get(path)
    assert response.status_code == 307
    assert response.headers["location"] == location


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="landing"),
        pytest.param("/docs", id="redirect"),
        pytest.param("/docs/", id="swagger-ui"),
        pytest.param("/docs/firma.json", id="document"),
        pytest.param("/docs/static/swagger-ui.css", id="asset"),
    ],
)
async def test_head_is_answered_and_other_methods_are_405_with_allow(
    docs: httpx.AsyncClient, path: str
) -> None:
    head = await docs.head(path)
    assert head.status_code == (307 if path == "/docs" else 200)
    for method in ("POST", "PUT", "DELETE"):
        response = await docs.request(method, path)
        assert response.status_code == 405
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == {"GET", "HEAD"}


async def test_favicon_is_served_so_a_browser_viewing_a_document_logs_no_failed_load(
    docs: httpx.AsyncClient,
) -> None:
    response = await docs.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("path", "owned"),
    [
        pytest.param("/", True, id="landing"),
        pytest.param("/docs", True, id="docs-bare"),
        pytest.param("/docs/", True, id="swagger-ui"),
        pytest.param("/docs/craftkit.json", True, id="document"),
        pytest.param("/docs/static/swagger-ui-bundle.js", True, id="asset"),
        pytest.param("/favicon.ico", True, id="favicon"),
        pytest.param("/docsx", False, id="docs-prefix-only"),
        pytest.param("/documents", False, id="similar-word"),
        pytest.param("/v1/signatures/sr_1/cancel", False, id="craftkit"),
        pytest.param("/api/v1/jwt/revoke-signing-request", False, id="firma"),
        pytest.param("/__mock/reset", False, id="control-plane"),
    ],
)
def test_owns(path: str, owned: bool) -> None:
    assert DocsApp.owns(path) is owned


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["craftkit", "craftkit"], id="duplicate"),
        pytest.param(["Craftkit"], id="upper-case"),
        pytest.param(["craft kit"], id="space"),
        pytest.param([""], id="empty"),
    ],
)
def test_document_names_must_be_unique_slugs(names: list[str]) -> None:
    with pytest.raises(ValueError, match="unique slug"):
        DocsApp([Document(n, n, CONTROL_DOC, ["/__mock"]) for n in names])
