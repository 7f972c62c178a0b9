"""What only the SQLite store does: its URL forms, the files it refuses, its lock timeout.

Everything it shares with the other stores is in ``test_backends.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server.state import Decision, Limits, Record, StoreUnavailable, StoreUrlError
from mock_server.state import open_backend as open_store
from mock_server.state.sqlite import SCHEMA_VERSION, SqliteBackend

pytestmark = pytest.mark.anyio

TABLE = "craftkit.signature_requests"
SENT: Record = {"id": "a", "status": "sent"}


def cancel(record: Record | None) -> Decision[str]:
    assert record is not None
    if record["status"] != "sent":
        return Decision("409")
    return Decision("200", {**record, "status": "cancelled"})


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"  # path is absolute: four slashes


# --- URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://db-host/mock.db",
        "sqlite://localhost/tmp/mock.db",
        "sqlite:///mock.db?mode=ro",
        "sqlite:///mock.db#x",
        "sqlite://",
        "sqlite:///",
        "sqlite:////",
        "sqlite:///state/",
        "sqlite:mock.db",
        "sqlite:/mock.db",
        "sqlite:///:memory:",
    ],
)
def test_a_url_not_in_the_documented_forms_is_refused_with_the_forms(url: str) -> None:
    with pytest.raises(StoreUrlError) as refused:
        open_store(url)
    message = str(refused.value)
    assert repr(url) in message
    assert "sqlite:///relative/path/mock.db" in message
    assert "sqlite:////absolute/path/mock.db" in message


def test_three_slashes_name_a_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = open_store("sqlite:///state/mock.db")
    assert isinstance(backend, SqliteBackend)
    assert backend.path == tmp_path / "state" / "mock.db"
    assert backend.url == "sqlite:///state/mock.db"


def test_four_slashes_name_an_absolute_path(tmp_path: Path) -> None:
    backend = open_store(f"sqlite:///{tmp_path}/mock.db")
    assert isinstance(backend, SqliteBackend)
    assert backend.path == tmp_path / "mock.db"


# --- files -----------------------------------------------------------------------------


async def opened(path: Path, *, busy_timeout: float = 5.0) -> SqliteBackend:
    backend = SqliteBackend.from_url(url_of(path), limits=Limits(), busy_timeout=busy_timeout)
    try:
        await backend.open()
    except BaseException:
        await backend.close()
        raise
    return backend


async def test_a_new_file_is_created_in_wal_mode_with_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    backend = await opened(path)
    await backend.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


async def test_what_changed_survives_a_restart_in_the_same_namespace(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    first = await opened(path)
    namespace = await first.world("fingerprint")
    await first.touch(namespace, "suite", 1.0)
    assert await first.transition(namespace, "suite", TABLE, "a", SENT, cancel) == "200"
    await first.close()
    again = await opened(path)
    try:
        assert await again.world("fingerprint") == namespace
        assert await again.sessions(namespace) == ["suite"]
        assert await again.transition(namespace, "suite", TABLE, "a", SENT, cancel) == "409"
    finally:
        await again.close()


async def test_a_file_that_is_not_sqlite_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreUrlError, match="is not a SQLite database") as refused:
        await opened(path)
    assert str(path) in str(refused.value) and "give the path of a new file" in str(refused.value)
    assert path.read_text().startswith("these are my notes"), "the file must stay untouched"


def files_of(path: Path) -> dict[str, str]:
    """Each file of the database (``-wal``, ``-journal``... too) by name, with its bytes' hash."""
    return {
        other.name: hashlib.sha256(other.read_bytes()).hexdigest()
        for other in sorted(path.parent.glob(path.name + "*"))
    }


def journal_mode(path: Path) -> str:
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(raw.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        raw.close()


async def test_another_program_s_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
    raw.close()
    before = files_of(path)
    with pytest.raises(StoreUrlError, match="another program") as refused:
        await opened(path)
    assert str(path) in str(refused.value) and "users" in str(refused.value)
    assert files_of(path) == before, "refused before anything is written (WAL mode: its header)"
    assert journal_mode(path) == "delete"


async def test_a_file_of_another_schema_version_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "mock.db"
    await (await opened(path)).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.close()
    before = files_of(path)
    with pytest.raises(StoreUrlError) as refused:
        await opened(path)
    message = str(refused.value)
    assert str(path) in message and f"schema version {SCHEMA_VERSION + 1}" in message
    assert "another version of mock-server" in message and "new file" in message
    assert files_of(path) == before, "refused untouched"


async def test_a_file_of_another_schema_version_in_rollback_mode_is_refused_untouched(
    tmp_path: Path,
) -> None:
    """As another version may have left it: not in WAL mode. It stays as it was."""
    path = tmp_path / "mock.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    raw.close()
    before = files_of(path)
    with pytest.raises(StoreUrlError, match="another version of mock-server"):
        await opened(path)
    assert files_of(path) == before
    assert journal_mode(path) == "delete"


@pytest.mark.parametrize(
    ("where", "says"),
    [("missing/mock.db", "does not exist"), ("", "is a directory")],
    ids=["missing-directory", "a-directory"],
)
async def test_a_path_that_cannot_hold_the_file_is_unavailable_naming_it(
    tmp_path: Path, where: str, says: str
) -> None:
    path = tmp_path / where if where else tmp_path
    with pytest.raises(StoreUnavailable, match=says) as unavailable:
        await opened(path)
    assert str(path) in str(unavailable.value)


# --- locks -----------------------------------------------------------------------------


@pytest.fixture
def locker(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file, to hold its write lock."""
    raw = sqlite3.connect(tmp_path / "mock.db", isolation_level=None)
    yield raw
    raw.close()


async def test_a_lock_held_beyond_the_timeout_is_unavailable_then_service_resumes(
    tmp_path: Path, locker: sqlite3.Connection
) -> None:
    backend = await opened(tmp_path / "mock.db", busy_timeout=0.3)
    try:
        await backend.touch("ns", "s", 1.0)
        locker.execute("BEGIN IMMEDIATE")
        for write in (
            backend.transition("ns", "s", TABLE, "a", SENT, cancel),
            backend.touch("ns", "s", 2.0),
            backend.take_fault("ns", "s", "craftkit", "cancelSignature"),
        ):
            with pytest.raises(StoreUnavailable, match="locked by another process"):
                await asyncio.wait_for(write, 10)  # a bound, not a measure: never a hang
        assert await backend.get("ns", "s", TABLE, "a") is None, "reads go on (WAL)"
        locker.execute("ROLLBACK")
        assert await backend.transition("ns", "s", TABLE, "a", SENT, cancel) == "200"
    finally:
        await backend.close()


async def test_a_lock_another_process_holds_is_tried_again_and_again_not_slept_on(
    tmp_path: Path, locker: sqlite3.Connection
) -> None:
    """SQLite's busy handler tries once and then sleeps ever longer in C (one BEGIN traced);
    the store tries again every half millisecond, so it takes the lock soon after the
    other process lets it go, not a sleep of up to 100 ms later."""
    backend = await opened(tmp_path / "mock.db")
    statements: list[str] = []
    try:
        await backend._call(lambda c: c.set_trace_callback(statements.append), write=False)
        locker.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, locker.execute, "ROLLBACK")
        outcome = await asyncio.wait_for(
            backend.transition("ns", "s", TABLE, "a", SENT, cancel), 10
        )
        assert outcome == "200"
        tries = statements.count("BEGIN IMMEDIATE")
        assert tries >= 10, f"{tries} tries at the lock in 0.3 s"
        assert "PRAGMA busy_timeout = 0" in statements
    finally:
        await backend.close()


async def test_a_decide_that_raises_rolls_back_and_releases_the_lock(tmp_path: Path) -> None:
    first = await opened(tmp_path / "mock.db", busy_timeout=1.0)
    second = await opened(tmp_path / "mock.db", busy_timeout=1.0)

    def broken(record: Record | None) -> Decision[str]:
        raise RuntimeError("a bug in a domain rule")

    try:
        with pytest.raises(RuntimeError, match="a bug"):
            await first.transition("ns", "s", TABLE, "a", SENT, broken)
        assert await second.transition("ns", "s", TABLE, "a", SENT, cancel) == "200"
        assert await first.transition("ns", "s", TABLE, "a", SENT, cancel) == "409"
    finally:
        await first.close()
        await second.close()


# --- group commit ----------------------------------------------------------------------


class Held:
    """The back-end's thread kept busy (a read that waits), so that calls queue behind it;
    what SQLite is asked meanwhile, recorded."""

    def __init__(self, backend: SqliteBackend) -> None:
        self.backend = backend
        self.statements: list[str] = []
        self._release = threading.Event()
        self._holding: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Held:
        await self.backend._call(
            lambda c: c.set_trace_callback(self.statements.append), write=False
        )
        self.statements.clear()
        self._holding = asyncio.ensure_future(
            self.backend._call(lambda c: self._release.wait(10), write=False)
        )
        await asyncio.sleep(0.05)  # the thread took it, and waits
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()
        assert self._holding is not None
        await self._holding

    def release(self) -> None:
        self._release.set()

    def said(self, statement: str) -> int:
        return sum(1 for said in self.statements if said == statement)


async def queued(*calls: Awaitable[Any]) -> list[asyncio.Task[Any]]:
    """The calls started, each queued for the thread, in this order."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0)
    return tasks


async def test_writes_queued_while_the_thread_is_busy_commit_in_one_durable_transaction(
    tmp_path: Path,
) -> None:
    backend = await opened(tmp_path / "mock.db")
    keys = [f"k{n}" for n in range(20)]
    try:
        await backend.transition("ns", "s", TABLE, "k0", SENT, cancel)  # k0: cancelled already
        async with Held(backend) as held:
            tasks = await queued(
                *(backend.transition("ns", "s", TABLE, key, SENT, cancel) for key in keys),
                backend.touch("ns", "s", 2.0),
            )
            assert not any(task.done() for task in tasks)
            held.release()
            outcomes = await asyncio.gather(*tasks)
        assert outcomes[:20] == ["409"] + ["200"] * 19
        assert held.said("BEGIN IMMEDIATE") == 1
        assert held.said("COMMIT") == 1
        assert held.said("PRAGMA synchronous = FULL") == 1, "a transition's commit is synced"
        assert held.statements[-1] == "PRAGMA synchronous = NORMAL"
    finally:
        await backend.close()
    with sqlite3.connect(tmp_path / "mock.db") as raw:  # committed, for another process
        (count,) = raw.execute("SELECT count(*) FROM records").fetchone()
    raw.close()
    assert count == 20


async def test_a_write_that_raises_in_a_batch_is_undone_alone(tmp_path: Path) -> None:
    backend = await opened(tmp_path / "mock.db")

    def half_done(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO meta (key, value) VALUES ('half', 'done')")
        raise RuntimeError("a bug in a domain rule")

    try:
        async with Held(backend) as held:
            before, broken, after = await queued(
                backend.transition("ns", "s", TABLE, "a", SENT, cancel),
                backend._call(half_done),
                backend.transition("ns", "s", TABLE, "b", SENT, cancel),
            )
            held.release()
            assert await before == "200"
            with pytest.raises(RuntimeError, match="a bug"):
                await broken
            assert await after == "200"
        assert held.said("BEGIN IMMEDIATE") == 1
        assert held.said("ROLLBACK TO job") == 1
        meta = await backend._call(lambda c: c.execute("SELECT key FROM meta").fetchall())
        assert ("half",) not in meta
        assert await backend.get("ns", "s", TABLE, "b") == {**SENT, "status": "cancelled"}
    finally:
        await backend.close()


async def test_a_write_that_fails_in_sqlite_is_refused_and_the_others_run_again(
    tmp_path: Path,
) -> None:
    backend = await opened(tmp_path / "mock.db")

    def not_null(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO meta (key, value) VALUES ('k', NULL)")

    try:
        async with Held(backend) as held:
            before, broken, after = await queued(
                backend.transition("ns", "s", TABLE, "a", SENT, cancel),
                backend._call(not_null),
                backend.transition("ns", "s", TABLE, "b", SENT, cancel),
            )
            held.release()
            with pytest.raises(sqlite3.IntegrityError):  # a bug: as it is, not "unavailable"
                await broken
            assert [await before, await after] == ["200", "200"]  # once each: not "409"
        assert held.said("BEGIN IMMEDIATE") == 2
        assert held.said("COMMIT") == 1
    finally:
        await backend.close()


async def test_a_write_that_breaks_the_connection_is_unavailable_and_the_others_commit(
    tmp_path: Path,
) -> None:
    """An error of SQLite itself (here a table that is not there; a full disk, an I/O
    error) closes the connection as it is told; the batch's others then run again on a
    new one (their transition had the commit synced: the connection was reset first)."""
    backend = await opened(tmp_path / "mock.db")

    def no_table(connection: sqlite3.Connection) -> None:
        connection.execute("SELECT * FROM no_such_table")

    try:
        async with Held(backend) as held:
            before, broken, after = await queued(
                backend.transition("ns", "s", TABLE, "a", SENT, cancel),
                backend._call(no_table),
                backend.transition("ns", "s", TABLE, "b", SENT, cancel),
            )
            held.release()
            with pytest.raises(StoreUnavailable, match="no such table"):
                await broken
            assert [await before, await after] == ["200", "200"]
    finally:
        await backend.close()


async def test_a_batch_waits_for_the_lock_as_long_as_its_latest_caller_may(
    tmp_path: Path, locker: sqlite3.Connection
) -> None:
    """A call queued late is not failed with an early one: each waits up to its own
    deadline (the batch's lock wait is the latest's; the early one hears later)."""
    backend = await opened(tmp_path / "mock.db", busy_timeout=2.0)
    try:
        await backend.touch("ns", "s", 1.0)
        locker.execute("BEGIN IMMEDIATE")  # another process's write, ending at 2.3 s
        asyncio.get_running_loop().call_later(2.3, locker.execute, "ROLLBACK")
        async with Held(backend) as held:
            (early,) = await queued(backend.transition("ns", "s", TABLE, "a", SENT, cancel))
            await asyncio.sleep(1.2)
            (late,) = await queued(backend.transition("ns", "s", TABLE, "b", SENT, cancel))
            await asyncio.sleep(0.1)
            held.release()  # one batch: the early call has ~0.7 s left, the late one ~1.9
            assert await asyncio.wait_for(late, 10) == "200"
            assert await early == "200"
    finally:
        await backend.close()


async def test_a_call_queued_past_its_deadline_is_unavailable_not_run(tmp_path: Path) -> None:
    backend = await opened(tmp_path / "mock.db", busy_timeout=0.2)
    try:
        async with Held(backend) as held:
            (late,) = await queued(backend.transition("ns", "s", TABLE, "a", SENT, cancel))
            await asyncio.sleep(0.3)
            held.release()
            with pytest.raises(StoreUnavailable, match="busy beyond 0.2 s"):
                await late
        assert held.said("BEGIN IMMEDIATE") == 0
        assert await backend.get("ns", "s", TABLE, "a") is None
    finally:
        await backend.close()


# --- worlds ----------------------------------------------------------------------------


async def test_a_second_worker_adopting_an_edited_world_keeps_what_changed_since(
    tmp_path: Path,
) -> None:
    first = await opened(tmp_path / "mock.db")
    second = await opened(tmp_path / "mock.db")
    try:
        old = await first.world("fixtures-1")
        assert await second.world("fixtures-1") == old
        new = await first.world("fixtures-2")  # the first worker sees the edit
        await first.forget(old)
        assert await first.transition(new, "s", TABLE, "a", SENT, cancel) == "200"
        assert await second.world("fixtures-2") == new  # then the second one
        await second.forget(old)
        assert await second.transition(new, "s", TABLE, "a", SENT, cancel) == "409"
    finally:
        await first.close()
        await second.close()


async def test_workers_that_saw_different_edits_on_the_way_end_in_one_namespace(
    tmp_path: Path,
) -> None:
    """One worker read the file half-written (a world of its own), then whole."""
    first = await opened(tmp_path / "mock.db")
    second = await opened(tmp_path / "mock.db")
    try:
        await first.world("fixtures-1")
        settled = await first.world("fixtures-2")
        assert await second.world("fixtures-half-written") != settled
        assert await second.world("fixtures-2") == settled
        assert await first.world("fixtures-2") == settled
    finally:
        await first.close()
        await second.close()


async def test_a_world_served_again_later_starts_afresh(tmp_path: Path) -> None:
    backend = await opened(tmp_path / "mock.db")
    try:
        namespace = await backend.world("fixtures-1")
        await backend.touch(namespace, "s", 1.0)
        await backend.transition(namespace, "s", TABLE, "a", SENT, cancel)
        await backend.world("fixtures-2")  # a restart with other fixtures (no forget)
        again = await backend.world("fixtures-1")  # and back
        assert await backend.get(again, "s", TABLE, "a") is None
        assert await backend.sessions(again) == []
    finally:
        await backend.close()


# --- closing ---------------------------------------------------------------------------


def store_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sqlite-store")}


async def test_a_call_after_close_is_refused_and_starts_no_thread(tmp_path: Path) -> None:
    """close() is the end: a call after it (a request still running as the worker stops)
    is unavailable, saying so, as with Redis. It started a thread and opened the file
    again, a connection nobody would close."""
    before = store_threads()
    backend = await opened(tmp_path / "mock.db")
    await backend.touch("ns", "s", 1.0)
    await backend.close()
    assert store_threads() == before, "close() ended its thread"
    for call in (backend.touch("ns", "s", 2.0), backend.get("ns", "s", TABLE, "a"), backend.open()):
        with pytest.raises(StoreUnavailable, match="the mock closed its connection to .*mock.db"):
            await asyncio.wait_for(call, 10)
    assert store_threads() == before, "no thread started for them"


async def test_a_call_while_close_runs_is_refused_and_starts_no_second_thread(
    tmp_path: Path,
) -> None:
    """A call arriving while close() waits for the thread (a request in flight as the
    worker stops): it started a second thread on the connection (SQLite refused the
    first thread's connection there), while the first still ran. Now it is refused at
    once, and what was in flight before close() ends as it should."""
    before = store_threads()
    backend = await opened(tmp_path / "mock.db")
    started, release = threading.Event(), threading.Event()

    def slow(record: Record | None) -> Decision[str]:  # runs in the store's thread
        started.set()
        release.wait(10)
        return cancel(record)

    in_flight = asyncio.ensure_future(backend.transition("ns", "s", TABLE, "a", SENT, slow))
    try:
        assert await asyncio.to_thread(started.wait, 10), "the thread is busy with it"
        closing = asyncio.ensure_future(backend.close())
        await asyncio.sleep(0)  # close() runs until it waits for the busy thread
        assert not closing.done()
        with pytest.raises(StoreUnavailable, match="the mock closed its connection to"):
            await asyncio.wait_for(backend.touch("ns", "s", 2.0), 10)
        assert len(store_threads() - before) == 1, "one thread, the busy one"
    finally:
        release.set()
    assert await asyncio.wait_for(in_flight, 10) == "200", "what came before close() ran"
    await asyncio.wait_for(closing, 10)
    assert store_threads() == before
