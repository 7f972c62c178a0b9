"""Request reading and response writing shared by both APIs' handlers."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


class BadBody(Exception):
    """The request body cannot be read as the JSON value it claims to be."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TwoContentTypes(BadBody):
    """A body sent with several ``Content-Type`` headers: which one holds is anyone's guess
    (a server or proxy before the mock may read either), so it is refused."""

    def __init__(self, given: list[str]) -> None:
        super().__init__(f"Send one Content-Type header (got {len(given)}: {', '.join(given)}).")
        self.given = given


def content_type(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The request's ``Content-Type``, or ``None``; :class:`TwoContentTypes` for several.
    One pass, no list made (every vendor body reads it).

    >>> content_type([(b"content-type", b"application/json")]), content_type([])
    ('application/json', None)
    """
    found = None
    for key, value in headers:
        if key == b"content-type":
            if found is not None:
                given = [v.decode("latin-1") for k, v in headers if k == b"content-type"]
                raise TwoContentTypes(given)
            found = value.decode("latin-1")
    return found


class _Absent:
    """The request carried no body at all (distinct from a JSON ``null``)."""


ABSENT = _Absent()


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Built once: ``json.dumps`` with options builds an encoder per call."""


LEFT_TO_THE_LIBRARY = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
"""What orjson is told to refuse rather than write, for the standard library to write as
before (:func:`encode_json`, the Redis store's JSON)."""


def encode_json(value: object) -> bytes:
    """``value`` as compact JSON in UTF-8, as the standard library writes it
    (``ensure_ascii=False``, no spaces), by orjson (~10x faster: a record's body is
    ~4 µs of a cancel's 200 otherwise).

    The same bytes but for a number below 1e-4 (``0.00001`` where the library writes
    ``1e-05``: the same number) and NaN or an infinity (no JSON number: ``null``, where
    the library writes a ``NaN`` no JSON parser reads). What orjson refuses (an integer
    beyond 64 bits, a key that is not a string, a lone surrogate) and what it is told to
    leave alone (a subclass of ``dict``, ``list``, ``str`` or ``int``, whose methods the
    library calls; a dataclass, a date or time, which the library refuses) the library
    writes, or refuses, as before. (A plain ``Enum`` or a ``UUID``, which the library
    refuses, orjson writes: no answer's body holds one.)

    >>> encode_json({"name": "Ünïcode", "n": [1, 2.5, None, True], "big": 2**70})
    b'{"name":"\xc3\x9cn\xc3\xafcode","n":[1,2.5,null,true],"big":1180591620717411303424}'
    """
    try:
        return orjson.dumps(value, option=LEFT_TO_THE_LIBRARY)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value).encode()


Headers = Mapping[str, str] | list[tuple[bytes, bytes]]
"""An answer's own headers: by name, or as sent (lower-case names, Latin-1 bytes)."""

_JSON_TYPE = (b"content-type", JSON.encode())


class JsonResponse(Response):
    """A Starlette ``Response`` of JSON bytes, its headers built directly: the same
    headers in the same order as ``Response(content, status, headers, media_type)``
    (the given ones lower-cased, then ``content-length`` and ``content-type``), without
    the general constructor's per-call work (every answer of the vendor routes is one).

    >>> JsonResponse(b"{}", 409, {"Retry-After": "2"}).raw_headers
    [(b'retry-after', b'2'), (b'content-length', b'2'), (b'content-type', b'application/json')]
    """

    body: bytes

    def __init__(
        self,
        content: bytes,
        status: int,
        headers: Headers | None = None,
        media_type: str = JSON,
    ) -> None:
        self.status_code = status
        self.media_type = media_type
        self.background = None
        self.body = content
        length = (b"content-length", b"%d" % len(content))
        kind = _JSON_TYPE if media_type == JSON else (b"content-type", media_type.encode())
        if not headers:
            self.raw_headers = [length, kind]
            return
        if isinstance(headers, list):
            given = headers
        else:
            given = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        for name, _ in given:
            if name == b"content-length" or name == b"content-type":  # given: they win
                names = {name for name, _ in given}
                self.raw_headers = given + [pair for pair in (length, kind) if pair[0] not in names]
                return
        self.raw_headers = [*given, length, kind]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header ``name`` (lower case), as ``request.headers.get``
    would give it, read from the request's raw headers without building Starlette's
    ``Headers`` (every vendor request reads two or three).

    >>> request = Request({"type": "http", "headers": [(b"prefer", b"code=200")]})
    >>> header(request, b"prefer"), header(request, b"accept"), header_values(request, b"prefer")
    ('code=200', None, ['code=200'])
    """
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def header_values(request: Request, name: bytes) -> list[str]:
    """Every value of the header ``name`` (lower case), as ``request.headers.getlist``."""
    return [value.decode("latin-1") for value in raw_header_values(request, name)]


def raw_header_values(request: Request, name: bytes) -> list[bytes]:
    """Every value of the header ``name`` (lower case), as sent."""
    return [value for key, value in request.scope["headers"] if key == name]


def header_list(request: Request, name: bytes) -> str | None:
    """The list-valued header ``name`` (lower case) whole: its field lines joined by ``", "``
    in order, as RFC 9110 section 5.3 reads several lines of one list; None without any.

    >>> request = Request({"type": "http", "headers": [
    ...     (b"prefer", b""), (b"accept", b"*/*"), (b"prefer", b"code=409"), (b"prefer", b"wait=5")
    ... ]})
    >>> [header_list(request, name) for name in (b"prefer", b"accept", b"te")]
    [', code=409, wait=5', '*/*', None]
    """
    values = header_values(request, name)
    return ", ".join(values) if values else None


def json_response(status: int, body: object, headers: Headers | None = None) -> Response:
    return JsonResponse(encode_json(body), status, headers)


class Encoded:
    """JSON bodies that repeat (an error envelope of a status and a message), each encoded
    once: ``encoded[key]`` calls ``build(*key)`` and encodes its result the first time.
    Up to ``size`` keys are kept (a message can quote what the client sent: keys beyond
    are encoded each time, never kept).

    >>> bodies = Encoded(lambda status, text: {"status": status, "text": text}, size=1)
    >>> bodies[409, "no"], bodies[409, "no"], bodies[400, "bad"]
    (b'{"status":409,"text":"no"}', b'{"status":409,"text":"no"}', b'{"status":400,"text":"bad"}')
    >>> len(bodies.kept)
    1
    """

    def __init__(self, build: Callable[..., object], *, size: int = 512) -> None:
        self._build = build
        self._size = size
        self.kept: dict[tuple[Any, ...], bytes] = {}

    def __getitem__(self, key: tuple[Any, ...]) -> bytes:
        body = self.kept.get(key)
        if body is None:
            body = encode_json(self._build(*key))
            if len(self.kept) < self._size:
                self.kept[key] = body
        return body


def problem_response(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An RFC 9457 ``application/problem+json`` answer, as the control plane's errors are."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status}
    content = json.dumps({**body, "detail": detail}).encode()
    return JsonResponse(content, status, headers, PROBLEM_JSON)


def media_type(content_type: str) -> str:
    """The media type alone, in lower case (media types are case-insensitive).

    >>> media_type("Application/JSON; charset=UTF-8")
    'application/json'
    """
    return content_type.split(";", 1)[0].strip().lower()


def is_json_media_type(content_type: str) -> bool:
    """``application/json``, ``application/*+json``, any parameters (charset...)."""
    media = media_type(content_type)
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


async def read_json(request: Request, *, limit: int) -> Any:
    """The decoded JSON body, or :data:`ABSENT` when there is none.

    Raises :class:`BadBody` for a body over ``limit`` bytes, one sent with a
    non-JSON content type, or one :func:`parse_json` refuses.
    """
    declared = header(request, b"content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        raise BadBody(f"Request body is larger than {limit} bytes.")
    # Read from the request's receive (Starlette's stream() is an async generator: ~3 %
    # of the 409 path), once: the handler that calls this is the body's only reader.
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadBody(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not raw.strip():
        return ABSENT
    given = content_type(request.scope["headers"]) or ""
    if not is_json_media_type(given):
        raise BadBody(f"Content-Type must be application/json (got {given or 'none'}).")
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    r"""``raw`` as strict JSON (RFC 8259), with every number a double can hold.

    Raises :class:`BadBody` naming what is wrong: bytes that are not UTF-8, text that
    is not JSON (``NaN``/``Infinity`` are JavaScript, not JSON), nesting too deep to
    parse, a number of more than 4300 digits (Python's limit for reading an integer,
    applied to the others too) or beyond a double's range (``1e999``).

    >>> parse_json(rb'{"a": [1, 2.5, "\u00e9"]}')
    {'a': [1, 2.5, 'é']}
    >>> parse_json(b'{"a": NaN}')
    Traceback (most recent call last):
    ...
    mock_server._http.BadBody: Request body is not valid JSON (NaN is not a JSON number).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody("Request body is not valid UTF-8.") from exc
    try:
        return _DECODER.decode(text)
    except RecursionError as exc:
        raise BadBody("Request body is nested too deeply (arrays and objects).") from exc
    except _NotJson as exc:
        raise BadBody(str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise BadBody("Request body is not valid JSON.") from exc
    except ValueError as exc:  # int(): more digits than sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise BadBody(f"Request body has a number of more than {limit} digits.") from exc


class _NotJson(ValueError):
    """A number the decoder read that JSON (or a double) cannot hold."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"Request body is not valid JSON ({name} is not a JSON number).")


def _finite_float(text: str) -> float:
    limit = sys.get_int_max_str_digits()  # 0: no limit (PYTHONINTMAXSTRDIGITS=0), as int()'s
    if limit and len(text) > limit and sum(map(str.isdigit, text)) > limit:  # as an integer's
        raise _NotJson(f"Request body has a number of more than {limit} digits.")
    number = float(text)
    if not math.isfinite(number):
        shown = text if len(text) <= 24 else f"{text[:20]}..."
        raise _NotJson(f"Request body has a number beyond a double's range ({shown}).")
    return number


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
"""Built once: ``json.loads`` with options builds a decoder per call."""

NESTING_LIMIT = 32
"""Arrays and objects within each other that a body kept as data may have."""


def unfit(value: Any, *, text: bool, where: str = "body") -> str | None:
    r"""Why parsed JSON is unfit to keep, naming the place, or ``None``.

    Nested deeper than :data:`NESTING_LIMIT` (each array or object is a level), or,
    with ``text``, a string or key holding a lone surrogate: JSON's grammar allows
    ``"\ud800"``, but it is half a character, and no UTF-8 text can hold it.

    >>> unfit({"a": [{"b": "ok"}, {"b": "\ud800", "c": "\udc00"}]}, text=True)
    'body.a[1].b: \\ud800 is half a surrogate pair, not a character'
    >>> unfit([[[]]], text=False) is None
    True
    """
    stack: list[tuple[Any, str, int]] = [(value, where, 1)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, str):
            problem = not_text(item) if text else None
            if problem is not None:
                return f"{place}: {problem}"
        elif isinstance(item, dict | list):
            if depth > NESTING_LIMIT:
                return f"{place}: nested deeper than {NESTING_LIMIT} levels (arrays and objects)"
            if isinstance(item, list):
                children = [(child, f"{place}[{i}]") for i, child in enumerate(item)]
            else:
                children = [(child, f"{place}.{key}") for key, child in item.items()]
                problem = next(filter(None, map(not_text, item)), None) if text else None
                if problem is not None:
                    return f"{place}: in a key, {problem}"
            # Reversed: the first problem in the document is the one named.
            stack.extend((child, at, depth + 1) for child, at in reversed(children))
    return None


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def not_text(text: str) -> str | None:
    r"""Why ``text`` is not Unicode text (its first lone surrogate), or ``None``.

    >>> not_text("NDA \U0001f600"), not_text("NDA \ud83d")
    (None, '\\ud83d is half a surrogate pair, not a character')
    """
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return f"\\u{ord(found.group()):04x} is half a surrogate pair, not a character"
