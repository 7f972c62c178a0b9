"""The responses a contract documents for each operation, with their example bodies.

Forced answers (issue #4: ``Prefer: code=409``, ``Prefer: example=<name>``, a
fault's ``status``) are these documented responses, never invented ones. A
response without an example gets a body sampled from its schema, so it still
validates against the spec.
"""

from __future__ import annotations

import copy
import random
import re
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from mock_server.contract import Contract, deref

__all__ = [
    "METHODS",
    "DocumentedOperation",
    "DocumentedResponse",
    "HONOURED",
    "Preference",
    "PreferRefused",
    "documented_operations",
    "generate",
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
    generate: Callable[[random.Random], Any] = field(default=lambda rng: None, compare=False)
    """A body drawn at random from the response's schema (``dynamic=true``)."""


@dataclass(frozen=True)
class DocumentedOperation:
    id: str
    method: str
    path: str
    responses: Mapping[int, DocumentedResponse]

    def choose(
        self, code: int | None, example: str | None, dynamic: bool = False
    ) -> tuple[DocumentedResponse, Any]:
        """The response and body for ``Prefer: code=..., example=..., dynamic=true``, Prism's
        way (``dynamic``: a body drawn from the schema, never with an ``example``)."""
        if dynamic and example is not None:
            raise PreferRefused("example= and dynamic=true exclude each other: name one")
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
        if dynamic:
            return candidates[0], candidates[0].generate(random.Random())
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


HONOURED = (
    "code=NNN (a documented status), example=NAME, dynamic=true|false "
    "(Prefer header, or the ?__code=, ?__example=, ?__dynamic= query)"
)
"""What the mock honours of Prism's preferences, named in a refusal."""


@dataclass(frozen=True, slots=True)
class Preference:
    code: int | None = None
    example: str | None = None
    dynamic: bool = False

    def __bool__(self) -> bool:
        return self.code is not None or self.example is not None or self.dynamic


def parse_prefer(value: str | None, query: str = "") -> Preference:
    """What a ``Prefer`` header (RFC 7240) and Prism's ``__code``/``__example``/``__dynamic``
    query parameters ask for (the query wins); anything else asked for is refused, never
    ignored.

    >>> parse_prefer('code=400, example="alreadyRevoked"')
    Preference(code=400, example='alreadyRevoked', dynamic=False)
    >>> parse_prefer("dynamic=true", "__code=200")
    Preference(code=200, example=None, dynamic=True)
    >>> parse_prefer("return=minimal")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mock_server.documented.PreferRefused: cannot honour 'return=minimal'; the mock honours ...

    A preference asked for twice with two values is refused (which one was meant is
    anyone's guess; RFC 7240 would take the first, a client setting it twice the last):
    the same value twice is one preference.

    >>> parse_prefer("code=409, code=409").code
    409
    >>> parse_prefer("code=409, code=404")
    Traceback (most recent call last):
    ...
    mock_server.documented.PreferRefused: code= is asked for twice, 409 and 404; ask for one
    """
    asked: dict[str, str] = {}
    for token in _split(value or ""):
        if not token.strip():
            continue
        name, _, raw = token.partition("=")
        name = name.strip().lower()
        if name not in ("code", "example", "dynamic"):
            raise PreferRefused(f"cannot honour {token.strip()!r}; the mock honours {HONOURED}")
        _ask(asked, name, _unquoted(raw.strip(), token.strip()), f"{name}=")
    in_query: dict[str, str] = {}  # the query's win over the header's, name by name
    for name, raw in parse_qsl(query, keep_blank_values=True):
        if name.startswith("__"):
            if name not in ("__code", "__example", "__dynamic"):
                raise PreferRefused(f"cannot honour ?{name}=; the mock honours {HONOURED}")
            _ask(in_query, name[2:], raw, f"?{name}=")
    asked.update(in_query)
    code: int | None = None
    if "code" in asked:
        if not re.fullmatch(r"[1-5][0-9]{2}", asked["code"]):
            raise PreferRefused(f"code={asked['code']!r} is not a status code (e.g. code=409)")
        code = int(asked["code"])
    example = asked.get("example")
    if example == "":
        raise PreferRefused(f"example= names no example; the mock honours {HONOURED}")
    dynamic = asked.get("dynamic", "false").lower()
    if dynamic not in ("true", "false"):
        raise PreferRefused(f"dynamic={dynamic!r}: true or false")
    return Preference(code, example, dynamic == "true")


def _split(value: str) -> list[str]:
    """``value``'s preferences and their parameters, split at commas and semicolons outside
    quoted strings (RFC 7240: a value is a token or a quoted string, RFC 9110 section 5.6.4).

    >>> _split('example="a, b; c", code=409;dynamic=true')
    ['example="a, b; c"', ' code=409', 'dynamic=true']
    >>> _split('example="abc')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mock_server.documented.PreferRefused: a quoted string is not closed in 'example="abc'; ...
    """
    items: list[str] = []
    token: list[str] = []
    quoted = escaped = False
    for char in value:
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char in ",;":
            items.append("".join(token))
            token = []
            continue
        else:
            quoted = char == '"'
        token.append(char)
    if quoted:
        raise PreferRefused(f'a quoted string is not closed in {value!r}; end it with "')
    items.append("".join(token))
    return items


def _unquoted(raw: str, token: str) -> str:
    """A preference's value as meant: a quoted string's content (its escapes undone), or
    a token as written; a stray quote is refused.

    >>> _unquoted('"already\\"Revoked"', ""), _unquoted("409", "")
    ('already"Revoked', '409')
    """
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if '"' in raw:
        raise PreferRefused(f"{token!r}: a value is a token or a whole quoted string")
    return raw


def _ask(asked: dict[str, str], name: str, value: str, shown: str) -> None:
    """Note the preference ``name=value``; refused if it was asked for with another value."""
    before = asked.setdefault(name, value)
    if before != value and not (name == "dynamic" and before.lower() == value.lower()):
        raise PreferRefused(f"{shown} is asked for twice, {before} and {value}; ask for one")


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
    return DocumentedResponse(
        status,
        response.get("description", ""),
        body,
        examples,
        headers,
        partial(generate, document, schema) if schema else lambda rng: None,
    )


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


_WORD = string.ascii_letters + string.digits + " "


def generate(document: Mapping[str, Any], schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value drawn at random from ``schema`` (Prism's ``dynamic=true``), valid against
    it for the keywords the vendor specs use: types (3.0's ``nullable``, 3.1's lists),
    ``enum``, ``const``, ``oneOf``/``anyOf``, ``required``, lengths, bounds and formats.

    >>> generate({}, {"type": "string", "enum": ["a"]}, random.Random(1))
    'a'
    >>> isinstance(generate({}, {"type": "integer", "minimum": 5}, random.Random(1)), int)
    True
    """
    schema = deref(document, schema)
    if not isinstance(schema, Mapping) or depth > 8:
        return None
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if schema.get("enum"):
        return copy.deepcopy(rng.choice(schema["enum"]))
    for keyword in ("oneOf", "anyOf"):
        if schema.get(keyword):
            return generate(document, rng.choice(schema[keyword]), rng, depth + 1)
    if schema.get("pattern"):  # no regex inversion here: the spec's own values are valid
        return sample(document, schema)
    kind = schema.get("type")
    kinds = list(kind) if isinstance(kind, list) else [kind]
    if schema.get("nullable"):
        kinds.append("null")
    if kinds == [None]:
        kinds = ["object"] if "properties" in schema else ["string"]
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "object":
        required = set(schema.get("required") or ())
        return {
            name: generate(document, child, rng, depth + 1)
            for name, child in (schema.get("properties") or {}).items()
            if name in required or rng.random() < 0.8
        }
    if kind == "array":
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        items = schema.get("items") or {}
        return [generate(document, items, rng, depth + 1) for _ in range(rng.randint(low, high))]
    if kind == "string":
        return _string(schema, rng)
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum", max(low, 0) + 1000)
        value = rng.randint(int(low), int(high)) if kind == "integer" else rng.uniform(low, high)
        return value
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _string(schema: Mapping[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format", "")
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "date-time":
        return f"20{rng.randint(20, 30)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T" + (
            f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}Z"
        )
    if fmt == "date":
        return f"20{rng.randint(20, 30)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}"
    if fmt in ("uri", "url"):
        return f"https://example.com/{rng.randint(0, 10**6)}"
    if fmt == "email":
        return f"user{rng.randint(0, 10**6)}@example.com"
    low = int(schema.get("minLength", 1))
    high = int(schema.get("maxLength", max(low, 24)))
    return "".join(rng.choice(_WORD) for _ in range(rng.randint(low, high)))
