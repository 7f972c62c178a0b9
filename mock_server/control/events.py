"""``GET /__mock/events``: a session's changes as server-sent events, for a live view.

Polling, not notification: every :data:`POLL` seconds the stream reads the session's
changed records and its journal from the store and sends what differs from its last
read. So it sees every writer the store has (a vendor call, the control plane, another
worker or host on SQLite or Redis) with nothing for writers to do, and costs the
request path nothing. A poll compares the session's changed records as stored (nothing
decoded: ``Backend.versions``) and decodes only those that changed, and renders only
the journal entries logged since its last (``journal(from_id=...)``): its cost grows
with what changed, not with the session's size.

Bounded: at most :data:`MAX_STREAMS` streams per process (beyond: 503); each ends after
:data:`MAX_SECONDS` (an ``EventSource`` reconnects by itself, and ``Last-Event-ID``
resumes the journal where it was, or, when the journal no longer holds that id, sends a
``journal`` event and the journal whole); a keep-alive comment every :data:`KEEP_ALIVE`
seconds; a stream holds one token per changed record (the stored form); and it ends within
one poll of the server stopping (:func:`mock_server.serving.stopping`), of the client
leaving, or of the store being lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from mock_server._http import problem_response
from mock_server.craftkit import signatures
from mock_server.firma import jwts
from mock_server.state import Session, StoreUnavailable
from mock_server.state.base import Logged, Record

__all__ = ["KEEP_ALIVE", "MAX_SECONDS", "MAX_STREAMS", "POLL", "Streams"]

log = logging.getLogger("mock_server.control")

POLL = 0.5
"""Seconds between two reads of the store."""
KEEP_ALIVE = 15.0
"""Seconds of quiet after which a comment line is sent (proxies close silent streams)."""
MAX_SECONDS = 300.0
"""Seconds a stream lasts; then it ends and the client reconnects."""
MAX_STREAMS = 16
"""Streams one process serves at once; beyond, a 503 with ``Retry-After``."""
RETRY_MS = 1000
"""The reconnection delay the stream asks of an ``EventSource`` (``retry:``)."""

MANY = 32
"""Changed records past which a poll decodes them in one read rather than one by one."""

_COLLECTIONS = (("craftkit", signatures.COLLECTION), ("firma", jwts.COLLECTION))
_MEDIA_TYPE = "text/event-stream"
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _event(kind: str, data: Any, id: int | None = None) -> bytes:
    """One event; ``data`` as JSON on one line (ASCII: a lone surrogate stays escaped).

    >>> _event("change", {"a": 1}, 7)
    b'event: change\\nid: 7\\ndata: {"a":1}\\n\\n'
    """
    head = f"event: {kind}\n" + (f"id: {id}\n" if id is not None else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Streams:
    """The event streams of one process: counted, each bounded."""

    def __init__(self, *, stopping: Callable[[], bool]) -> None:
        self.open = 0
        self._stopping = stopping

    def answer(
        self, session: Session, last_event_id: str | None, *, head: bool = False
    ) -> Response:
        """The stream of ``session`` (a 503 beyond :data:`MAX_STREAMS`); with
        ``last_event_id`` (a journal id), the exchanges since it are sent first. For a
        ``HEAD`` (``head``), what a ``GET`` would begin with, and no stream."""
        if self.open >= MAX_STREAMS:
            return problem_response(
                503,
                f"{MAX_STREAMS} event streams are open in this process; retry later",
                headers={"Retry-After": "5"},
            )
        if head:  # the head a GET would have: no length (a stream's is not known)
            response = Response(media_type=_MEDIA_TYPE, headers=_HEADERS)
            del response.headers["content-length"]
            return response
        self.open += 1
        return _Counted(self, self._stream(session, _journal_id(last_event_id)))

    async def _stream(self, session: Session, after: int | None) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._events(session, after):
                yield chunk
        except StoreUnavailable as exc:  # the client reconnects, and gets the 503 meanwhile
            log.warning("event stream of session %r ended: %s", session.name, exc)

    async def _events(self, session: Session, after: int | None) -> AsyncIterator[bytes]:
        records = {api: session.store(api) for api, _ in _COLLECTIONS}
        seen: dict[tuple[str, str], dict[str, object]] = {}
        for api, collection in _COLLECTIONS:
            seen[api, collection] = await records[api].versions(collection)
        journal = await session.journal()
        yield f"retry: {RETRY_MS}\n\n".encode() + _event("ready", {"session": session.name})
        if after is not None:  # a client resuming: what it missed, or a new journal
            for chunk in _journal(journal, after):
                yield chunk
        last = journal[-1].id if journal else 0
        started = quiet = time.monotonic()
        while not self._stopping() and time.monotonic() - started < MAX_SECONDS:
            await asyncio.sleep(POLL)
            sent = False
            for api, collection in _COLLECTIONS:
                store = records[api]
                now = await store.versions(collection)  # compared as stored: nothing decoded
                before = seen[api, collection]
                differ = [key for key, version in now.items() if before.get(key) != version]
                # Decoded: the records that changed (all at once when many did: a batch).
                rows = dict(await store.changed(collection)) if len(differ) > MANY else {}
                for key in differ:
                    sent = True
                    record = rows.get(key) if rows else await store.get(collection, key)
                    yield _change(api, collection, key, record)
                for key in before.keys() - now.keys():  # a reset: back to the fixture, or gone
                    sent = True
                    yield _change(api, collection, key, await store.get(collection, key))
                seen[api, collection] = now
            # What is new since entry `last`: the entries before it are not rendered again.
            journal = await session.journal(from_id=last)
            for chunk in _journal(journal, last):
                sent = True
                yield chunk
            last = journal[-1].id if journal else 0
            if sent:
                quiet = time.monotonic()
            elif time.monotonic() - quiet >= KEEP_ALIVE:
                quiet = time.monotonic()
                yield b": keep-alive\n\n"


def _journal_id(text: str | None) -> int | None:
    """The journal id a ``Last-Event-ID`` names, if it names one (the stream's own ids are
    ASCII digits; anything else, or a number no journal reaches, is no id: the client
    starts afresh).

    >>> _journal_id("42"), _journal_id(None), _journal_id(""), _journal_id("-1")
    (42, None, None, None)
    >>> _journal_id("\u00b2"), _journal_id("\u0664\u0662"), _journal_id("9" * 5000)
    (None, None, None)
    """
    if text and len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _journal(journal: list[Logged], last: int) -> Iterator[bytes]:
    """What a client holding the journal up to entry ``last`` (``0``: none) is sent: the
    entries after it; or, when ``journal`` no longer holds ``last`` (cleared, reset, trimmed
    to ``--journal-bytes``, or another process's id), a ``journal`` event ``{"cleared":
    true}`` (drop what you hold) and then every entry.

    >>> entries = [Logged(i, 0.0, "craftkit", None, 200, {"id": i}) for i in (4, 5)]
    >>> [c.split(b"\\n")[0] for c in _journal(entries, 4)]
    [b'event: request']
    >>> [c.split(b"\\n")[0] for c in _journal(entries, 3)]
    [b'event: journal', b'event: request', b'event: request']
    >>> list(_journal([], 0)), list(_journal(entries, 5))
    ([], [])
    """
    if last and all(entry.id != last for entry in journal):
        yield _event("journal", {"cleared": True})
        last = 0
    for entry in journal:
        if entry.id > last:
            yield _event("request", entry.body, entry.id)


class _Counted(StreamingResponse):
    """The stream, counted among the process's until its answer ends however it ends (a
    generator never started, the client gone before the head, would not say so)."""

    def __init__(self, streams: Streams, content: AsyncIterator[bytes]) -> None:
        super().__init__(content, media_type=_MEDIA_TYPE, headers=_HEADERS)
        self._streams = streams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._streams.open -= 1


def _change(api: str, collection: str, key: str, record: Record | None) -> bytes:
    """A ``change`` event: the record as ``GET /__mock/state`` shows it (``null``: gone)."""
    return _event("change", {"api": api, "collection": collection, "id": key, "record": record})
