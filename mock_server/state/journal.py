"""The request journal: what each client sent to the vendor APIs and what it got back.

Issue #4: a test asserts on what its client sent (``GET /__mock/requests``).
Credentials are redacted before anything is stored, so a journal can be
printed in a CI log. Each session keeps its latest exchanges up to a byte cap
(``--journal-bytes``, :class:`~mock_server.state.limits.Limits`); each body is
cut at :data:`BODY_LIMIT` bytes and each side's headers at :data:`HEADER_LIMIT`,
and marked ``truncated`` / ``headersTruncated``.

An exchange is logged before the last byte of its answer is sent, so a client
that got its answer finds it in the journal, on any worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from mock_server._http import BadBody, parse_json, unfit
from mock_server.clock import isoformat

_log = logging.getLogger("mock_server.journal")

__all__ = [
    "BODY_LIMIT",
    "HEADER_LIMIT",
    "Because",
    "Body",
    "Entry",
    "Exchange",
    "Reason",
    "exchange",
    "exchanges",
    "explain",
    "redact",
    "restored_exchange",
    "shown_exchange",
    "stored_exchange",
]

BODY_LIMIT = 65_536
"""Bytes of each body kept; longer bodies are cut and marked ``truncated``."""
HEADER_LIMIT = 16_384
"""Bytes of each side's headers kept; beyond it values are cut (``headersTruncated``)."""
OVERHEAD = 256
"""Bytes an entry counts against its session's cap beyond its headers and bodies."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_NAMES = frozenset(name.encode() for name in SECRET_HEADERS)


def redact(name: str, value: str) -> str:
    """The header value as the journal shows it: credentials replaced, the scheme kept.

    >>> redact("Authorization", "Bearer ck_test_acme_0001")
    'Bearer [redacted]'
    >>> redact("authorization", "firma_acme_0001")
    '[redacted]'
    >>> redact("content-type", "application/json")
    'application/json'
    """
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, space, _ = value.strip().partition(" ")
    return (
        f"{scheme} [redacted]" if space and scheme.lower() in {"bearer", "basic"} else "[redacted]"
    )


Exchange = tuple[list[tuple[bytes, bytes]], bytes, int, bool, int]
"""One side of an exchange as received, rendered only when the journal is read: (its
header fields, its body as kept, the body's whole size, whether the fields were cut, the
bytes held: fields and body). A plain tuple, made by :func:`exchange` or
:func:`exchanges`: every request makes two, and two objects of a class of their own,
made through its class methods, cost it a few thousand instructions more
(docs/performance.md)."""


def exchange(raw: Iterable[tuple[bytes, bytes]], body: bytes, size: int) -> Exchange:
    """The side as kept: header fields beyond :data:`HEADER_LIMIT` bytes cut. A list of
    fields is kept as it is (the server's list of the request's, the answer's as sent:
    neither is changed once sent)."""
    if type(raw) is not list:
        raw = list(raw)
    total = 0
    for name, value in raw:
        total += len(name) + len(value)
    if total <= HEADER_LIMIT:  # the common case: kept whole
        return (raw, body, size, False, total + len(body))
    headers: list[tuple[bytes, bytes]] = []
    budget = HEADER_LIMIT
    for name, value in raw:
        if budget <= 0:
            break
        headers.append((name[:budget], value[: max(budget - len(name), 0)]))
        budget -= len(name) + len(value)
    return (headers, body, size, budget < 0, HEADER_LIMIT - max(budget, 0) + len(body))


def exchanges(
    request_headers: Iterable[tuple[bytes, bytes]],
    sent: Body,
    response_headers: Iterable[tuple[bytes, bytes]],
    answered: Body,
) -> tuple[Exchange, Exchange]:
    """Both sides of an exchange as :func:`exchange` keeps them, their bodies joined from
    the layer's :class:`Body` (the journal layer's, once a request). A fast path of its own
    for the common case (no field cut) counted the same within the noise: not kept."""
    chunks = sent.chunks
    request_body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    chunks = answered.chunks
    response_body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return (
        exchange(request_headers, request_body, sent.size),
        exchange(response_headers, response_body, answered.size),
    )


def stored_exchange(side: Exchange) -> list[Any]:
    """A side as JSON values, credentials redacted (:func:`redact`, which rendering leaves
    as they are), nothing rendered; :func:`restored_exchange` makes it again. Bytes as
    Latin-1 text: any byte, back as it was."""
    headers, body, size, truncated, _ = side
    flat: list[Any] = [size, truncated, body.decode("latin-1")]
    for name, value in headers:
        text = value.decode("latin-1")
        if name.lower() in _SECRET_NAMES:
            text = redact(name.decode("latin-1"), text)
        flat += (name.decode("latin-1"), text)
    return flat


def restored_exchange(flat: list[Any]) -> Exchange:
    """The side :func:`stored_exchange` kept (no bytes held: it is the store's)."""
    size, truncated, body, *headers = flat
    pairs = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in zip(headers[::2], headers[1::2], strict=True)
    ]
    return (pairs, body.encode("latin-1"), size, truncated, 0)


def shown_exchange(side: Exchange) -> dict[str, Any]:
    """A side as ``GET /__mock/requests`` shows it (its headers, body, ``json``...)."""
    headers, body, size, truncated, _ = side
    text = body.decode("utf-8", errors="replace")
    shown: dict[str, Any] = {"headers": _headers(headers), "body": text}
    if truncated:
        shown["headersTruncated"] = True
    if size > len(body):
        shown["truncated"] = True
    elif text.strip():
        # Parsed only when it is JSON the mock would read, nested little enough to write
        # back anywhere (NaN, 1e999 or deep nesting stay text).
        try:
            parsed = parse_json(body)
        except BadBody:
            pass
        else:
            if unfit(parsed, text=False) is None:
                shown["json"] = parsed
    return shown


class Reason(Protocol):
    """Why the mock answered so, as the code that decided keeps it on the request: an
    object made anyway (a domain outcome, a refusal, a fault), its text rendered only
    when the entry is (:func:`explain`), never on the way to the answer."""

    def explain(self) -> dict[str, Any]:
        """``{"rule": <why, without the status>, "cause": <kind>, ...facts}``."""
        ...


@dataclass(slots=True)
class Because:
    """A reason whose rule is a constant or a message made anyway, with its facts."""

    cause: str
    rule: str
    facts: dict[str, Any] | None = None

    def explain(self) -> dict[str, Any]:
        return {"rule": self.rule, "cause": self.cause, **(self.facts or {})}


@dataclass(slots=True)
class _Explained:
    """A reason as :meth:`Entry.stored` kept it: explained already."""

    explained: dict[str, Any]

    def explain(self) -> dict[str, Any]:
        return dict(self.explained)


def explain(reason: Reason | None, status: int | None) -> dict[str, Any] | None:
    """The entry's ``reason``: the rule prefixed with the status answered (``"409: ..."``).

    >>> explain(Because("key", "no API key", {"x": 1}), 401)
    {'rule': '401: no API key', 'cause': 'key', 'x': 1}
    >>> explain(Because("fault", "fault 1 dropped the connection"), None)
    {'rule': 'no answer: fault 1 dropped the connection', 'cause': 'fault'}
    """
    if reason is None:
        return None
    shown = reason.explain()
    shown["rule"] = f"{status if status is not None else 'no answer'}: {shown['rule']}"
    return shown


@dataclass(slots=True)
class Entry:
    """One exchange, as ``GET /__mock/requests`` lists it (its id is the back-end's)."""

    at: float
    session: str
    api: str | None
    operation: str | None
    simulated: str | None
    """``"prefer"`` or ``"fault"`` when the answer was forced rather than computed."""
    method: str
    path: str
    query: str
    status: int | None
    """``None`` when no answer was sent (a dropped connection)."""
    request: Exchange
    response: Exchange
    duration_ms: float
    session_created: bool = False
    """This request found no such session: it started from the fixtures."""
    reason: Reason | None = None
    """Why the mock answered so (``None``: no layer said, e.g. the client left)."""

    @property
    def size(self) -> int:
        """Bytes this entry counts against its session's journal cap."""
        held = self.request[4] + self.response[4]  # (each side's bytes held: Exchange)
        return held + len(self.path) + len(self.query) + OVERHEAD

    def stored(self) -> list[Any]:
        """The entry as JSON values in its fields' order, for a store outside the process
        (Redis): credentials redacted, its reason explained, nothing rendered
        (:meth:`to_json` renders it as it is read, as the memory store does);
        :meth:`restored` makes it again."""
        return [
            self.at,
            self.session,
            self.api,
            self.operation,
            self.simulated,
            self.method,
            self.path,
            self.query,
            self.status,
            stored_exchange(self.request),
            stored_exchange(self.response),
            self.duration_ms,
            self.session_created,
            self.reason.explain() if self.reason is not None else None,
        ]

    @classmethod
    def restored(cls, stored: list[Any]) -> Entry:
        """The entry :meth:`stored` kept (its values in the fields' order)."""
        (at, session, api, operation, simulated, method, path, query, status, request,
         response, duration_ms, session_created, reason) = stored  # fmt: skip
        return cls(
            at, session, api, operation, simulated, method, path, query, status,
            restored_exchange(request), restored_exchange(response), duration_ms,
            session_created, _Explained(reason) if reason is not None else None,
        )  # fmt: skip

    def to_json(self, id: int) -> dict[str, Any]:
        return {
            "id": id,
            "at": isoformat(self.at),
            "session": self.session,
            "api": self.api,
            "operation": self.operation,
            "simulated": self.simulated,
            "request": {
                "method": self.method,
                "path": self.path,
                "query": self.query,
                **shown_exchange(self.request),
            },
            "response": {"status": self.status, **shown_exchange(self.response)},
            "durationMs": round(self.duration_ms, 3),
            "sessionCreated": self.session_created,
            "reason": explain(self.reason, self.status),
        }


class Body:
    """One side's body as it streams by: kept up to :data:`BODY_LIMIT`, counted whole."""

    __slots__ = ("chunks", "complete", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False

    def add(self, chunk: bytes) -> None:
        if self.size < BODY_LIMIT:
            self.chunks.append(chunk[: BODY_LIMIT - self.size])
        self.size += len(chunk)


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = redact(name, value_bytes.decode("latin-1"))
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
