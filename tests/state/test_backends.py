"""What every back-end must do (issue #11): the same tests, memory / SQLite / Redis.

Two clients of one store stand for two workers (or hosts): what one changes, the
other sees. The memory store has one client only (it is one process's own).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from mock_server.state import Backend, Decision, Limits, Record, insert
from mock_server.state.base import Window
from mock_server.state.journal import Entry, exchange
from mock_server.state.redis import RedisBackend
from tests.state.conftest import BackendFactory

pytestmark = pytest.mark.anyio

TABLE = "craftkit.signature_requests"
SENT: Record = {"id": "a", "status": "sent"}


def cancel(record: Record | None) -> Decision[str]:
    if record is None:
        return Decision("404")
    if record["status"] != "sent":
        return Decision("409")
    return Decision("200", {**record, "status": "cancelled"})


async def opened(make_backend: BackendFactory, count: int) -> list[Backend]:
    """``count`` clients of one store, connected: workers (or hosts) sharing it."""
    clients = [make_backend() for _ in range(count)]
    for client in clients:
        await client.open()
    return clients


def entry(path: str = "/v1/x", *, at: float = 1.0, body: bytes = b"", status: int = 200) -> Entry:
    return Entry(
        at=at,
        session="s",
        api="craftkit",
        operation="cancelSignature",
        simulated=None,
        method="POST",
        path=path,
        query="",
        status=status,
        request=exchange([(b"authorization", b"Bearer ck_x")], body, len(body)),
        response=exchange([], b"{}", 2),
        duration_ms=1.0,
    )


# --- records -------------------------------------------------------------------------


async def test_a_record_never_changed_reads_as_absent_and_transitions_from_the_base(
    backend: Backend, ns: str
) -> None:
    assert await backend.get(ns, "s", TABLE, "a") is None
    assert await backend.transition(ns, "s", TABLE, "a", SENT, cancel) == "200"
    assert await backend.get(ns, "s", TABLE, "a") == {"id": "a", "status": "cancelled"}
    assert await backend.transition(ns, "s", TABLE, "a", SENT, cancel) == "409"


async def test_a_refused_decision_stores_nothing(backend: Backend, ns: str) -> None:
    assert await backend.transition(ns, "s", TABLE, "a", None, cancel) == "404"
    assert await backend.changed(ns, "s", TABLE) == []


async def test_changed_lists_records_in_the_order_of_their_first_change(
    backend: Backend, ns: str
) -> None:
    for key in ("c", "a", "b"):
        await backend.transition(ns, "s", TABLE, key, None, insert({"id": key}))
    await backend.transition(ns, "s", TABLE, "c", {"id": "c"}, lambda r: Decision(0, {"id": "C"}))
    assert await backend.changed(ns, "s", TABLE) == [
        ("c", {"id": "C"}),
        ("a", {"id": "a"}),
        ("b", {"id": "b"}),
    ]


async def test_sessions_namespaces_and_tables_are_isolated(backend: Backend, ns: str) -> None:
    await backend.transition(ns, "s", TABLE, "a", SENT, cancel)
    assert await backend.get(ns, "other", TABLE, "a") is None
    assert await backend.get(ns + "x", "s", TABLE, "a") is None
    assert await backend.get(ns, "s", "firma.jwts", "a") is None


async def test_reads_hand_out_copies(backend: Backend, ns: str) -> None:
    await backend.transition(ns, "s", TABLE, "k", None, insert({"list": [1]}))
    copy = await backend.get(ns, "s", TABLE, "k")
    assert copy is not None
    copy["list"].append(2)
    assert await backend.get(ns, "s", TABLE, "k") == {"list": [1]}


async def test_a_record_of_scalars_is_copied_in_and_out(backend: Backend, ns: str) -> None:
    """The memory store keeps such a record as a dict of its own (a Firma JWT), not
    marshalled: still a copy of what was given, and each read a copy of it."""
    given: Record = {"s": "x", "n": 1, "z": None}
    await backend.transition(ns, "s", TABLE, "k", None, insert(given))
    given["s"] = "changed by the caller"
    copy = await backend.get(ns, "s", TABLE, "k")
    assert copy == {"s": "x", "n": 1, "z": None}
    copy["s"], copy["new"] = "changed by a reader", 1
    assert await backend.get(ns, "s", TABLE, "k") == {"s": "x", "n": 1, "z": None}
    [(_, listed)] = await backend.changed(ns, "s", TABLE)
    listed["s"] = "changed by a lister"
    assert await backend.get(ns, "s", TABLE, "k") == {"s": "x", "n": 1, "z": None}


async def test_records_keep_json_types_exactly(backend: Backend, ns: str) -> None:
    record: Record = {"n": 1, "f": 1.5, "t": True, "z": None, "s": "é\u2028", "l": [{"x": []}]}
    await backend.transition(ns, "s", TABLE, "k", None, insert(record))
    assert await backend.get(ns, "s", TABLE, "k") == record


async def test_strings_json_allows_but_utf_8_does_not_round_trip(backend: Backend, ns: str) -> None:
    """A lone surrogate (``"\\ud800"`` in a client's JSON body) is a valid JSON string but no
    UTF-8: records and journal entries holding one are kept as they are, not refused."""
    record: Record = {"reason": "\ud800 half a pair"}
    await backend.transition(ns, "s", TABLE, "k", None, insert(record))
    assert await backend.get(ns, "s", TABLE, "k") == record
    await backend.log(ns, "s", entry(body=b'{"reason": "\\ud800"}'))
    [logged] = await backend.journal(ns, "s")
    assert logged.body["request"]["json"] == {"reason": "\ud800"}


async def test_concurrent_transitions_from_several_clients_apply_exactly_once(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 3)
    outcomes = await asyncio.gather(
        *(clients[i % 3].transition(ns, "s", TABLE, "a", SENT, cancel) for i in range(60))
    )
    assert Counter(outcomes) == {"200": 1, "409": 59}


async def test_concurrent_counters_lose_no_update(make_backend: BackendFactory, ns: str) -> None:
    clients = await opened(make_backend, 2)

    def increment(record: Record | None) -> Decision[None]:
        return Decision(None, {"n": (record or {"n": 0})["n"] + 1})

    await asyncio.gather(
        *(
            clients[i % 2].transition(ns, "s", "firma.rate_windows", "k", None, increment)
            for i in range(100)
        )
    )
    assert await clients[0].get(ns, "s", "firma.rate_windows", "k") == {"n": 100}


# --- many records at once ------------------------------------------------------------


def rows(*keys: str) -> list[tuple[str, Record]]:
    return [(key, {"id": key, "status": "sent"}) for key in keys]


async def test_insert_all_stores_every_record_after_the_earlier_changes_in_order(
    backend: Backend, ns: str
) -> None:
    await backend.transition(ns, "s", TABLE, "z", None, insert({"id": "z"}))
    assert await backend.insert_all(ns, "s", TABLE, rows("c", "a", "b")) == []
    assert [key for key, _ in await backend.changed(ns, "s", TABLE)] == ["z", "c", "a", "b"]
    assert await backend.get(ns, "s", TABLE, "a") == {"id": "a", "status": "sent"}
    assert await backend.transition(ns, "s", TABLE, "a", None, cancel) == "200"
    assert await backend.get(ns, "other", TABLE, "a") is None
    assert await backend.get(ns, "s", "firma.jwts", "a") is None


async def test_insert_all_with_a_key_taken_stores_nothing_and_names_the_keys_taken(
    backend: Backend, ns: str
) -> None:
    """All or nothing, past the keys SQLite looks up in one query (500)."""
    keys = [f"k{i:04}" for i in range(1200)]
    await backend.transition(ns, "s", TABLE, "k1100", None, insert({"id": "k1100"}))
    await backend.transition(ns, "s", TABLE, "k0003", None, insert({"id": "k0003"}))
    assert await backend.insert_all(ns, "s", TABLE, rows(*keys)) == ["k0003", "k1100"]
    assert [key for key, _ in await backend.changed(ns, "s", TABLE)] == ["k1100", "k0003"]
    assert await backend.get(ns, "s", TABLE, "k0000") is None
    assert await backend.get(ns, "s", TABLE, "k1100") == {"id": "k1100"}, "the taken one unchanged"


async def test_insert_all_keeps_json_types_and_stores_copies(backend: Backend, ns: str) -> None:
    record: Record = {"n": 1, "f": 1.5, "t": True, "z": None, "s": "é\ud800", "l": [{"x": []}]}
    given = [("k", record)]
    assert await backend.insert_all(ns, "s", TABLE, given) == []
    record["l"].append(2)
    assert await backend.get(ns, "s", TABLE, "k") == {**record, "l": [{"x": []}]}


async def test_concurrent_overlapping_inserts_from_several_clients_store_whole_batches(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 3)
    batches = [rows(f"a{i}", f"b{i}", f"a{i + 1}") for i in range(30)]  # each shares a key
    taken = await asyncio.gather(
        *(clients[i % 3].insert_all(ns, "s", TABLE, batch) for i, batch in enumerate(batches))
    )
    stored = {key for key, _ in await clients[0].changed(ns, "s", TABLE)}
    won = [batch for batch, refused in zip(batches, taken, strict=True) if not refused]
    assert won, "some batch got in"
    assert stored == {key for batch in won for key, _ in batch}, "only whole batches"
    for batch, refused in zip(batches, taken, strict=True):
        assert set(refused) <= {key for key, _ in batch} & stored


# --- sessions ------------------------------------------------------------------------


async def test_touch_creates_once_and_reports_faults(backend: Backend, ns: str) -> None:
    first = await backend.touch(ns, "s", 100.0)
    again = await backend.touch(ns, "s", 101.0)
    assert (first.created, again.created) == (True, False)
    assert not again.has_faults
    await backend.add_fault(
        ns, "s", api="firma", operation="op", status=500, delay_ms=0, drop=False, times=None
    )
    assert (await backend.touch(ns, "s", 102.0)).has_faults


async def test_reset_forgets_changes_journal_and_faults_but_not_other_sessions(
    backend: Backend, ns: str
) -> None:
    for name in ("s", "t"):
        await backend.touch(ns, name, 1.0)
        await backend.transition(ns, name, TABLE, "a", SENT, cancel)
        await backend.log(ns, name, entry())
        await backend.add_fault(
            ns, name, api="craftkit", operation="op", status=500, delay_ms=0, drop=False, times=2
        )
    await backend.reset(ns, "s")
    assert await backend.get(ns, "s", TABLE, "a") is None
    assert await backend.journal(ns, "s") == []
    assert await backend.faults(ns, "s") == []
    assert await backend.get(ns, "t", TABLE, "a") is not None
    assert len(await backend.journal(ns, "t")) == 1
    assert len(await backend.faults(ns, "t")) == 1
    assert "s" in await backend.sessions(ns), "a reset session still exists"


async def test_past_the_cap_the_least_recently_used_session_is_forgotten_never_default(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(max_sessions=2))
    await backend.open()
    await backend.touch(ns, "default", 1.0)
    await backend.transition(ns, "default", TABLE, "a", SENT, cancel)
    await backend.touch(ns, "one", 2.0)
    await backend.transition(ns, "one", TABLE, "a", SENT, cancel)
    await backend.touch(ns, "two", 3.0)
    assert sorted(await backend.sessions(ns)) == ["default", "two"]
    assert await backend.get(ns, "one", TABLE, "a") is None, "a forgotten session's data stays"
    assert await backend.get(ns, "default", TABLE, "a") is not None


async def test_the_cap_never_evicts_the_session_being_touched(
    make_backend: BackendFactory, ns: str
) -> None:
    """``--max-sessions 1``: beside ``default``, the session a request names is kept."""
    backend = make_backend(Limits(max_sessions=1))
    await backend.open()
    now = 1_795_402_201.0
    await backend.touch(ns, "default", now)
    await backend.touch(ns, "a", now + 1)
    await backend.transition(ns, "a", TABLE, "a", SENT, cancel)
    again = await backend.touch(ns, "a", now + 2)
    assert not again.created, "the session its requests name survives its own touch"
    assert await backend.get(ns, "a", TABLE, "a") is not None
    await backend.touch(ns, "b", now + 3)
    assert sorted(await backend.sessions(ns)) == ["b", "default"]


async def test_what_a_request_wrote_after_its_session_was_forgotten_does_not_come_back(
    make_backend: BackendFactory, ns: str
) -> None:
    """A request still running when another one evicted its session writes on; the next
    request with that name still starts from the fixtures (and the late writes are freed)."""
    backend = make_backend(Limits(max_sessions=2))
    await backend.open()
    now = 1_795_402_201.0
    await backend.touch(ns, "a", now)
    await backend.touch(ns, "b", now + 1)
    await backend.touch(ns, "c", now + 2)  # evicts "a" ...
    await backend.transition(ns, "a", TABLE, "a", SENT, cancel)  # ... while its request runs
    await backend.log(ns, "a", entry())
    await backend.add_fault(
        ns, "a", api="firma", operation="op", status=500, delay_ms=0, drop=False, times=None
    )
    again = await backend.touch(ns, "a", now + 3)
    assert again.created and not again.has_faults
    assert not again.expired, "evicted, not found idle: the reason is not known"
    assert await backend.get(ns, "a", TABLE, "a") is None
    assert await backend.journal(ns, "a") == []
    assert await backend.faults(ns, "a") == []


async def test_an_idle_session_expires_and_starts_again(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(session_ttl=10))
    await backend.open()
    await backend.touch(ns, "s", 100.0)
    await backend.transition(ns, "s", TABLE, "a", SENT, cancel)
    await backend.touch(ns, "t", 105.0)
    assert not (await backend.touch(ns, "s", 109.0)).created
    later = await backend.touch(ns, "s", 120.0)
    assert later.created, "idle beyond the TTL: a new session"
    assert later.expired, "found idle beyond the TTL: the reason is known"
    assert not (await backend.touch(ns, "new", 120.0)).expired
    assert await backend.get(ns, "s", TABLE, "a") is None
    await backend.touch(ns, "u", 200.0)
    assert "t" not in await backend.sessions(ns), "an idle session is swept by others' requests"


async def test_default_never_expires_even_when_it_is_the_one_touched(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(session_ttl=10))
    await backend.open()
    await backend.touch(ns, "default", 100.0)
    await backend.transition(ns, "default", TABLE, "a", SENT, cancel)
    later = await backend.touch(ns, "default", 500.0)
    assert not later.created, "default idle beyond the TTL is still the same session"
    assert await backend.get(ns, "default", TABLE, "a") is not None


async def test_forget_deletes_a_namespace(backend: Backend, ns: str) -> None:
    await backend.touch(ns, "s", 1.0)
    await backend.transition(ns, "s", TABLE, "a", SENT, cancel)
    await backend.forget(ns)
    assert await backend.sessions(ns) == []
    assert await backend.get(ns, "s", TABLE, "a") is None


async def test_world_keeps_the_namespace_of_the_same_fixtures_and_moves_on_a_change(
    make_backend: BackendFactory, store_url: str
) -> None:
    first, second = await opened(make_backend, 2)
    fingerprint = f"fp-{id(first)}"
    namespace = await first.world(fingerprint)
    assert await second.world(fingerprint) == namespace, "workers agree on the namespace"
    changed = await first.world(fingerprint + "-edited")
    assert changed != namespace
    assert await second.world(fingerprint + "-edited") == changed


# --- journal -------------------------------------------------------------------------


async def test_the_journal_lists_every_client_s_entries_in_order(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 2)
    for index in range(10):
        await clients[index % 2].log(ns, "s", entry(f"/p/{index}", at=float(index)))
    logged = await clients[1].journal(ns, "s")
    assert [e.body["request"]["path"] for e in logged] == [f"/p/{i}" for i in range(10)]
    assert [e.id for e in logged] == sorted({e.id for e in logged}), "ids increase, no repeats"
    assert logged[3].at == 3.0 and logged[3].api == "craftkit" and logged[3].status == 200
    assert logged[3].body["id"] == logged[3].id
    assert logged[0].body["request"]["headers"]["authorization"] == "Bearer [redacted]"


async def test_the_journal_keeps_the_newest_entries_within_its_byte_cap(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(journal_bytes=20_000))
    await backend.open()
    for index in range(30):
        await backend.log(ns, "s", entry(f"/p/{index}", body=b"x" * 1000))
    logged = await backend.journal(ns, "s")
    paths = [e.body["request"]["path"] for e in logged]
    assert 5 < len(paths) < 20, paths
    assert paths[-1] == "/p/29" and paths == [f"/p/{i}" for i in range(30 - len(paths), 30)]


async def test_the_journal_cap_counts_a_body_s_bytes_whatever_they_are(
    make_backend: BackendFactory, ns: str
) -> None:
    """``--journal-bytes`` counts the same bytes on every store: the body as sent (and the
    headers, path, query), not how a store encodes it. Redis counted its stored JSON, where
    a byte beyond ASCII takes six (``\\u00e9``): a journal of such bodies kept far fewer."""
    backend = make_backend(Limits(journal_bytes=20_000))
    await backend.open()
    kept = {}
    for session, body in (("ascii", b"x" * 1000), ("accented", "\u00e9".encode() * 500)):
        assert len(body) == 1000
        for index in range(30):
            await backend.log(ns, session, entry(f"/p/{index}", body=body))
        kept[session] = len(await backend.journal(ns, session))
    assert 5 < kept["ascii"] < 20, kept
    assert kept["accented"] == kept["ascii"], kept


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        pytest.param(b'{"a": "\\ud800"}', {"a": "\ud800"}, id="lone-surrogate"),
        pytest.param(b'{"a": NaN}', None, id="nan"),
        pytest.param(b'{"a": 1e999}', None, id="beyond-a-double"),
        pytest.param(b"[" * 5000 + b"]" * 5000, None, id="nested-5000"),
    ],
)
async def test_the_journal_keeps_any_body_as_sent_and_parses_only_strict_json(
    backend: Backend, ns: str, body: bytes, parsed: Any
) -> None:
    """Found by the #13 audit: such bodies were listed as invalid JSON, or made logging fail."""
    await backend.log(ns, "s", entry(body=body))
    [logged] = await backend.journal(ns, "s")
    assert logged.body["request"]["body"] == body.decode()
    assert logged.body["request"].get("json") == parsed


async def test_clearing_the_journal_keeps_ids_increasing(backend: Backend, ns: str) -> None:
    await backend.log(ns, "s", entry())
    before = (await backend.journal(ns, "s"))[0].id
    await backend.clear_journal(ns, "s")
    assert await backend.journal(ns, "s") == []
    await backend.log(ns, "s", entry())
    assert (await backend.journal(ns, "s"))[0].id > before


async def test_the_journal_from_an_entry_renders_it_and_the_newer_ones_only(
    make_backend: BackendFactory, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a live event stream asks every half second: entry ``from_id`` and the entries
    after it while the journal holds it (none older rendered), else the whole journal.
    100 entries: more than the Redis store reads from the end first (JOURNAL_TAIL)."""
    clients = await opened(make_backend, 2)
    for index in range(100):
        await clients[index % 2].log(ns, "s", entry(f"/p/{index}"))
    ids = [e.id for e in await clients[0].journal(ns, "s")]
    rendered = Counter[int]()
    to_json = Entry.to_json

    def counted(self: Entry, id: int) -> dict[str, Any]:
        rendered[id] += 1
        return to_json(self, id)

    monkeypatch.setattr(Entry, "to_json", counted)
    for start in (99, 90, 40, 5, 0):
        for client in clients:
            rendered.clear()
            got = await client.journal(ns, "s", from_id=ids[start])
            assert [e.id for e in got] == ids[start:]
            assert [e.body["request"]["path"] for e in got][:1] == [f"/p/{start}"]
            assert set(rendered) <= set(ids[start:]), "an entry before it was rendered"
    gone = ids[-1] + 1000  # never an id (or another process's, or cleared): everything
    assert [e.id for e in await clients[1].journal(ns, "s", from_id=gone)] == ids
    await clients[0].clear_journal(ns, "s")
    assert await clients[1].journal(ns, "s", from_id=ids[50]) == []
    await clients[1].log(ns, "s", entry("/after"))
    [after] = await clients[0].journal(ns, "s", from_id=ids[-1])  # cleared since: all
    assert after.body["request"]["path"] == "/after"


async def test_the_journal_from_an_entry_trimmed_away_is_the_whole_journal(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(journal_bytes=20_000))
    await backend.open()
    await backend.log(ns, "s", entry("/first", body=b"x" * 1000))
    [first] = await backend.journal(ns, "s")
    for index in range(30):
        await backend.log(ns, "s", entry(f"/p/{index}", body=b"x" * 1000))
    held = await backend.journal(ns, "s")
    assert first.id not in {e.id for e in held}
    assert await backend.journal(ns, "s", from_id=first.id) == held


async def test_versions_change_with_their_record_only(
    make_backend: BackendFactory, ns: str
) -> None:
    """The tokens the event stream compares: one per changed record, in changed()'s order,
    equal while the record is unchanged, on any client."""
    clients = await opened(make_backend, 2)
    assert await clients[0].versions(ns, "s", TABLE) == {}
    for key in ("c", "a", "b"):
        await clients[0].transition(ns, "s", TABLE, key, None, insert({**SENT, "id": key}))
    before = await clients[1].versions(ns, "s", TABLE)
    assert list(before) == [key for key, _ in await clients[1].changed(ns, "s", TABLE)]
    assert list(before) == ["c", "a", "b"]
    assert await clients[0].versions(ns, "s", TABLE) == before  # unchanged: equal
    assert await clients[1].transition(ns, "s", TABLE, "a", None, cancel) == "200"
    after = await clients[0].versions(ns, "s", TABLE)
    assert [key for key in after if after[key] != before[key]] == ["a"]
    assert await clients[0].transition(ns, "s", TABLE, "a", None, cancel) == "409"  # no write
    assert await clients[1].versions(ns, "s", TABLE) == after
    assert await clients[0].versions(ns, "s", "firma.jwts") == {}  # another table's own
    await clients[1].reset(ns, "s")
    assert await clients[0].versions(ns, "s", TABLE) == {}


# --- faults --------------------------------------------------------------------------


async def add(backend: Backend, ns: str, **fields: Any) -> Any:
    defaults: dict[str, Any] = {
        "api": "firma",
        "operation": "op",
        "status": 429,
        "delay_ms": 0,
        "drop": False,
        "times": None,
    }
    return await backend.add_fault(ns, "s", **(defaults | fields))


async def test_faults_are_consulted_in_the_order_set_and_counted_down(
    backend: Backend, ns: str
) -> None:
    first = await add(backend, ns, status=429, times=1)
    second = await add(backend, ns, status=500, times=None)
    await add(backend, ns, operation="other", status=401)
    assert first.id < second.id
    assert [f.status for f in await backend.faults(ns, "s")] == [429, 500, 401]
    taken = await backend.take_fault(ns, "s", "firma", "op")
    assert taken is not None and taken.status == 429
    assert [f.status for f in await backend.faults(ns, "s")] == [500, 401]
    for _ in range(3):
        again = await backend.take_fault(ns, "s", "firma", "op")
        assert again is not None and again.status == 500 and again.remaining is None
    assert await backend.take_fault(ns, "s", "craftkit", "op") is None
    assert await backend.clear_faults(ns, "s") == 2
    assert await backend.take_fault(ns, "s", "firma", "other") is None


async def test_the_most_times_a_fault_may_have_are_counted_exactly(
    backend: Backend, ns: str
) -> None:
    """A billion (the control plane's maximum): an integer every store keeps exact (Redis's
    Lua numbers are doubles, and its JSON encoder keeps 14 digits)."""
    added = await add(backend, ns, status=429, times=1_000_000_000)
    assert added.remaining == 1_000_000_000
    taken = await backend.take_fault(ns, "s", "firma", "op")
    assert taken is not None
    (left,) = await backend.faults(ns, "s")
    assert left.remaining == 999_999_999 and type(left.remaining) is int
    assert left.to_json()["remaining"] == 999_999_999


async def test_a_fault_with_times_answers_that_many_times_across_clients(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 3)
    await add(clients[0], ns, status=503, times=3, delay_ms=5, drop=False)
    taken = await asyncio.gather(
        *(clients[i % 3].take_fault(ns, "s", "firma", "op") for i in range(30))
    )
    hits = [t for t in taken if t is not None]
    assert len(hits) == 3
    assert sorted(t.remaining or 0 for t in hits) == [1, 2, 3]
    assert hits[0].to_json()["delay_ms"] == 5
    assert await clients[2].faults(ns, "s") == []


async def test_remove_fault_removes_that_fault_only_and_says_whether_it_was_there(
    make_backend: BackendFactory, ns: str
) -> None:
    one, other = await opened(make_backend, 2)
    first = await add(one, ns, status=429, times=3)
    second = await add(one, ns, status=500)
    elsewhere = await one.add_fault(
        ns, "t", api="firma", operation="op", status=429, delay_ms=0, drop=False, times=None
    )
    assert await other.take_fault(ns, "s", "firma", "op") == first, "counted down: 2 left"
    assert await other.remove_fault(ns, "s", first.id), "found by id, whatever it has left"
    assert await one.faults(ns, "s") == [second]
    assert not await one.remove_fault(ns, "s", first.id), "gone already"
    assert not await one.remove_fault(ns, "s", elsewhere.id), "another session's"
    assert not await one.remove_fault(ns, "s", second.id + 1000)
    assert await one.faults(ns, "t") == [elsewhere]
    assert await other.remove_fault(ns, "s", second.id)
    assert await one.faults(ns, "s") == []


async def test_concurrent_removes_of_one_fault_find_it_once(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 3)
    fault = await add(clients[0], ns, status=503, times=50)
    kept = await add(clients[0], ns, status=500, times=50)
    removed = await asyncio.gather(
        *(clients[i % 3].remove_fault(ns, "s", fault.id) for i in range(12)),
        *(clients[i % 3].take_fault(ns, "s", "firma", "op") for i in range(12)),
    )
    assert removed[:12].count(True) == 1
    [left] = await clients[1].faults(ns, "s")
    assert left.id == kept.id


# --- fixed windows -------------------------------------------------------------------


async def test_count_opens_a_window_counts_in_it_and_opens_another_when_it_runs_out(
    backend: Backend, ns: str
) -> None:
    now = 1_795_402_201.123456
    first = await backend.count(ns, "s", "firma.rate_windows", "k", now, 60)
    assert (first.start, first.used) == (now, 1)
    second = await backend.count(ns, "s", "firma.rate_windows", "k", now + 59.9, 60)
    assert (second.start, second.used) == (now, 2), "the start is kept exactly"
    assert await backend.get(ns, "s", "firma.rate_windows", "k") == {"start": now, "used": 2}
    later = await backend.count(ns, "s", "firma.rate_windows", "k", now + 60, 60)
    assert (later.start, later.used) == (now + 60, 1)
    other = await backend.count(ns, "s", "firma.rate_windows", "other", now, 60)
    assert other.used == 1


async def test_concurrent_counts_from_several_clients_lose_no_event(
    make_backend: BackendFactory, ns: str
) -> None:
    clients = await opened(make_backend, 3)
    windows = await asyncio.gather(
        *(clients[i % 3].count(ns, "s", "firma.rate_windows", "k", 100.0, 60) for i in range(90))
    )
    assert sorted(w.used for w in windows) == list(range(1, 91)), "each count saw its own total"


# --- a request begins ----------------------------------------------------------------


def reads_ahead(backend: Backend) -> bool:
    """Whether ``begin`` reads the records it is told of (Redis: a round trip saved)."""
    return isinstance(backend, RedisBackend)


async def test_begin_touches_takes_the_call_s_fault_and_reads(backend: Backend, ns: str) -> None:
    await backend.touch(ns, "s", 1.0)
    await backend.transition(ns, "s", TABLE, "a", SENT, cancel)
    await add(backend, ns, api="craftkit", operation="cancelSignature", status=502, times=2)
    begun = await backend.begin(
        ns, "s", 2.0, call=("craftkit", "cancelSignature"), reads=[(TABLE, "a"), (TABLE, "b")]
    )
    assert not begun.created
    assert begun.fault is not None and begun.fault.status == 502 and begun.fault.remaining == 2
    if reads_ahead(backend):
        assert begun.reads[(TABLE, "a")].record == {"id": "a", "status": "cancelled"}
        assert begun.reads[(TABLE, "b")].record is None
    else:  # its transition reads the record itself, in the same step
        assert begun.reads == {}
    [left] = await backend.faults(ns, "s")
    assert left.remaining == 1, "begin counted the fault it took"
    other = await backend.begin(ns, "s", 3.0, call=("firma", "cancelSignature"))
    assert other.fault is None
    fresh = await backend.begin(ns, "new", 3.0)
    assert fresh.created and fresh.fault is None and "new" in await backend.sessions(ns)
    assert not fresh.expired


async def test_begin_counts_the_windows_it_is_told_of_unless_it_takes_a_fault(
    backend: Backend, ns: str
) -> None:
    windows = "firma.rate_windows"
    counts = [(windows, "k", 60.0), (windows, "j", 60.0)]
    first = await backend.begin(ns, "s", 100.0, call=("firma", "revoke"), counts=counts)
    if not reads_ahead(backend):  # counting is a step of its own here: the caller counts
        assert first.counts == {}
        assert (await backend.count(ns, "s", windows, "k", 101.0, 60)).used == 1
        return
    assert first.counts == {(windows, "k"): Window(100.0, 1), (windows, "j"): Window(100.0, 1)}
    second = await backend.begin(ns, "s", 100.5, call=("firma", "revoke"), counts=counts[:1])
    assert second.counts == {(windows, "k"): Window(100.0, 2)}, "counted in the open window"
    assert (await backend.count(ns, "s", windows, "k", 101.0, 60)).used == 3, "one window"
    await add(backend, ns, api="firma", operation="revoke", status=500, times=1)
    faulted = await backend.begin(ns, "s", 102.0, call=("firma", "revoke"), counts=counts)
    assert faulted.fault is not None and faulted.counts == {}, "a fault taken counts nothing"
    assert await backend.get(ns, "s", windows, "k") == {"start": 100.0, "used": 3}
    later = await backend.begin(ns, "s", 160.0, call=("firma", "revoke"), counts=counts[:1])
    assert later.counts == {(windows, "k"): Window(160.0, 1)}, "a new window once it ran out"
    # what begin counted is a window as count keeps it: first changed, listed as changed
    assert [key for key, _ in await backend.changed(ns, "s", windows)] == ["k", "j"]


async def test_begin_says_a_session_was_found_idle_beyond_the_ttl(
    make_backend: BackendFactory, ns: str
) -> None:
    backend = make_backend(Limits(session_ttl=10))
    await backend.open()
    await backend.begin(ns, "s", 100.0)
    assert not (await backend.begin(ns, "s", 105.0)).expired
    later = await backend.begin(ns, "s", 120.0)
    assert (later.created, later.expired) == (True, True)


async def test_a_transition_on_a_stale_read_acts_on_the_record_as_it_is_now(
    make_backend: BackendFactory, ns: str
) -> None:
    first, second = await opened(make_backend, 2)
    begun = await first.begin(ns, "s", 1.0, reads=[(TABLE, "a")])
    stale = begun.reads.get((TABLE, "a"))
    assert (stale is not None) == reads_ahead(first)
    assert await second.transition(ns, "s", TABLE, "a", SENT, cancel) == "200"
    outcome = await first.transition(ns, "s", TABLE, "a", SENT, cancel, read=stale)
    assert outcome == "409", "decided on the read from before the other client's cancel"
    assert await first.get(ns, "s", TABLE, "a") == {"id": "a", "status": "cancelled"}
