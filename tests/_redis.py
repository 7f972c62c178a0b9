"""A real ``redis-server`` for the tests: Debian's package, on a free loopback port.

Where it comes from: ``tools/ensure_redis_server``, which ``make test`` runs first
(it installs the package as root, else says in one line how). A test never fakes
Redis, and never skips for want of it: without ``redis-server`` the fixtures below
fail with that one line.

The fixtures (registered in ``tests/conftest.py``):

``redis_server`` (session scope, so one per pytest-xdist worker)
    A :class:`RedisServer` already answering ``PING``: ``.url``
    (``redis://127.0.0.1:PORT/0``), ``.url_for(db)``, ``.port``, ``.pid``, and
    ``.stop()`` / ``.start()`` (Redis lost, then back on the same port and directory),
    ``.kill()`` (a crash: SIGKILL), ``.pause()`` / ``.resume()`` (a Redis that hangs:
    its sockets stay open and nothing answers). It runs with no persistence
    (``--save "" --appendonly no``), so a restart comes back empty.
``redis_url`` (function scope)
    ``redis_server.url`` after :meth:`RedisServer.reset`: the server running (started
    or resumed if an earlier test of the worker left it stopped or paused) and every
    logical database empty (``FLUSHALL``). Tests of one worker run one at a time, so
    each test that takes ``redis_url`` starts from an empty Redis.
``redis_server_factory`` (function scope)
    ``redis_server_factory(*options)`` starts one more server of the test's own, with
    ``options`` appended to the defaults (a later directive wins), e.g.
    ``redis_server_factory("--appendonly", "yes", "--appendfsync", "always")`` for a
    Redis whose data survives ``stop()`` / ``kill()`` and ``start()``; each is stopped
    at the end of the test.

Every server binds 127.0.0.1 only, keeps its files in a temporary directory of its
own (its log: ``redis-server.log`` there, shown when it fails to start), and is ended
by its pid, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL = (
    "redis-server is needed by the tests and is not installed: "
    "sudo apt-get install redis-server (make test installs it when run as root)"
)
DEBIAN_PATH = Path("/usr/bin/redis-server")
# No persistence unless a test asks for it (redis_server_factory).
DEFAULT_OPTIONS: tuple[str, ...] = ("--save", "", "--appendonly", "no")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# A free port found by binding port 0 may be taken before redis-server binds it.
PORT_ATTEMPTS = 5
LOG_NAME = "redis-server.log"


class RedisServerMissing(Exception):
    """``redis-server`` is neither on PATH nor where Debian puts it."""


class RedisServerError(Exception):
    """A ``redis-server`` that did not start, or that cannot be reached to be reset."""


def find_redis_server(path: str | None = None, fallback: Path = DEBIAN_PATH) -> str:
    """``redis-server`` on ``path`` (default: PATH), else ``fallback``.

    Raises :class:`RedisServerMissing` with the one line that says how to install it.
    """
    found = shutil.which("redis-server", path=path)
    if found is not None:
        return found
    if fallback.is_file() and os.access(fallback, os.X_OK):
        return str(fallback)
    raise RedisServerMissing(INSTALL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def command(port: int, *words: str, timeout: float = 1.0) -> bytes:
    """Send one command in RESP to ``127.0.0.1:port``; the first line of the reply.

    A client of its own, so that starting and resetting a server do not depend on the
    client library under test. Raises ``OSError`` when nothing answers.
    """
    request = f"*{len(words)}\r\n".encode()
    for word in words:
        data = word.encode()
        request += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        reply = b""
        while not reply.endswith(b"\r\n") and len(reply) < 4096:
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.split(b"\r\n", 1)[0]


@dataclass
class RedisServer:
    """One ``redis-server`` process, started and stopped by this object only."""

    executable: str
    directory: Path
    options: tuple[str, ...] = DEFAULT_OPTIONS
    port: int = 0  # 0: a free port is chosen by the first start(), then kept
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _paused: bool = field(default=False, init=False, repr=False)

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        """The URL of logical database ``db`` (0-15)."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None or not self.running:
            raise RedisServerError(f"redis-server on port {self.port} is not running")
        return self._process.pid

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_NAME

    def log(self) -> str:
        """Everything the server wrote since its first start (all starts, appended)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        """Start it and return once it answers ``PING``; the same port and directory as
        before when it ran already. Raises :class:`RedisServerError` with its log."""
        if self.running:
            raise RedisServerError(f"redis-server on port {self.port} is already running")
        choose = self.port == 0
        for _ in range(PORT_ATTEMPTS if choose else 1):
            if choose:
                self.port = free_port()
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            if self._launch():
                return
            if not (choose and "Address already in use" in self.log()[log_start:]):
                break
        raise RedisServerError(
            f"redis-server did not come up on 127.0.0.1:{self.port} (it has "
            f"{START_TIMEOUT:.0f} s to answer PING); its log ({self.log_path}):\n"
            + self.log()[-4000:]
        )

    def _launch(self) -> bool:
        argv = [
            self.executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--daemonize", "no",
            *self.options,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        self._paused = False
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                # Up, even when it wants a password first (a server with --requirepass).
                if command(self.port, "PING") in (b"+PONG", b"-NOAUTH Authentication required."):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        self._end(signal.SIGKILL)
        return False

    def stop(self) -> None:
        """SIGTERM by pid and wait for it to exit (SIGKILL after 10 s): Redis is gone,
        a client's next command fails to connect. Without persistence (the default)
        its data is gone too."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL by pid: a crash, with no shutdown at all."""
        self._end(signal.SIGKILL)

    def pause(self) -> None:
        """SIGSTOP: the process and its sockets stay, nothing answers (a client waits
        for its socket timeout). ``resume()``, ``stop()`` or ``reset()`` undoes it."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        self._signal(signal.SIGCONT)
        self._paused = False

    def reset(self) -> None:
        """Running, answering, and empty: started or resumed if need be, then FLUSHALL."""
        if self._paused:
            self.resume()
        if not self.running:
            self.start()
        try:
            reply = command(self.port, "FLUSHALL")
        except OSError as error:
            raise RedisServerError(f"FLUSHALL on port {self.port}: {error}") from error
        if reply != b"+OK":
            raise RedisServerError(f"FLUSHALL on port {self.port} answered {reply!r}")

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None or not self.running:
            raise RedisServerError(f"redis-server on port {self.port} is not running")
        self._process.send_signal(signum)

    def _end(self, signum: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signum)
            if self._paused:  # a stopped process acts on SIGTERM only once continued
                process.send_signal(signal.SIGCONT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        self._paused = False


def _executable() -> str:
    try:
        return find_redis_server()
    except RedisServerMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """This worker's redis-server (see the module's docstring)."""
    server = RedisServer(_executable(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The worker's Redis, running and empty, for this test: its URL (database 0)."""
    redis_server.reset()
    return redis_server.url


RedisServerFactory = Callable[..., RedisServer]


@pytest.fixture
def redis_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisServerFactory]:
    """``redis_server_factory(*options)``: a started server of this test's own."""
    executable = _executable()
    started: list[RedisServer] = []

    def start(*options: str) -> RedisServer:
        server = RedisServer(
            executable, tmp_path_factory.mktemp("redis"), (*DEFAULT_OPTIONS, *options)
        )
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
