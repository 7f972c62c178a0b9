"""Validate real HTTP exchanges (httpx) against an OpenAPI document with openapi-core.

openapi-core validates OpenAPI 3.0 and 3.1 responses, headers included, but
reads requests and responses through its own protocols; this module is the
adapter. A target may serve the API under any base URL: requests are mapped
onto the spec's first server URL, so the spec's paths match.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = ["ResponseValidator"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: a tenth of the pure-Python time."""


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass(frozen=True)
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


class ResponseValidator:
    """Checks each response a target gave against one spec.

    >>> validator = ResponseValidator.from_path(Path("specs/firma.openapi.yaml"),
    ...     base_url="http://127.0.0.1:8000/api/v1")
    >>> request = httpx.Request("POST", "http://127.0.0.1:8000/api/v1/jwt/revoke-signing-request")
    >>> validator.errors(httpx.Response(418, json={}, request=request))
    ['ResponseNotFound: Unknown response http status: 418']
    """

    def __init__(self, document: Mapping[str, Any], *, base_url: str) -> None:
        self.openapi = OpenAPI.from_dict(dict(document))
        server = urlsplit(str(document.get("servers", [{"url": "/"}])[0]["url"]))
        self._host_url = f"{server.scheme or 'http'}://{server.netloc or 'localhost'}"
        self._server_path = server.path.rstrip("/")
        self._base_path = urlsplit(base_url).path.rstrip("/")
        # issue #10: every server the spec declares, for the harness to check each one
        self.server_urls = [
            str(server.get("url", "")) for server in document.get("servers") or [] if server
        ]

    @classmethod
    def from_path(cls, path: Path, *, base_url: str) -> ResponseValidator:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        return cls(document, base_url=base_url)

    def at(self, base_url: str) -> ResponseValidator:
        """The same validator for answers of the same API served under ``base_url``."""
        other = copy.copy(self)
        other._base_path = urlsplit(base_url).path.rstrip("/")
        return other

    def errors(self, response: httpx.Response) -> list[str]:
        """Every way ``response`` departs from the spec (empty: it conforms)."""
        request = response.request
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        headers = Headers(list(request.headers.items()))
        openapi_request = _Request(
            host_url=self._host_url,
            path=self._server_path + path,
            method=request.method.lower(),
            body=request.content or None,
            content_type=request.headers.get("content-type", "").lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(request.url.params.multi_items())),
                header=headers,
                cookie=ImmutableMultiDict(),
            ),
        )
        openapi_response = _Response(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", "").lower(),
            headers=Headers(list(response.headers.items())),
            data=response.content,
        )
        result = self.openapi.unmarshal_response(openapi_request, openapi_response)
        return [_describe(error) for error in result.errors]


def _describe(error: BaseException) -> str:
    """One line per problem: ``where: what``, without the schema dumps jsonschema adds."""
    cause = error.__cause__
    schema_errors = getattr(error, "schema_errors", None) or getattr(cause, "schema_errors", None)
    if schema_errors:
        return "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or 'body'}: {e.message}"
            for e in schema_errors
        )
    detail = f" ({cause})" if cause is not None and str(cause) != str(error) else ""
    return f"{type(error).__name__}: {error}{detail}"
