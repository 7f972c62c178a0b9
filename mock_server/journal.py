"""The request journal: what each client sent to the vendor APIs and what it got back.

Issue #4: a test asserts on what its client sent (``GET /__mock/requests``).
Credentials are redacted before anything is stored, so a journal can be
printed in a CI log. Each session keeps its latest :data:`CAPACITY` entries.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server import _scope
from mock_server.clock import Clock, isoformat

__all__ = ["CAPACITY", "Entry", "Exchange", "Journal", "redact"]

CAPACITY = 1000
BODY_LIMIT = 65_536
"""Bytes of each body kept; longer bodies are cut and marked ``truncated``."""

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

    def to_json(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", errors="replace")
        shown: dict[str, Any] = {"headers": _headers(self.headers), "body": text}
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
    """One exchange, as ``GET /__mock/requests`` lists it."""

    id: int
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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
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


_ids = itertools.count(1)


class Journal:
    """The latest exchanges of one session, oldest first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(
        self,
        *,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        since: float | None = None,
    ) -> list[Entry]:
        """Entries matching every filter given (``since``: at or after, epoch seconds)."""
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (api is None or e.api == api)
            and (operation is None or e.operation == operation)
            and (status is None or e.status == status)
            and (since is None or e.at >= since)
        ]

    async def capture(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, clock: Clock
    ) -> None:
        """Run ``app`` and journal the exchange; the app reads and writes as usual.

        ``scope["state"]`` tells which API and operation answered (set by the
        dispatcher) and whether the answer was simulated.
        """
        started, at = time.perf_counter(), clock()
        sent = _Body()
        answered = _Body()
        status = 0
        response_headers: list[tuple[bytes, bytes]] = []

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent.add(message.get("body", b""))
                sent.complete = not message.get("more_body", False)
            else:
                sent.complete = True  # http.disconnect
            return message

        async def tee_send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answered.add(message.get("body", b""))
            await send(message)

        try:
            await app(scope, tee_receive, tee_send)
            # An answer given before the body was read (401, Prefer, a fault, an
            # unknown path) still journals what the client sent, up to the limit.
            while not sent.complete and sent.size <= BODY_LIMIT:
                await tee_receive()
        finally:
            state = scope.get("state", {})
            self.add(
                Entry(
                    id=next(_ids),
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
        return Exchange(list(headers), b"".join(self.chunks), self.size)


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = redact(name, value_bytes.decode("latin-1"))
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
