"""A live event stream's poll costs what changed, not what the session holds.

Every open dashboard polls its session every half second (``POLL``): when a poll decoded
every changed record and rendered the whole journal, a session of 10,000 records and a
full journal cost ~180 ms of the worker's event loop per poll and stream (measured), a
stall for every request it serves. Counted here, not timed: the records decoded and the
journal entries rendered by one poll that finds one change and one exchange.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mock_server.control import events
from mock_server.craftkit.signatures import COLLECTION
from mock_server.state import Decision, Record, memory
from mock_server.state.journal import Entry
from mock_server.state.memory import MemoryBackend
from mock_server.state.sessions import Session
from tests.state.test_backends import entry

pytestmark = pytest.mark.anyio

RECORDS = 500
ENTRIES = 300


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_poll_decodes_the_changed_record_and_renders_the_new_entry_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = Session(MemoryBackend(), "ns", "s", {"craftkit": {}, "firma": {}}, clock=lambda: 1.0)
    await session.begin()
    store = session.store("craftkit")
    created = [(f"k{i}", {"id": f"k{i}", "status": "sent"}) for i in range(RECORDS)]
    assert await store.insert_all(COLLECTION, created) == []
    for index in range(ENTRIES):
        await session.log(entry(f"/p/{index}"))

    decoded = Counter[str]()
    rendered = Counter[int]()
    kept, to_json = memory.kept, Entry.to_json

    def counted_kept(stored: Any) -> Any:
        record = kept(stored)
        decoded[record["id"]] += 1
        return record

    def counted_to_json(self: Entry, id: int) -> dict[str, Any]:
        rendered[id] += 1
        return to_json(self, id)

    monkeypatch.setattr(memory, "kept", counted_kept)
    monkeypatch.setattr(Entry, "to_json", counted_to_json)
    monkeypatch.setattr(events, "POLL", 0.0)
    stream = events.Streams(stopping=lambda: False)._events(session, None)
    assert b"event: ready" in await anext(stream)

    decoded.clear()
    rendered.clear()
    await store.transition(COLLECTION, "k7", _cancelled)
    await session.log(entry("/new"))
    change = await anext(stream)
    assert b"event: change" in change and b'"id":"k7"' in change and b"cancelled" in change
    request = await anext(stream)
    assert b"event: request" in request and b'"/new"' in request
    assert sum(decoded.values()) <= 2, decoded  # the transition's read, the change's
    assert set(decoded) == {"k7"}
    newest = max(rendered)
    assert sum(rendered.values()) <= 2 and set(rendered) <= {newest - 1, newest}, rendered


def _cancelled(record: Record | None) -> Decision[None]:
    assert record is not None
    return Decision(None, {**record, "status": "cancelled"})
