"""The responses a contract documents for each operation, with their example bodies.

Forced answers (issue #4: ``Prefer: code=409``, ``Prefer: example=<name>``, a
fault's ``status``) are these documented responses, never invented ones. A
response without an example gets a body sampled from its schema, so it still
validates against the spec.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mock_server.contract import Contract, deref

__all__ = [
    "METHODS",
    "DocumentedOperation",
    "DocumentedResponse",
    "PreferRefused",
    "documented_operations",
    "parse_prefer",
    "sample",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class PreferRefused(Exception):
    """A ``Prefer`` header or fault asks for a response the operation does not document."""


@dataclass(frozen=True)
class DocumentedResponse:
    status: int
    description: str
    body: Any
    """The body answered when no example is named."""
    examples: Mapping[str, Any]
    """Named examples (``examples:`` in the spec) -> body."""
    headers: Mapping[str, Any]
    """Declared header name -> a sample value."""


@dataclass(frozen=True)
class DocumentedOperation:
    id: str
    method: str
    path: str
    responses: Mapping[int, DocumentedResponse]

    def choose(self, code: int | None, example: str | None) -> tuple[DocumentedResponse, Any]:
        """The response and body for ``Prefer: code=..., example=...``, Prism's way."""
        documented = ", ".join(str(s) for s in self.responses)
        if code is not None:
            response = self.responses.get(code)
            if response is None:
                raise PreferRefused(
                    f"{self.id} documents no {code} response (documented: {documented})"
                )
            candidates = [response]
        else:
            candidates = list(self.responses.values())
        if example is None:
            return candidates[0], copy.deepcopy(candidates[0].body)
        for response in candidates:
            if example in response.examples:
                return response, copy.deepcopy(response.examples[example])
        named = sorted({name for r in candidates for name in r.examples})
        where = f"its {code} response" if code is not None else self.id
        raise PreferRefused(
            f"{where} has no example named {example!r} "
            f"(named examples: {', '.join(named) or 'none'})"
        )


def parse_prefer(value: str | None) -> tuple[int | None, str | None]:
    """``code`` and ``example`` of a ``Prefer`` header (RFC 7240), as Prism reads them.

    >>> parse_prefer('code=400, example="alreadyRevoked"')
    (400, 'alreadyRevoked')
    >>> parse_prefer("return=minimal")
    (None, None)
    """
    code: int | None = None
    example: str | None = None
    for token in (value or "").replace(";", ",").split(","):
        name, _, raw = token.partition("=")
        name, raw = name.strip().lower(), raw.strip().strip('"')
        if name == "code":
            if not re.fullmatch(r"[1-5][0-9]{2}", raw):
                raise PreferRefused(f"code={raw!r} is not a status code (e.g. code=409)")
            code = int(raw)
        elif name == "example" and raw:
            example = raw
    return code, example


def documented_operations(contract: Contract) -> dict[str, DocumentedOperation]:
    """Every operation of ``contract`` by its dispatch id (operationId, else ``"POST /path"``)."""
    document = contract.document
    operations: dict[str, DocumentedOperation] = {}
    for path, item in (document.get("paths") or {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            oid = operation.get("operationId") or f"{method.upper()} {path}"
            responses = {
                int(status): _response(document, int(status), response)
                for status, response in (operation.get("responses") or {}).items()
                if str(status).isdigit()
            }
            operations[oid] = DocumentedOperation(
                oid, method.upper(), path, dict(sorted(responses.items()))
            )
    return operations


def _response(document: Mapping[str, Any], status: int, response: Any) -> DocumentedResponse:
    response = deref(document, response)
    media = (response.get("content") or {}).get("application/json") or {}
    schema = deref(document, media.get("schema") or {})
    examples = {
        name: deref(document, example).get("value")
        for name, example in (media.get("examples") or {}).items()
    }
    if "example" in media:
        body = media["example"]
    elif examples:
        body = next(iter(examples.values()))
    elif "example" in schema:
        body = schema["example"]
    else:
        body = sample(document, schema)
    headers = {
        name: sample(document, deref(document, header).get("schema") or {})
        for name, header in (response.get("headers") or {}).items()
    }
    return DocumentedResponse(status, response.get("description", ""), body, examples, headers)


_FORMATS = {
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "uri": "https://example.com/",
    "email": "user@example.com",
}


def sample(document: Mapping[str, Any], schema: Any) -> Any:
    """A value valid against ``schema``: every property filled, the first of every choice.

    >>> sample({}, {"type": ["integer", "null"]})
    0
    >>> sample({}, {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}})
    {'id': '3fa85f64-5717-4562-b3fc-2c963f66afa6'}
    """
    schema = deref(document, schema)
    if not isinstance(schema, Mapping):
        return None
    for keyword in ("const", "example", "default"):
        if keyword in schema:
            return copy.deepcopy(schema[keyword])
    if schema.get("enum"):
        return schema["enum"][0]
    for keyword in ("oneOf", "anyOf"):
        if schema.get(keyword):
            return sample(document, schema[keyword][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        return {
            name: sample(document, child)
            for name, child in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        return [sample(document, schema.get("items") or {})]
    if kind == "string":
        return _FORMATS.get(schema.get("format", ""), "string")
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    return None
