"""The browsable documentation: a landing page, Swagger UI, and each served document as JSON.

Swagger UI 5 (it renders OpenAPI 3.1) comes from the ``swagger-ui-py`` package's static
files; only its assets are used, none of its framework handlers.

>>> control = {"openapi": "3.1.0", "info": {"title": "Control", "version": "1"}, "paths": {}}
>>> docs = DocsApp([Document("control", "Control plane", control, ["/__mock"])])
>>> DocsApp.owns("/docs/control.json"), DocsApp.owns("/__mock/reset")
(True, False)
"""

from __future__ import annotations

import datetime
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from mock_server.documented import METHODS

__all__ = ["CONTROL", "DocsApp", "Document"]

CONTROL = "control"
"""The :attr:`Document.name` the landing page shows as the control plane, not as an API."""

_TITLE = "Contract mock: Craftkit and Firma"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
_ASSETS = "/docs/static"
_FAVICON = "/favicon.ico"
_DASHBOARD = "/__mock/ui/"
"""The control plane's state dashboard (``control/page.py``), linked from the landing page."""
_SHARED = ("/", _FAVICON)
"""Paths also under Craftkit's base path ``/``: the docs answer only a GET or HEAD there."""


@dataclass(frozen=True)
class Document:
    """One OpenAPI document and where this mock serves it.

    >>> Document("control", "Control plane", {"paths": {}}, ["/__mock"]).base_paths
    ['/__mock']
    """

    name: str
    """URL slug: ``/docs/<name>.json``; :data:`CONTROL` for the control plane."""
    title: str
    """Shown in Swagger UI's dropdown and on the landing page."""
    document: Mapping[str, Any]
    """As loaded from YAML; never mutated."""
    base_paths: Sequence[str]
    """Prefixes this mock serves the document's paths under (``""`` is the root)."""


class DocsApp:
    """ASGI app answering ``/``, ``/docs`` and everything under ``/docs/``.

    >>> DocsApp.owns("/"), DocsApp.owns("/docs/"), DocsApp.owns("/v1/signatures/x/cancel")
    (True, True, False)
    """

    def __init__(self, documents: Sequence[Document]) -> None:
        self._documents = list(documents)
        self._json: dict[str, bytes] = {}
        for doc in self._documents:
            if not _SLUG.fullmatch(doc.name) or doc.name in self._json:
                raise ValueError(f"document name {doc.name!r} must be a unique slug ([a-z0-9-])")
            self._json[doc.name] = _served_json(doc)
        static = Path(str(files("swagger_ui") / "static"))
        self._app = Starlette(
            routes=[
                Route("/", self._landing, methods=["GET"]),
                Route(_FAVICON, self._favicon, methods=["GET"]),
                Route("/docs", self._to_slash, methods=["GET"]),
                Route("/docs/", self._swagger_ui, methods=["GET"]),
                Route("/docs/{name}.json", self._document, methods=["GET"]),
                Mount(_ASSETS, app=StaticFiles(directory=static)),
            ]
        )
        # "/docs/x.json/" is a 404 like any other unknown path, not a redirect.
        self._app.router.redirect_slashes = False
        self._favicon_png = static / "favicon-32x32.png"

    @staticmethod
    def owns(path: str) -> bool:
        """Whether ``path`` is one of this app's (the APIs' own paths never are)."""
        return path in (*_SHARED, "/docs") or path.startswith("/docs/")

    @staticmethod
    def answers(path: str, method: str) -> bool:
        """Whether a request for ``path`` is this app's: ``/`` and ``/favicon.ico`` are
        under Craftkit's base path too, so only a browser's GET or HEAD there is.

        >>> DocsApp.answers("/favicon.ico", "GET"), DocsApp.answers("/favicon.ico", "POST")
        (True, False)
        """
        return DocsApp.owns(path) and (path not in _SHARED or method in ("GET", "HEAD"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A copy: Starlette sets scope["app"], which the enclosing app may read afterwards.
        await self._app(dict(scope), receive, send)

    async def _landing(self, request: Request) -> Response:
        apis = [d for d in self._documents if d.name != CONTROL]
        control = [d for d in self._documents if d.name == CONTROL]
        body = "".join(_section(d, f"<h2>{html.escape(d.title)}</h2>") for d in apis)
        body += (
            "<h2>Control plane</h2><p>Send an <code>X-Mock-Session</code> header to pick a"
            " session: each session name is an isolated copy of the fixture world, so"
            " parallel tests never see each other's changes. <code>/__mock</code> answers"
            " loopback clients only, under this machine's names (<code>localhost</code>,"
            " <code>--allowed-host</code>), unless the mock was started with an admin token"
            " (<code>--admin-token-file</code>, <code>MOCK_ADMIN_TOKEN</code>,"
            " <code>--admin-token</code>).</p>"
        )
        body += "".join(_section(d, f"<h3>{html.escape(d.title)}</h3>") for d in control)
        return HTMLResponse(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{_TITLE}</title>"
            f'<link rel="icon" type="image/png" href="{_ASSETS}/favicon-32x32.png">'
            "<style>body{font-family:sans-serif;max-width:52rem;margin:2rem auto;"
            "padding:0 1rem}li{margin:.2rem 0}</style></head><body>"
            f"<h1>{_TITLE}</h1><p>Browse every document in "
            f'<a href="/docs/">Swagger UI</a>; its "Try it out" calls this mock.</p>'
            f'<p>See and change the state of a session, live: the <a href="{_DASHBOARD}">state'
            " dashboard</a> (records of both APIs, their events, the journal of requests and"
            " why each was answered so, faults).</p>"
            f"{body}</body></html>"
        )

    async def _favicon(self, request: Request) -> Response:
        # Asked by a browser showing a page with no icon of its own (a JSON document, a
        # control-plane answer): without it each such view logs a failed load, and the
        # request would be a vendor 404 in the journal.
        return FileResponse(self._favicon_png, media_type="image/png")

    async def _to_slash(self, request: Request) -> Response:
        query = request.url.query
        return RedirectResponse("/docs/" + (f"?{query}" if query else ""), status_code=307)

    async def _swagger_ui(self, request: Request) -> Response:
        config = {
            "dom_id": "#swagger-ui",
            "urls": [{"url": f"/docs/{d.name}.json", "name": d.title} for d in self._documents],
            "deepLinking": True,
            "layout": "StandaloneLayout",
        }
        # "<" escaped so no document title can close the <script> element.
        config_json = json.dumps(config).replace("<", "\\u003c")
        return HTMLResponse(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{_TITLE}: Swagger UI</title>"
            f'<link rel="stylesheet" href="{_ASSETS}/swagger-ui.css">'
            f'<link rel="stylesheet" href="{_ASSETS}/index.css">'
            f'<link rel="icon" type="image/png" href="{_ASSETS}/favicon-32x32.png" sizes="32x32">'
            f'<link rel="icon" type="image/png" href="{_ASSETS}/favicon-16x16.png" sizes="16x16">'
            '</head><body><div id="swagger-ui"></div>'
            f'<script id="swagger-config" type="application/json">{config_json}</script>'
            f'<script src="{_ASSETS}/swagger-ui-bundle.js" charset="UTF-8"></script>'
            f'<script src="{_ASSETS}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>'
            "<script>window.onload = function () {"
            ' var config = JSON.parse(document.getElementById("swagger-config").textContent);'
            " config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset];"
            " config.plugins = [SwaggerUIBundle.plugins.DownloadUrl];"
            " window.ui = SwaggerUIBundle(config); };</script></body></html>"
        )

    async def _document(self, request: Request) -> Response:
        served = self._json.get(request.path_params["name"])
        if served is None:
            return PlainTextResponse("Not Found", status_code=404)
        return Response(served, media_type="application/json")


def _served_json(doc: Document) -> bytes:
    """The document with ``servers`` pointing at this mock, so "Try it out" never leaves it,
    and its parameters inlined (:func:`_inline_parameters`)."""
    servers = [{"url": base or "/", "description": "this mock"} for base in doc.base_paths]
    # A new top-level dict serialised at once: the caller's mapping is never touched.
    served = {**doc.document, "servers": servers}
    if isinstance(served.get("paths"), Mapping):
        served["paths"] = _inline_parameters(served["paths"], doc.document)
    return json.dumps(served, ensure_ascii=False, default=_yaml_scalar).encode()


_MAX_REF_HOPS = 32
"""A chain of ``$ref`` longer than this (or a cycle) is left as it is."""


def _inline_parameters(paths: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """``paths`` with every path-level and operation-level parameter ``$ref`` replaced by
    the parameter it points to, in new containers (``paths`` and ``document`` are never
    touched).

    Swagger UI 5 resolves such a reference in an OpenAPI 3.1 document only when the
    operation is expanded by a click: opened from a link (``#/Tag/operationId``, a reload
    with deep linking) it shows the parameter as ``any ()`` and sends a literal ``{id}``.
    A reference's own ``summary``/``description`` win, as OpenAPI 3.1 says; a reference
    that does not resolve inside the document is kept.

    >>> doc = {"components": {"parameters": {"Id": {"name": "id", "in": "path"}}}}
    >>> paths = {"/x/{id}": {"parameters": [{"$ref": "#/components/parameters/Id"}]}}
    >>> _inline_parameters(paths, doc)
    {'/x/{id}': {'parameters': [{'name': 'id', 'in': 'path'}]}}
    >>> paths["/x/{id}"]["parameters"]
    [{'$ref': '#/components/parameters/Id'}]
    """
    inlined: dict[str, Any] = {}
    for path, item in paths.items():
        if not isinstance(item, Mapping):
            inlined[path] = item
            continue
        new_item = dict(item)
        for key, value in item.items():
            if key == "parameters":
                new_item[key] = _resolved_list(value, document)
            elif key in METHODS and isinstance(value, Mapping) and "parameters" in value:
                new_item[key] = {
                    **value,
                    "parameters": _resolved_list(value["parameters"], document),
                }
        inlined[path] = new_item
    return inlined


def _resolved_list(parameters: Any, document: Mapping[str, Any]) -> Any:
    if not isinstance(parameters, list):
        return parameters
    return [_resolved(parameter, document) for parameter in parameters]


def _resolved(node: Any, document: Mapping[str, Any]) -> Any:
    """``node`` if it is no ``$ref``; else the local target it leads to (a shallow copy,
    with the reference's ``summary``/``description``); else ``node`` unchanged."""
    overrides: dict[str, Any] = {}
    target = node
    for _ in range(_MAX_REF_HOPS):
        if not (isinstance(target, Mapping) and isinstance(target.get("$ref"), str)):
            break
        overrides = {
            **{k: target[k] for k in ("summary", "description") if k in target},
            **overrides,
        }
        target = _pointer(document, target["$ref"])
        if target is None:
            return node
    else:
        return node
    if target is node or not isinstance(target, Mapping):
        return node
    return {**target, **overrides}


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    """What a local reference (``#/a/b~1c``) names in ``document``, or None."""
    if not ref.startswith("#/"):
        return None
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _yaml_scalar(value: object) -> str:
    """YAML's unquoted dates load as ``date``/``datetime``; JSON has only their ISO text."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _section(doc: Document, heading: str) -> str:
    """A document's operations, where they are served, and its two links."""
    primary = quote(doc.title, safe="")
    where = ", ".join(f"<code>{html.escape(base or '/')}</code>" for base in doc.base_paths)
    items = "".join(
        f"<li><code>{method.upper()} {html.escape(str(path))}</code> at {where}</li>"
        for path, item in doc.document.get("paths", {}).items()
        for method in item
        if method in METHODS
    )
    return (
        f"{heading}<p>Served at {where}. "
        f'<a href="/docs/?urls.primaryName={primary}">Swagger UI</a> · '
        f'<a href="/docs/{doc.name}.json">OpenAPI document (JSON)</a></p><ul>{items}</ul>'
    )
