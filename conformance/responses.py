"""Validate real HTTP exchanges (httpx) against an OpenAPI document with openapi-core.

openapi-core validates OpenAPI 3.0 and 3.1 responses, headers included, but
reads requests and responses through its own protocols; this module is the
adapter. A target may serve the API under any base URL: requests are mapped
onto the spec's first server URL, so the spec's paths match.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from conformance.world import YAML_LOADER as YAML_LOADER

__all__ = ["ResponseValidator"]

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
        # openapi-core reads only application/json (and vnd.api+json) as JSON; an answer
        # declared as RFC 9457 problem+json was compared to its schema as bytes.
        config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
        self.openapi = OpenAPI.from_dict(dict(document), config=config)
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
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
        return cls(document, base_url=base_url)

    def at(self, base_url: str) -> ResponseValidator:
        """The same validator for answers of the same API served under ``base_url``."""
        other = copy.copy(self)
        other._base_path = urlsplit(base_url).path.rstrip("/")
        return other

    def errors(self, response: httpx.Response) -> list[str]:
        """Every way ``response`` departs from the spec (empty: it conforms)."""
        result = self.openapi.unmarshal_response(*self._exchange(response))
        return [_describe(error) for error in result.errors]

    def validation_errors(self, response: httpx.Response) -> list[str]:
        """As :meth:`errors`, without building the body's Python values: the same checks,
        some 50 times faster on a large body whose schema allows any value (the mock's
        tests check every control-plane answer so)."""
        errors = self.openapi.iter_response_errors(*self._exchange(response))
        return [_describe(error) for error in errors]

    def _exchange(self, response: httpx.Response) -> tuple[_Request, _Response]:
        """``response`` and its request, as openapi-core reads them."""
        request = response.request
        path = request.url.path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        headers = Headers(list(request.headers.items()))
        openapi_request = _Request(
            host_url=self._host_url,
            path=self._server_path + path,
            method=request.method.lower(),
            body=_content(request),
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
        return openapi_request, openapi_response


def _content(request: httpx.Request) -> bytes | None:
    """The request's body, or ``None`` if it has none or was streamed (sent as it was
    produced: not kept; an answer is checked without it)."""
    try:
        return request.content or None
    except httpx.RequestNotRead:
        return None


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
