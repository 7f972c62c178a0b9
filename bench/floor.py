"""The fused floor: the least work a stateful mock does for ``craftkit-409``, in one function.

Not a target of the benchmark and not a mock: a measuring stick for issue #12's
throughput goal (the mock at 0.8x the bare handler). One pure ASGI function that does,
for the Craftkit cancel, only what the mock cannot skip: one pass over the headers (key,
session), the route by splitting the path, the session touched, the key looked up, the
record decoded from the store (marshalled, as the memory store keeps it), the state's
decision, the error envelope encoded, and a journal entry kept (the raw exchange, rendered
never). No layers, no Starlette, no faults, ``Prefer``, CORS, limits or validation: what
the mock does beyond it is what its generality costs. Any other request is a plain 404.

``uvicorn bench.floor:app`` (with the bench's uvicorn options, docs/performance.md); in
process, ``bench.profile``'s harness measures it beside the bare handler and the mock.
With ``BENCH_FLOOR_WORK_US=N`` set, each request first does N µs of pure-Python work (a
busy loop): ``python -m bench.curve`` runs it so, to show what an app's own work per
request costs in the ratio to the bare handler.

>>> import asyncio
>>> from bench.paths import PATHS
>>> from bench.profile import _call
>>> from bench.bare import ANSWERS
>>> asyncio.run(_call(app, next(p for p in PATHS if p.name == "craftkit-409").request))
409
>>> _JOURNAL[-1][2][-1] == ANSWERS["craftkit-409"][1]  # the mock's body, byte for byte
True
"""

from __future__ import annotations

import json
import marshal
import os
import time
from collections import deque
from typing import Any

from starlette.types import Receive, Scope, Send

from bench.paths import CRAFTKIT_KEY, CRAFTKIT_TERMINAL

__all__ = ["app"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_KEYS = {CRAFTKIT_KEY: "proj_acme"}
_RECORD = {
    "id": CRAFTKIT_TERMINAL,
    "project": "proj_acme",
    "name": "Untitled agreement",
    "status": "completed",
    "recipients": [{"id": "rcp_1", "email": "signer1@example.com", "order": 1}],
    "createdAt": "2026-11-23T03:37:19.037Z",
}
_STORE = {"default": {CRAFTKIT_TERMINAL: marshal.dumps(_RECORD)}}
_SESSIONS: dict[str, float] = {"default": 0.0}
_JOURNAL: deque[tuple[Any, ...]] = deque(maxlen=10_000)
# uvicorn imports the floor by name: the environment is its only way to take an argument.
_WORK = float(os.environ.get("BENCH_FLOOR_WORK_US", "0") or 0) / 1e6  # noqa: TID251
"""Seconds of busy work added to each request (``bench.curve``)."""
_CANCELLABLE = frozenset(("sent", "viewed"))
_NOT_FOUND = b'{"error":{"code":"not_found","message":"Not found."}}'
_UNAUTHORIZED = b'{"error":{"code":"unauthorized","message":"Invalid API key."}}'


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if _WORK:
        until = time.perf_counter() + _WORK
        while time.perf_counter() < until:
            pass
    at = time.time()
    token, session = "", "default"
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = value.decode("latin-1").partition(" ")[2]
        elif name == b"x-mock-session":
            session = value.decode("latin-1")
    message = await receive()
    parts = scope["path"].split("/")
    status, body, why = 404, _NOT_FOUND, "no route"
    if scope["method"] == "POST" and len(parts) == 5 and parts[1:3] == ["v1", "signatures"]:
        _SESSIONS[session] = at
        project = _KEYS.get(token)
        stored = _STORE.get(session, {}).get(parts[3])
        record = marshal.loads(stored) if stored is not None else None
        if project is None:
            status, body, why = 401, _UNAUTHORIZED, "key"
        elif record is not None and record["project"] == project:
            if record["status"] in _CANCELLABLE:
                raise NotImplementedError("the floor measures the 409 path only")
            text = f"Signature request is already {record['status']} and cannot be cancelled."
            error = {"error": {"code": "conflict", "message": text}}
            status, body, why = 409, _ENCODER.encode(error).encode(), record["status"]
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    exchange = (scope["path"], scope["headers"], message["body"], status, headers, body)
    _JOURNAL.append((at, session, exchange, why))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
