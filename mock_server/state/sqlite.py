"""The SQLite back-end, ``--store sqlite:///path``: one file, durable, shared by the
worker processes of one host.

URLs follow SQLAlchemy's convention (three slashes, then the path)::

    sqlite:///mock.db               mock.db in the working directory
    sqlite:///state/mock.db         relative to the working directory at start-up
    sqlite:////var/lib/mock/mock.db absolute (four slashes)

Anything else is refused at start-up (a host, a query string, an empty path,
``:memory:``). The file is created if absent (its directory must exist), beside
its ``-wal`` and ``-shm`` companions. A file that is not SQLite, a SQLite
database of another program, or one written by an unknown version of this
schema is refused at :meth:`SqliteBackend.open` rather than touched.

Concurrency: each back-end (one per worker process) holds one connection, used
only by its own worker thread, so the event loop never waits on SQLite. The
database is in WAL mode: readers never wait for the writer. Every
read-modify-write (a transition, a touch, a fault counted down, a journal
append) runs in a ``BEGIN IMMEDIATE`` transaction, which takes the file's write
lock before reading, so two workers never decide on the same record at once.
The write lock is tried again every half millisecond while another process holds it (not
SQLite's busy handler, whose growing sleeps let one busy worker starve another).
Group commit: the writes that queued for the thread while it was busy run in one
such transaction, each in a savepoint of its own (one that raises is undone alone),
so under load the lock is taken, and a commit synced, once per batch rather than
once per call: measured under load, 2.5–3× the requests a second of a transaction
per call, at 0.3–0.4× the CPU per request (docs/performance.md).
A lock held by another process longer than ``busy_timeout`` (5 s by default,
counted from the call, time queued in the worker thread included) raises
:class:`~mock_server.state.base.StoreUnavailable`, never a hang. The file must
be on a local disk (WAL needs shared memory between the processes): workers on
one host share it, hosts do not (use Redis).

Durability. ``synchronous=NORMAL``, except that a transition's commit runs with
``synchronous=FULL``:

* a transition (a record, a rate window) is in the WAL file and fsynced
  before :meth:`SqliteBackend.transition` returns, so an answer sent after it
  (a cancel's ``200``) survives ``kill -9`` of the process, and also an OS
  crash or power loss;
* sessions, the journal and faults are in the WAL file (the OS's page cache)
  when their call returns: they survive ``kill -9`` of the process, but an OS
  crash or power loss may lose the last few of them (never a record).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from mock_server.state.base import (
    Decide,
    Fault,
    InSteps,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    StoreUnavailable,
    Touched,
)
from mock_server.state.limits import DEFAULT_SESSION, Limits
from mock_server.state.urls import StoreUrlError

__all__ = ["BUSY_TIMEOUT", "SCHEMA_VERSION", "SqliteBackend", "path_of"]

SCHEMA_VERSION = 1
"""The layout this module writes; a file of any other version is refused at open."""

BUSY_TIMEOUT = 5.0
"""Seconds a call may wait for another process's write lock before ``StoreUnavailable``."""

_PREFIX = "sqlite:///"
_FORMS = (
    "write sqlite:///relative/path/mock.db (from the working directory) "
    "or sqlite:////absolute/path/mock.db"
)
_SQLITE_NEEDED = (3, 24, 0)
"""UPSERT (``INSERT ... ON CONFLICT DO UPDATE``) came in SQLite 3.24."""
_EXPIRY_SWEEP = 8
"""Least recently used sessions checked for expiry per touch (bounded work per call)."""
_LOCK_RETRY = 0.0005
"""Seconds between two tries at the write lock another process holds (:meth:`_begin`)."""
_KEYS_PER_QUERY = 500
"""Keys looked up per ``IN (...)`` (SQLite before 3.32 allows 999 parameters a query)."""

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # seq orders sessions by last use (the memory store's OrderedDict)
    """CREATE TABLE sessions (
        ns TEXT NOT NULL, name TEXT NOT NULL, last_used REAL NOT NULL,
        seq INTEGER NOT NULL, journal_bytes INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (ns, name))""",
    "CREATE INDEX sessions_by_use ON sessions (ns, seq)",
    # rowid orders records by their first change (an upsert keeps it)
    """CREATE TABLE records (
        ns TEXT NOT NULL, session TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (ns, session, tbl, key))""",
    # AUTOINCREMENT: ids never reused, so they increase across clears and processes
    """CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, session TEXT NOT NULL,
        at REAL NOT NULL, api TEXT, operation TEXT, status INTEGER,
        size INTEGER NOT NULL, body TEXT NOT NULL)""",
    "CREATE INDEX journal_by_session ON journal (ns, session, id)",
    """CREATE TABLE faults (
        id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, session TEXT NOT NULL,
        api TEXT NOT NULL, operation TEXT NOT NULL, status INTEGER,
        delay_ms INTEGER NOT NULL, dropped INTEGER NOT NULL, remaining INTEGER)""",
    "CREATE INDEX faults_by_session ON faults (ns, session, id)",
)
_SESSION_TABLES = ("records", "journal", "faults")

T = TypeVar("T")


def path_of(url: str) -> Path:
    """The file a ``sqlite:`` URL names, absolute; raises :class:`StoreUrlError` with the fix.

    >>> path_of("sqlite:////var/lib/mock.db")
    PosixPath('/var/lib/mock.db')
    >>> path_of("sqlite:///mock.db") == Path.cwd() / "mock.db"
    True
    >>> path_of("sqlite://db-host/mock.db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mock_server.state.urls.StoreUrlError: --store 'sqlite://db-host/mock.db': a SQLite file ...
    """

    def refuse(reason: str) -> StoreUrlError:
        return StoreUrlError.of(url, f"{reason}; {_FORMS}")

    try:
        host = urlsplit(url).netloc
    except ValueError:
        host = "?"
    if host:
        raise refuse(f"a SQLite file has no host ({host!r})")
    if url[: len(_PREFIX)].lower() != _PREFIX:
        raise refuse("no file named (three slashes, then the path)")
    raw = url[len(_PREFIX) :]
    if "?" in raw or "#" in raw:
        raise refuse("query strings and fragments are not read (options are fixed)")
    if not raw or raw.endswith("/"):
        raise refuse("no file named (the path is empty or ends with '/')")
    if raw.strip() == ":memory:":
        raise refuse("an in-memory database is neither durable nor shared (--store memory is)")
    return Path(raw).absolute()


class _Job:
    """A call waiting for the back-end's thread, and then what came of it."""

    __slots__ = ("deadline", "durable", "failure", "future", "outcome", "run", "settled", "write")

    def __init__(
        self,
        run: Callable[[sqlite3.Connection], Any],
        deadline: float,
        durable: bool,
        write: bool,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.run = run
        self.deadline = deadline
        self.durable = durable
        self.write = write
        self.future: asyncio.Future[Any] = loop.create_future()
        self.settled = False
        self.outcome: Any = None
        self.failure: BaseException | None = None

    def succeed(self, outcome: Any) -> None:
        self.settled, self.outcome = True, outcome

    def fail(self, failure: BaseException) -> None:
        self.settled, self.failure = True, failure


def _roll_back(connection: sqlite3.Connection) -> None:
    """The transaction rolled back, if there still is one (SQLite rolls some back itself,
    on a full disk or an I/O error), without hiding what made it fail."""
    if connection.in_transaction:
        with suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


def _settle(batch: Sequence[_Job]) -> None:
    """In the thread: hand each job's outcome to its caller's loop, one wake-up per loop."""
    loops: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
    for job in batch:
        loops.setdefault(job.future.get_loop(), []).append(job)
    for loop, jobs in loops.items():
        with suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(_settled, jobs)


def _settled(jobs: Sequence[_Job]) -> None:
    """In the caller's loop: each future given its job's outcome (unless it gave up)."""
    for job in jobs:
        if job.future.done():
            continue
        if job.failure is not None:
            job.future.set_exception(job.failure)
        else:
            job.future.set_result(job.outcome)


class _Refused(Exception):
    """The file is not one this back-end may use (not SQLite, another schema)."""


class SqliteBackend(InSteps):
    """Sessions, records, journal and faults in one SQLite file.

    >>> import asyncio, tempfile
    >>> from mock_server.state.base import Decision
    >>> folder = tempfile.TemporaryDirectory()
    >>> backend = SqliteBackend.from_url(f"sqlite:///{folder.name}/mock.db", limits=Limits())
    >>> async def demo():
    ...     await backend.open()
    ...     flip = lambda r: Decision("ok", {**(r or {}), "revoked": True})
    ...     await backend.transition("ns", "s", "firma.jwts", "a", {"revoked": False}, flip)
    ...     try:
    ...         return await backend.get("ns", "s", "firma.jwts", "a")
    ...     finally:
    ...         await backend.close()
    >>> asyncio.run(demo())
    {'revoked': True}
    >>> folder.cleanup()
    """

    def __init__(
        self, path: Path, *, url: str, limits: Limits, busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        self.path = path
        self.url = url
        self.limits = limits
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._connection: sqlite3.Connection | None = None  # only ever used in _executor
        self._busy_ms = -1
        self._inherited: list[object] = []
        self._queued = threading.Lock()
        self._queue: list[_Job] = []  # calls waiting for the thread, under _queued
        self._draining = False  # the thread has a _drain to come that will see the queue
        self._closed = False  # by close(): for good

    @classmethod
    def from_url(
        cls, url: str, *, limits: Limits, busy_timeout: float = BUSY_TIMEOUT
    ) -> SqliteBackend:
        """The back-end of a ``sqlite:///`` URL (not yet opened); see :func:`path_of`."""
        return cls(path_of(url), url=url, limits=limits, busy_timeout=busy_timeout)

    # --- the worker thread ---------------------------------------------------------------

    async def _call(
        self, job: Callable[[sqlite3.Connection], T], *, durable: bool = False, write: bool = True
    ) -> T:
        """Run ``job`` in this back-end's thread: in a ``BEGIN IMMEDIATE`` transaction if it
        writes, else as it is (one ``SELECT`` reads a consistent snapshot, never waiting).

        Group commit: the writes queued while the thread was busy run in one transaction
        (each in its own savepoint), so the file's write lock is taken, and a durable commit
        synced, once for all of them rather than once each; each call still returns only
        after its transaction committed."""
        if self._closed:
            raise self._closed_error()
        if self._executor is None or self._pid != os.getpid():
            self._start_thread()
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        waiting = _Job(job, time.monotonic() + self.busy_timeout, durable, write, loop)
        with self._queued:
            self._queue.append(waiting)
            idle, self._draining = not self._draining, True
        if idle:
            self._executor.submit(self._drain)
        try:
            # A job does not outlive its deadline (busy_timeout), unless I/O hangs:
            # this bound is for that, so the request is answered (503) whatever happens.
            return await asyncio.wait_for(waiting.future, self.busy_timeout + 10)
        except TimeoutError:
            raise StoreUnavailable(f"{self.path} did not answer (a disk hung?)") from None

    def _start_thread(self) -> None:
        if self._pid != os.getpid() and (self._executor or self._connection):
            # Forked with a live connection (never by the CLI, which opens in each worker):
            # closing the parent's connection here would drop the parent's file locks, so
            # it is kept, unused, for the life of this process.
            self._inherited.append((self._executor, self._connection))
            self._connection = None
        self._queued = threading.Lock()  # a fork's copy of the parent's may be held
        self._queue = []
        self._draining = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._pid = os.getpid()

    def _drain(self) -> None:
        """In the thread: run what is queued, a batch at a time, until nothing is."""
        while True:
            with self._queued:
                batch, self._queue = self._queue, []
                if not batch:
                    self._draining = False
                    return
            try:
                self._run(batch)
            except BaseException as exc:  # a bug of this module: each caller hears of it
                for job in batch:
                    if not job.settled:
                        job.fail(exc)
            _settle(batch)

    def _run(self, batch: list[_Job]) -> None:
        """Each read alone, each run of writes between them in one transaction."""
        start = 0
        while start < len(batch):
            if not batch[start].write:
                self._read(batch[start])
                start += 1
                continue
            end = start + 1
            while end < len(batch) and batch[end].write:
                end += 1
            self._write(batch[start:end])
            start = end

    def _in_time(self, job: _Job) -> bool:
        if job.deadline > time.monotonic():
            return True
        # queued behind others' lock waits, or behind too many requests
        job.fail(StoreUnavailable(f"{self.path} busy beyond {self.busy_timeout:g} s"))
        return False

    def _ready(self, deadline: float) -> sqlite3.Connection:
        """The connection, its lock wait ending by ``deadline``."""
        connection = self._connect()
        busy_ms = max(int((deadline - time.monotonic()) * 1000), 1)
        if abs(busy_ms - self._busy_ms) > 50:
            connection.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._busy_ms = busy_ms
        return connection

    def _begin(self, connection: sqlite3.Connection, deadline: float) -> None:
        """``BEGIN IMMEDIATE``, tried again every :data:`_LOCK_RETRY` seconds while another
        process holds the write lock, until ``deadline``.

        Not SQLite's busy handler: it sleeps longer and longer between its tries (up to
        100 ms each), so under load a worker that had waited a few times slept through
        the other worker's releases while that one took the lock again at once: two
        busy workers answered with a p99 of 0.3-1.5 s. Trying again every half
        millisecond, a waiter finds the lock between the other's batches (p99 ~15-130 ms,
        docs/performance.md). Reads keep the busy handler (in WAL mode they seldom wait).
        """
        if self._busy_ms != 0:  # _ready sets it again for a read
            connection.execute("PRAGMA busy_timeout = 0")
            self._busy_ms = 0
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                name = getattr(exc, "sqlite_errorname", "")
                if not name.startswith("SQLITE_BUSY") or time.monotonic() >= deadline:
                    raise
            time.sleep(_LOCK_RETRY)

    def _read(self, job: _Job) -> None:
        if not self._in_time(job):
            return
        try:
            job.succeed(job.run(self._ready(job.deadline)))
        except Exception as exc:
            job.fail(self._unavailable(exc))

    def _write(self, jobs: list[_Job]) -> None:
        """``jobs`` in one transaction, each in a savepoint: a job that raises has its own
        writes undone and hears of it, the others commit. A job that fails in SQLite itself
        aborts the transaction: it hears why, and the others run again without it."""
        jobs = [job for job in jobs if self._in_time(job)]
        while jobs:
            try:
                aborted = self._transaction(self._connect(), jobs)
            except Exception as exc:
                failure = self._unavailable(exc)
                for job in jobs:
                    if not job.settled:
                        job.fail(failure)
                return
            if aborted is None:
                return
            job, error = aborted  # told only now: telling it may close the connection
            job.fail(self._unavailable(error))
            jobs = [job for job in jobs if not job.settled]  # aborted, or failed on its own

    def _transaction(
        self, connection: sqlite3.Connection, jobs: list[_Job]
    ) -> tuple[_Job, sqlite3.Error] | None:
        """Run ``jobs`` and commit; the job whose SQLite error rolled it all back, and the
        error, if one did."""
        durable = any(job.durable for job in jobs)
        several = len(jobs) > 1
        done: list[tuple[_Job, Any]] = []
        if durable:
            connection.execute("PRAGMA synchronous = FULL")
        try:
            # The lock tried for as long as the latest caller may wait: each call still
            # waits up to its own deadline (an earlier one only hears later).
            self._begin(connection, max(job.deadline for job in jobs))
            for job in jobs:
                if several:
                    connection.execute("SAVEPOINT job")
                try:
                    outcome = job.run(connection)
                except sqlite3.Error as exc:
                    _roll_back(connection)
                    return job, exc
                except Exception as exc:  # the job's own (a bug): its writes undone
                    connection.execute("ROLLBACK TO job" if several else "ROLLBACK")
                    job.fail(exc)
                    if not several:
                        return None
                else:
                    done.append((job, outcome))
                if several:
                    connection.execute("RELEASE job")
            connection.execute("COMMIT")
        except BaseException:
            _roll_back(connection)
            raise
        finally:
            if durable:
                with suppress(sqlite3.Error):  # not to hide what failed (left FULL: slower)
                    connection.execute("PRAGMA synchronous = NORMAL")
        for job, outcome in done:
            job.succeed(outcome)
        return None

    def _unavailable(self, exc: Exception) -> Exception:
        """What a caller hears of ``exc``: the store unavailable, and why, for what SQLite
        or the file caused (connecting afresh next time where that may mend it); anything
        else (a bug) as it is."""
        if isinstance(exc, StoreUnavailable):
            return exc
        if isinstance(exc, _Refused):
            self._disconnect()
            return StoreUnavailable(str(exc))
        if isinstance(exc, sqlite3.OperationalError):
            name = getattr(exc, "sqlite_errorname", "")
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                return StoreUnavailable(
                    f"{self.path} is locked by another process beyond {self.busy_timeout:g} s"
                )
            self._disconnect()  # an I/O error, a file gone: connect afresh next time
            return StoreUnavailable(f"{self.path}: {exc}")
        if type(exc) is sqlite3.DatabaseError:  # not integrity and the like: those are bugs
            self._disconnect()  # corrupt, or replaced by another file
            return StoreUnavailable(f"{self.path}: {exc}")
        return exc

    @staticmethod
    def _schema_transaction(
        connection: sqlite3.Connection, job: Callable[[sqlite3.Connection], T]
    ) -> T:
        """``job`` in one durable transaction, as the file is prepared (no queue yet)."""
        connection.execute("PRAGMA synchronous = FULL")
        try:
            connection.execute("BEGIN IMMEDIATE")
            result = job(connection)
            connection.execute("COMMIT")
            return result
        except BaseException:
            _roll_back(connection)
            raise
        finally:
            connection.execute("PRAGMA synchronous = NORMAL")

    def _connect(self) -> sqlite3.Connection:
        """The connection, opened (and the file checked) if there is none yet."""
        if self._connection is not None:
            return self._connection
        if not self.path.parent.is_dir():
            raise StoreUnavailable(
                f"cannot open {self.path}: the directory {self.path.parent} does not exist "
                "(create it, or give another path)"
            )
        if sqlite3.sqlite_version_info < _SQLITE_NEEDED:
            raise _Refused(
                f"SQLite {sqlite3.sqlite_version} is too old for {self.path} (3.24 or later "
                "is needed); run mock-server on a Python linked with a newer SQLite"
            )
        if self.path.is_dir():
            raise StoreUnavailable(f"cannot open {self.path}: it is a directory (name a file)")
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from None
        try:
            self._prepare(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._busy_ms = int(self.busy_timeout * 1000)
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        """The file checked, reading only (a file not this mock's is refused untouched),
        then WAL mode, and the schema: created in an empty file, else checked again."""
        try:
            self._check(connection, self._tables(connection))
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise _Refused(
                f"{self.path} is not a SQLite database ({exc}); give the path of a new "
                "file, or of one this mock made"
            ) from None
        if mode != "wal":
            raise StoreUnavailable(
                f"cannot put {self.path} in WAL mode (journal mode {mode!r}); put it on a "
                "local disk"
            )
        connection.execute("PRAGMA synchronous = NORMAL")
        try:
            self._schema_transaction(connection, self._schema)
        except sqlite3.OperationalError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            reason = "locked by another process" if name.startswith("SQLITE_BUSY") else exc
            raise StoreUnavailable(f"cannot use {self.path}: {reason}") from None

    @staticmethod
    def _tables(connection: sqlite3.Connection) -> set[str]:
        return {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }

    def _schema(self, connection: sqlite3.Connection) -> None:
        tables = self._tables(connection)
        if not tables:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            return
        self._check(connection, tables)

    def _check(self, connection: sqlite3.Connection, tables: set[str]) -> None:
        """Refuse a file with ``tables`` that this version of the mock did not make: reads
        only. No tables: an empty file, which :meth:`_schema` fills."""
        if not tables:
            return
        if "schema_version" not in tables:
            listed = ", ".join(sorted(tables)[:5])
            raise _Refused(
                f"{self.path} is a SQLite database of another program (tables: {listed}); "
                "give the path of a new file, or of one this mock made"
            )
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        if row[0] != SCHEMA_VERSION:
            raise _Refused(
                f"{self.path} was written by another version of mock-server (schema version "
                f"{row[0]}; this one reads {SCHEMA_VERSION}); run that version, or give the "
                "path of a new file (or delete this one: its sessions are lost)"
            )

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(sqlite3.Error):
                connection.close()

    # --- the protocol ----------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (created if absent) and check it: a file that is not this mock's
        raises :class:`StoreUrlError` (the CLI exits 2), one that cannot be opened
        :class:`StoreUnavailable`, both naming the file."""
        if self._closed:
            raise self._closed_error()
        if self._executor is None or self._pid != os.getpid():
            self._start_thread()
        assert self._executor is not None
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._open)
        try:
            await asyncio.wait_for(future, self.busy_timeout + 10)
        except _Refused as refused:
            raise StoreUrlError.of(self.url, str(refused)) from None
        except TimeoutError:
            raise StoreUnavailable(f"{self.path} did not answer (a disk hung?)") from None

    def _open(self) -> None:
        """In the thread: connect, letting a refusal through as such (not as unavailable)."""
        try:
            self._connect()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from None

    async def close(self) -> None:
        """For good: the calls queued before it run, then the connection and the thread
        end; a call after it, or while it waits for them, is refused
        (:class:`StoreUnavailable`), starting no thread and opening nothing."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if self._pid == os.getpid():
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=True)

    def _closed_error(self) -> StoreUnavailable:
        return StoreUnavailable(f"the mock closed its connection to {self.path}")

    async def world(self, fingerprint: str) -> str:
        """The namespace is the fingerprint itself, so workers that saw different edits on
        their way (a file read half-written) still end in the same namespace; a change of
        world deletes every other namespace's data, and any left in this one from an
        earlier time it was served, so it starts afresh."""

        def job(connection: sqlite3.Connection) -> str:
            row = connection.execute("SELECT value FROM meta WHERE key = 'world'").fetchone()
            if row is not None and row[0] == fingerprint:
                return fingerprint
            for table in (*_SESSION_TABLES, "sessions"):
                connection.execute(f"DELETE FROM {table}")
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('world', ?)", (fingerprint,)
            )
            return fingerprint

        return await self._call(job, durable=True)

    async def forget(self, namespace: str) -> None:
        def job(connection: sqlite3.Connection) -> None:
            for table in (*_SESSION_TABLES, "sessions"):
                connection.execute(f"DELETE FROM {table} WHERE ns = ?", (namespace,))

        await self._call(job)

    # sessions

    @staticmethod
    def _ensure_session(connection: sqlite3.Connection, namespace: str, session: str) -> None:
        """The session's row, created if absent (a control-plane call without a touch)."""
        connection.execute(
            "INSERT OR IGNORE INTO sessions (ns, name, last_used, seq) VALUES "
            "(?, ?, 0.0, (SELECT coalesce(max(seq), 0) + 1 FROM sessions WHERE ns = ?))",
            (namespace, session, namespace),
        )

    @staticmethod
    def _clear_session(connection: sqlite3.Connection, namespace: str, session: str) -> None:
        for table in _SESSION_TABLES:
            connection.execute(
                f"DELETE FROM {table} WHERE ns = ? AND session = ?", (namespace, session)
            )

    def _drop_session(self, connection: sqlite3.Connection, namespace: str, session: str) -> None:
        self._clear_session(connection, namespace, session)
        connection.execute("DELETE FROM sessions WHERE ns = ? AND name = ?", (namespace, session))

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        limits = self.limits

        def job(connection: sqlite3.Connection) -> Touched:
            row = connection.execute(
                "SELECT last_used FROM sessions WHERE ns = ? AND name = ?", (namespace, session)
            ).fetchone()
            created = row is None or limits.forgotten(session, row[0], now)
            # last_used 0.0: made by a late write after it was forgotten, never touched since
            expired = created and row is not None and row[0] > 0.0
            if row is not None and created:
                self._clear_session(connection, namespace, session)
            connection.execute(
                "INSERT INTO sessions (ns, name, last_used, seq) VALUES "
                "(?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM sessions WHERE ns = ?)) "
                "ON CONFLICT (ns, name) DO UPDATE SET last_used = excluded.last_used, "
                "seq = excluded.seq, journal_bytes = "
                "CASE WHEN ? THEN 0 ELSE sessions.journal_bytes END",
                (namespace, session, now, namespace, created),
            )
            self._evict(connection, namespace, now, session)
            faulty = connection.execute(
                "SELECT 1 FROM faults WHERE ns = ? AND session = ? LIMIT 1", (namespace, session)
            ).fetchone()
            return Touched(created=created, has_faults=faulty is not None, expired=expired)

        return await self._call(job)

    def _evict(
        self, connection: sqlite3.Connection, namespace: str, now: float, touched: str
    ) -> None:
        (count,) = connection.execute(
            "SELECT count(*) FROM sessions WHERE ns = ?", (namespace,)
        ).fetchone()
        if count > self.limits.max_sessions:
            for (name,) in connection.execute(
                "SELECT name FROM sessions WHERE ns = ? AND name NOT IN (?, ?) "
                "ORDER BY seq LIMIT ?",
                (namespace, DEFAULT_SESSION, touched, count - self.limits.max_sessions),
            ).fetchall():
                self._drop_session(connection, namespace, name)
        oldest = connection.execute(
            "SELECT name, last_used FROM sessions WHERE ns = ? ORDER BY seq LIMIT ?",
            (namespace, _EXPIRY_SWEEP),
        ).fetchall()
        for name, last_used in oldest:
            if self.limits.forgotten(name, last_used, now):
                self._drop_session(connection, namespace, name)

    async def reset(self, namespace: str, session: str) -> None:
        def job(connection: sqlite3.Connection) -> None:
            self._ensure_session(connection, namespace, session)
            self._clear_session(connection, namespace, session)
            connection.execute(
                "UPDATE sessions SET journal_bytes = 0 WHERE ns = ? AND name = ?",
                (namespace, session),
            )

        await self._call(job)

    async def sessions(self, namespace: str, now: float | None = None) -> list[str]:
        def job(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute(
                "SELECT name, last_used FROM sessions WHERE ns = ? ORDER BY seq", (namespace,)
            )
            return [
                name
                for name, last_used in rows
                if now is None or not self.limits.forgotten(name, last_used, now)
            ]

        return await self._call(job, write=False)

    # records

    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        def job(connection: sqlite3.Connection) -> Record | None:
            row = connection.execute(
                "SELECT data FROM records WHERE ns = ? AND session = ? AND tbl = ? AND key = ?",
                (namespace, session, table, key),
            ).fetchone()
            return _loads(row[0]) if row is not None else None

        return await self._call(job, write=False)

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        def job(connection: sqlite3.Connection) -> list[tuple[str, Record]]:
            rows = connection.execute(
                "SELECT key, data FROM records WHERE ns = ? AND session = ? AND tbl = ? "
                "ORDER BY rowid",
                (namespace, session, table),
            )
            return [(key, _loads(data)) for key, data in rows]

        return await self._call(job, write=False)

    async def versions(self, namespace: str, session: str, table: str) -> dict[str, object]:
        def job(connection: sqlite3.Connection) -> dict[str, object]:
            rows = connection.execute(
                "SELECT key, data FROM records WHERE ns = ? AND session = ? AND tbl = ? "
                "ORDER BY rowid",
                (namespace, session, table),
            )
            return dict(rows.fetchall())

        return await self._call(job, write=False)

    async def transition(
        self,
        namespace: str,
        session: str,
        table: str,
        key: str,
        base: Record | None,
        decide: Decide[Outcome],
        *,
        read: Read | None = None,
    ) -> Outcome:
        def job(connection: sqlite3.Connection) -> Outcome:
            where = (namespace, session, table, key)
            row = connection.execute(
                "SELECT data FROM records WHERE ns = ? AND session = ? AND tbl = ? AND key = ?",
                where,
            ).fetchone()
            if row is not None:
                current: Record | None = _loads(row[0])
            else:
                current = base  # decide never changes its argument (Decide)
            decision = decide(current)
            if decision.replacement is not None:
                self._ensure_session(connection, namespace, session)
                connection.execute(
                    "INSERT INTO records (ns, session, tbl, key, data) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (ns, session, tbl, key) DO UPDATE SET data = excluded.data",
                    (*where, json.dumps(decision.replacement)),
                )
            return decision.outcome

        return await self._call(job, durable=True)

    async def insert_all(
        self, namespace: str, session: str, table: str, rows: Sequence[tuple[str, Record]]
    ) -> list[str]:
        session_table = (namespace, session, table)
        values = [(*session_table, key, json.dumps(record)) for key, record in rows]

        def job(connection: sqlite3.Connection) -> list[str]:
            taken: set[str] = set()
            for start in range(0, len(rows), _KEYS_PER_QUERY):
                keys = [key for key, _ in rows[start : start + _KEYS_PER_QUERY]]
                found = connection.execute(
                    "SELECT key FROM records WHERE ns = ? AND session = ? AND tbl = ? "
                    f"AND key IN ({', '.join('?' * len(keys))})",
                    (*session_table, *keys),
                )
                taken.update(key for (key,) in found)
            if taken:
                return [key for key, _ in rows if key in taken]
            self._ensure_session(connection, namespace, session)
            connection.executemany(
                "INSERT INTO records (ns, session, tbl, key, data) VALUES (?, ?, ?, ?, ?)", values
            )
            return []

        return await self._call(job, durable=True)

    # journal

    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        body = entry.to_json(0)
        del body["id"]
        text, size, cap = json.dumps(body), entry.size, self.limits.journal_bytes

        def job(connection: sqlite3.Connection) -> None:
            self._ensure_session(connection, namespace, session)
            newest = connection.execute(
                "INSERT INTO journal (ns, session, at, api, operation, status, size, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    namespace,
                    session,
                    entry.at,
                    entry.api,
                    entry.operation,
                    entry.status,
                    size,
                    text,
                ),
            ).lastrowid
            connection.execute(
                "UPDATE sessions SET journal_bytes = journal_bytes + ? WHERE ns = ? AND name = ?",
                (size, namespace, session),
            )
            (total,) = connection.execute(
                "SELECT journal_bytes FROM sessions WHERE ns = ? AND name = ?",
                (namespace, session),
            ).fetchone()
            if total <= cap:
                return
            # The oldest first, a page at a time: a full journal holds a thousand entries,
            # and each new one usually pushes out one or two.
            last, dropped = None, 0
            while total - dropped > cap:
                page = connection.execute(
                    "SELECT id, size FROM journal WHERE ns = ? AND session = ? AND id > ? "
                    "AND id < ? ORDER BY id LIMIT 32",
                    (namespace, session, last if last is not None else -1, newest),
                ).fetchall()
                if not page:  # only the newest entry is left: it stays, whatever its size
                    break
                for id, kept in page:
                    if total - dropped <= cap:
                        break
                    last, dropped = id, dropped + kept
            if last is not None:
                connection.execute(
                    "DELETE FROM journal WHERE ns = ? AND session = ? AND id <= ?",
                    (namespace, session, last),
                )
                connection.execute(
                    "UPDATE sessions SET journal_bytes = journal_bytes - ? "
                    "WHERE ns = ? AND name = ?",
                    (dropped, namespace, session),
                )

        await self._call(job)

    async def journal(self, namespace: str, session: str, *, from_id: int = 0) -> list[Logged]:
        def job(connection: sqlite3.Connection) -> list[tuple[Any, ...]]:
            query = (
                "SELECT id, at, api, operation, status, body FROM journal "
                "WHERE ns = ? AND session = ? AND id >= ? ORDER BY id"
            )
            rows = connection.execute(query, (namespace, session, from_id)).fetchall()
            if from_id and (not rows or rows[0][0] != from_id):  # not held: every entry
                rows = connection.execute(query, (namespace, session, 0)).fetchall()
            return rows

        return [
            Logged(id, at, api, operation, status, {"id": id, **json.loads(body)})
            for id, at, api, operation, status, body in await self._call(job, write=False)
        ]

    async def clear_journal(self, namespace: str, session: str) -> None:
        def job(connection: sqlite3.Connection) -> None:
            self._ensure_session(connection, namespace, session)
            connection.execute(
                "DELETE FROM journal WHERE ns = ? AND session = ?", (namespace, session)
            )
            connection.execute(
                "UPDATE sessions SET journal_bytes = 0 WHERE ns = ? AND name = ?",
                (namespace, session),
            )

        await self._call(job)

    # faults

    async def add_fault(
        self,
        namespace: str,
        session: str,
        *,
        api: str,
        operation: str,
        status: int | None,
        delay_ms: int,
        drop: bool,
        times: int | None,
    ) -> Fault:
        def job(connection: sqlite3.Connection) -> Fault:
            self._ensure_session(connection, namespace, session)
            id = connection.execute(
                "INSERT INTO faults (ns, session, api, operation, status, delay_ms, dropped, "
                "remaining) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (namespace, session, api, operation, status, delay_ms, drop, times),
            ).lastrowid
            assert id is not None
            return Fault(id, api, operation, status, delay_ms, drop, times)

        return await self._call(job)

    async def faults(self, namespace: str, session: str) -> list[Fault]:
        def job(connection: sqlite3.Connection) -> list[Fault]:
            rows = connection.execute(
                f"SELECT {_FAULT_COLUMNS} FROM faults WHERE ns = ? AND session = ? ORDER BY id",
                (namespace, session),
            )
            return [_fault(row) for row in rows]

        return await self._call(job, write=False)

    async def clear_faults(self, namespace: str, session: str) -> int:
        def job(connection: sqlite3.Connection) -> int:
            return connection.execute(
                "DELETE FROM faults WHERE ns = ? AND session = ?", (namespace, session)
            ).rowcount

        return await self._call(job)

    async def remove_fault(self, namespace: str, session: str, fault_id: int) -> bool:
        def job(connection: sqlite3.Connection) -> bool:
            removed = connection.execute(
                "DELETE FROM faults WHERE ns = ? AND session = ? AND id = ?",
                (namespace, session, fault_id),
            ).rowcount
            return bool(removed)

        return await self._call(job)

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        def job(connection: sqlite3.Connection) -> Fault | None:
            row = connection.execute(
                f"SELECT {_FAULT_COLUMNS} FROM faults WHERE ns = ? AND session = ? "
                "AND api = ? AND operation = ? ORDER BY id LIMIT 1",
                (namespace, session, api, operation),
            ).fetchone()
            if row is None:
                return None
            fault = _fault(row)
            if fault.remaining is not None and fault.remaining <= 1:
                connection.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
            elif fault.remaining is not None:
                connection.execute(
                    "UPDATE faults SET remaining = remaining - 1 WHERE id = ?", (fault.id,)
                )
            return fault

        return await self._call(job)


_FAULT_COLUMNS = "id, api, operation, status, delay_ms, dropped, remaining"


def _fault(row: tuple[Any, ...]) -> Fault:
    id, api, operation, status, delay_ms, dropped, remaining = row
    return Fault(id, api, operation, status, delay_ms, bool(dropped), remaining)


def _loads(text: str) -> Record:
    record: Record = json.loads(text)
    return record
