"""The control plane's 405: ``Allow`` names every method of the path, as its document says;
and its 404 for a declared path with a trailing slash, which Starlette would redirect.

Connexion routes each operation as a route of its own, and its router answers a
method no route takes with the ``Allow`` of the first route whose path matched:
``PUT /__mock/faults`` was a 405 with ``Allow: HEAD, GET``, hiding ``POST`` and
``DELETE``. :class:`DeclaredMethods` answers those 405s before Connexion does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server._http import problem_response

__all__ = ["DeclaredMethods", "declared_methods"]

_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")  # {id}, as re.escape writes it


def _pattern(base_path: str, template: str) -> re.Pattern[str]:
    """``/faults/{id}`` -> a regex of the full path; a parameter is one non-empty segment,
    as Starlette's router matches it."""
    return re.compile(_PARAMETER.sub("[^/]+", re.escape(base_path + template)))


def declared_methods(
    document: Mapping[str, Any], base_path: str
) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    """Each path of ``document`` under ``base_path``, with the methods it answers (``HEAD``
    wherever ``GET`` is: Starlette answers it), in ``_ORDER``.

    >>> [(p.pattern, m) for p, m in declared_methods(
    ...     {"paths": {"/r/{id}": {"get": {}, "delete": {}, "parameters": []}}}, "/b")]
    [('/b/r/[^/]+', ('GET', 'HEAD', 'DELETE'))]
    """
    table = []
    for template, item in document["paths"].items():
        methods = {method.upper() for method in item if method.upper() in _ORDER}
        if "GET" in methods:
            methods.add("HEAD")
        table.append((_pattern(base_path, template), tuple(m for m in _ORDER if m in methods)))
    return table


class DeclaredMethods:
    """A request to a path of the document with a method it does not declare: 405,
    ``application/problem+json``, ``Allow`` listing every method the path has."""

    def __init__(self, app: ASGIApp, *, document: Mapping[str, Any], base_path: str) -> None:
        self._app = app
        self._paths = declared_methods(document, base_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            bare = path.rstrip("/")
            if bare != path and any(pattern.fullmatch(bare) for pattern, _ in self._paths):
                # Starlette would redirect (307, method kept) to the path without the slash:
                # "DELETE /__mock/faults/", one fault's id left empty, would remove them all.
                refusal = problem_response(404, f"no {path}; the path is {bare}", {})
                await refusal(scope, receive, send)
                return
            for pattern, methods in self._paths:
                if pattern.fullmatch(path):
                    if method not in methods:
                        allow = ", ".join(methods)
                        refusal = problem_response(
                            405, f"{path} takes {allow}, not {method}", {"Allow": allow}
                        )
                        await refusal(scope, receive, send)
                        return
                    break
        await self._app(scope, receive, send)
