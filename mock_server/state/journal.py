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

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server import _scope
from mock_server.clock import Clock, isoformat
from mock_server.state.base import StoreUnavailable

_log = logging.getLogger("mock_server.journal")

__all__ = ["BODY_LIMIT", "HEADER_LIMIT", "Entry", "Exchange", "capture", "redact"]

BODY_LIMIT = 65_536
"""Bytes of each body kept; longer bodies are cut and marked ``truncated``."""
HEADER_LIMIT = 16_384
"""Bytes of each side's headers kept; beyond it values are cut (``headersTruncated``)."""
OVERHEAD = 256
"""Bytes an entry counts against its session's cap beyond its headers and bodies."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


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


@dataclass(frozen=True)
class Exchange:
    """One side of an exchange as received: rendered only when the journal is read."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    size: int
    headers_truncated: bool = False
    kept: int = 0
    """Bytes held: headers and body."""

    @classmethod
    def of(cls, raw: Iterable[tuple[bytes, bytes]], body: bytes, size: int) -> Exchange:
        """The exchange as kept: headers beyond :data:`HEADER_LIMIT` bytes cut."""
        raw = list(raw)
        total = 0
        for name, value in raw:
            total += len(name) + len(value)
        if total <= HEADER_LIMIT:  # the common case: kept whole
            return cls(raw, body, size, kept=total + len(body))
        headers: list[tuple[bytes, bytes]] = []
        budget = HEADER_LIMIT
        for name, value in raw:
            if budget <= 0:
                break
            headers.append((name[:budget], value[: max(budget - len(name), 0)]))
            budget -= len(name) + len(value)
        held = HEADER_LIMIT - max(budget, 0) + len(body)
        return cls(headers, body, size, headers_truncated=budget < 0, kept=held)

    def to_json(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", errors="replace")
        shown: dict[str, Any] = {"headers": _headers(self.headers), "body": text}
        if self.headers_truncated:
            shown["headersTruncated"] = True
        if self.size > len(self.body):
            shown["truncated"] = True
        elif text.strip():
            try:
                shown["json"] = json.loads(text)
            except ValueError:
                pass
        return shown


@dataclass(frozen=True)
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

    @property
    def size(self) -> int:
        """Bytes this entry counts against its session's journal cap."""
        return self.request.kept + self.response.kept + len(self.path) + len(self.query) + OVERHEAD

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
                **self.request.to_json(),
            },
            "response": {"status": self.status, **self.response.to_json()},
            "durationMs": round(self.duration_ms, 3),
        }


Log = Callable[[Entry], Awaitable[None]]
"""Where :func:`capture` puts an exchange (a session's journal)."""


async def capture(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, log: Log, clock: Clock
) -> None:
    """Run ``app`` and log the exchange; the app reads and writes as usual.

    ``scope["state"]`` tells which API and operation answered (set by the
    dispatcher) and whether the answer was simulated. The entry is logged before
    the answer's last message is sent; an answer given before the body was read
    (401, Prefer, a fault, an unknown path) still logs what the client sent, up
    to the limit.
    """
    started, at = time.perf_counter(), clock()
    sent = _Body()
    answered = _Body()
    status = 0
    response_headers: list[tuple[bytes, bytes]] = []
    logged = False

    async def tee_receive() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            sent.add(message.get("body", b""))
            sent.complete = not message.get("more_body", False)
        else:
            sent.complete = True  # http.disconnect
        return message

    async def log_once() -> None:
        nonlocal logged
        if logged:
            return
        logged = True
        state = scope.get("state", {})
        try:
            await _log_entry(state)
        except StoreUnavailable as exc:  # the answer still goes out; only its record is lost
            _log.warning("%s %s not journalled: %s", scope["method"], scope["path"], exc)

    async def _log_entry(state: dict[str, Any]) -> None:
        await log(
            Entry(
                at=at,
                session=state.get(_scope.SESSION_NAME, ""),
                api=state.get(_scope.API),
                operation=state.get(_scope.OPERATION),
                simulated=state.get(_scope.SIMULATED),
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status or None,
                request=sent.exchange(scope.get("headers", [])),
                response=answered.exchange(response_headers),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )

    async def tee_send(message: Message) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answered.add(message.get("body", b""))
            if not message.get("more_body", False):
                while not sent.complete and sent.size <= BODY_LIMIT:
                    await tee_receive()
                await log_once()
        await send(message)

    try:
        await app(scope, tee_receive, tee_send)
    finally:
        if not logged:  # no answer: a dropped connection, or the app failed
            while not sent.complete and sent.size <= BODY_LIMIT:
                await tee_receive()
            await log_once()


class _Body:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = False

    def add(self, chunk: bytes) -> None:
        if self.size < BODY_LIMIT:
            self.chunks.append(chunk[: BODY_LIMIT - self.size])
        self.size += len(chunk)

    def exchange(self, headers: Iterable[tuple[bytes, bytes]]) -> Exchange:
        return Exchange.of(headers, b"".join(self.chunks), self.size)


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = redact(name, value_bytes.decode("latin-1"))
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
