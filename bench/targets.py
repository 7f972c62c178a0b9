"""The servers under load: how each starts, when it is ready, what it uses, how it stops.

A :class:`Target` is anything that serves the paths on a port it is given, under one
of the servers the benchmark compares (:data:`SERVERS`):

:class:`MockTarget`     ``mock-server`` with a store and a number of workers (uvicorn with
                        httptools and uvloop, as the mock ships)
:class:`GranianMock`    the mock's ASGI app under Granian, built by ``mock_server.serve_app``
                        as ``mock-server`` builds it
:class:`BareTarget`     the bare handler (:mod:`bench.bare`) under either server: the
                        baseline of the mock on the same server
:class:`PrismTarget`    Stoplight Prism (``prism mock``, Node.js) serving one vendor
                        document: the peer the mock is compared with (optional: needs npm)

Each runs as one process serving one worker, access log off, listening on a free
loopback port. :func:`start` runs one, measures its ready time (process start to the
first answered request) and returns a :class:`Running` server; a target that cannot
start raises :class:`Unavailable` with the reason (a store not built in yet, a missing
redis-server, Granian not installed), which the report shows instead of a number.
"""

from __future__ import annotations

import compileall
import functools
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bench.paths import ROOT, BenchPath, Request
from bench.procs import Usage, descendants, ensure, usage
from bench.wire import HOST, exchange

__all__ = [
    "SERVERS",
    "BareTarget",
    "EveryPath",
    "GranianMock",
    "MockTarget",
    "PrismTarget",
    "Running",
    "Target",
    "Unavailable",
    "start",
]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
PORT_ATTEMPTS = 3
PROBE_EVERY = 0.005

SERVERS = ("uvicorn", "granian")
"""uvicorn: httptools and uvloop, as mock-server runs it. granian: its ASGI interface,
HTTP/1, uvloop, one worker with one runtime thread. (Prism is its own server, Node.js:
its rows have no bare handler.)"""
ENSURE_PRISM = ROOT / "tools" / "ensure_prism"


class Unavailable(Exception):
    """A target that cannot run here; the message says why, in one line."""


class Target(Protocol):
    @property
    def name(self) -> str:
        """Short, unique: a row of the report, a value of ``--only``."""
        ...

    @property
    def groups(self) -> tuple[str, ...]:
        """What else ``--only`` may name to select this target with its siblings."""
        ...

    @property
    def server(self) -> str:
        """One of :data:`SERVERS`, whose bare handler its rows are compared with; or a
        server with no bare handler (``prism``)."""
        ...

    @property
    def bare(self) -> bool:
        """Whether this is the bare handler, the baseline of its server."""
        ...

    @property
    def stateful(self) -> bool:
        """Whether a fresh path's records must be created in it first (the mock's control
        plane); the bare handler answers any id."""
        ...

    def command(self, port: int, workdir: Path) -> list[str]:
        """The argv serving on ``127.0.0.1:port``; ``workdir`` is this start's own."""
        ...

    def serving(self, path: BenchPath) -> BenchPath | None:
        """The path as this target is sent it, or ``None`` when it does not serve it."""
        ...


class EveryPath:
    """A target that serves every path, as it is."""

    def serving(self, path: BenchPath) -> BenchPath | None:
        return path


def _uvicorn(target: str, port: int) -> list[str]:
    """uvicorn as mock-server runs it (mock_server/cli.py): httptools, uvloop, lifespan on,
    no proxy headers, no access log, one process, and mock-server's own protocol and
    server (:mod:`bench.serve`)."""
    return [sys.executable, "-m", "bench.serve", "--port", str(port), target]


def _granian(target: str, port: int, *, factory: bool = False, workdir: Path = ROOT) -> list[str]:
    """Granian's ASGI interface, with the options mock-server gives uvicorn: one worker,
    uvloop, HTTP/1 only, no WebSockets, no access log."""
    if importlib.util.find_spec("granian") is None:
        raise Unavailable(
            "granian is not installed: `make install` installs it (the [bench] extra)"
        )
    return [
        sys.executable, "-m", "granian",
        "--interface", "asgi", "--host", HOST, "--port", str(port),
        "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop",
        "--http", "1", "--no-ws", "--no-access-log", "--log-level", "info",
        "--working-dir", str(workdir),
        *(["--factory"] if factory else []),
        target,
    ]  # fmt: skip


@dataclass(frozen=True)
class MockTarget(EveryPath):
    """``mock-server`` with a store and a number of workers, access log off."""

    name: str
    store: str  # memory, sqlite or redis
    workers: int
    store_url: Callable[[Path], str]  # this start's workdir -> the --store URL
    fixtures: Sequence[Path] = ()
    server: str = field(default="uvicorn", init=False)
    bare: bool = field(default=False, init=False)
    stateful: bool = field(default=True, init=False)

    @property
    def groups(self) -> tuple[str, ...]:
        return (self.store, "mock", self.server)

    def command(self, port: int, workdir: Path) -> list[str]:
        return [
            sys.executable, "-m", "mock_server",
            "--host", HOST, "--port", str(port),
            "--store", self.store_url(workdir),
            "--workers", str(self.workers),
            "--no-access-log",
            *(["--fixtures", *map(str, self.fixtures)] if self.fixtures else []),
        ]  # fmt: skip


LAUNCHER = "bench_mock_app"
LAUNCHER_SOURCE = """\
\"\"\"Written by the benchmark (bench/targets.py) for a server that imports its app: the
mock's app as mock-server builds it (mock_server.serve_app: the store checked, the app
built, the collector's policy), with the run's fixtures and store.\"\"\"

import os
from pathlib import Path

from mock_server import Settings, serve_app


def app():
    return serve_app(
        Settings(
            host={host!r},
            port={port!r},
            fixtures=tuple(Path(p) for p in {fixtures!r}),
            environ=dict(os.environ),
            store={store!r},
        )
    )
"""


@dataclass(frozen=True)
class GranianMock(EveryPath):
    """The mock's app under Granian, one worker, access log off: ``mock_server.serve_app``
    builds it as ``mock-server`` does. The run writes a small module into the start's
    directory that calls it with the run's settings, and Granian imports it (``--factory``)."""

    name: str
    store: str
    store_url: Callable[[Path], str]
    fixtures: Sequence[Path] = ()
    server: str = field(default="granian", init=False)
    bare: bool = field(default=False, init=False)
    stateful: bool = field(default=True, init=False)

    @property
    def groups(self) -> tuple[str, ...]:
        return (self.store, "mock", self.server)

    def command(self, port: int, workdir: Path) -> list[str]:
        source = LAUNCHER_SOURCE.format(
            host=HOST,
            port=port,
            fixtures=[str(Path(f).resolve()) for f in self.fixtures],
            store=self.store_url(workdir),
        )
        (workdir / f"{LAUNCHER}.py").write_text(source, encoding="utf-8")
        return _granian(f"{LAUNCHER}:app", port, factory=True, workdir=workdir)


@dataclass(frozen=True)
class BareTarget(EveryPath):
    """The bare handler (:mod:`bench.bare`) under ``server``."""

    name: str
    server: str
    bare: bool = field(default=True, init=False)
    stateful: bool = field(default=False, init=False)

    @property
    def groups(self) -> tuple[str, ...]:
        return ("bare", self.server)

    def command(self, port: int, workdir: Path) -> list[str]:
        if self.server == "uvicorn":
            return _uvicorn("bench.bare:app", port)
        if self.server == "granian":
            return _granian("bench.bare:app", port)
        raise ValueError(self.server)


@functools.cache
def find_prism() -> tuple[str | None, str]:
    """Prism's ``prism`` command (``tools/ensure_prism`` installs the pinned version, and
    the Node.js it runs on, with npm when missing) and its version; or ``None`` and why,
    in one line. Once per run."""
    path, why = ensure(ENSURE_PRISM)
    if path is None:
        return None, why
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{path} --version failed: {exc}"
    if done.returncode != 0 or not done.stdout.strip():
        lines = (done.stderr or done.stdout).strip().splitlines()
        return None, f"{path} --version failed: " + (lines[-1] if lines else "no output")
    return path, done.stdout.strip()


@dataclass(frozen=True)
class PrismTarget:
    """Stoplight Prism mocking one vendor document as it ships in ``specs/``, as a
    frontend team would run it: ``prism mock`` (static examples, CORS on, no
    multiprocess), log level ``warn`` (as the mock's access log is off), on the Node.js
    it declares it needs (``tools/ensure_prism`` installs both). Prism serves
    one document per process, so each API is a target of its own, serving only its
    API's paths. Prism is stateless: it answers the status a request asks for
    (``Prefer: code=NNN``), else the operation's first, so each path's request carries
    its status; and its routes are the document's paths without the servers' base path
    (Firma's ``/functions/v1/signing-request-api``), which the mock serves them under.
    A fresh path's requests still name a new id each (the load generator's work is the
    same as for the mock); Prism keeps no records, so none are created."""

    name: str
    api: str  # the API whose paths it serves (BenchPath.api)
    document: Path
    base_path: str = ""  # taken off the paths' requests
    server: str = field(default="prism", init=False)
    bare: bool = field(default=False, init=False)
    stateful: bool = field(default=False, init=False)

    @property
    def groups(self) -> tuple[str, ...]:
        return ("prism",)

    def check(self) -> str:
        """Prism's command; :class:`Unavailable` when it cannot be had here (installs it
        first)."""
        path, why = find_prism()
        if path is None:
            raise Unavailable(why)
        return path

    def serving(self, path: BenchPath) -> BenchPath | None:
        """``path`` as Prism is sent it (its status asked for, the base path taken off),
        or ``None`` for another API's.

        >>> from bench.paths import FIRMA_BASE, PATHS
        >>> firma = PrismTarget("prism-firma", "firma", Path("f.yaml"), FIRMA_BASE)
        >>> [firma.serving(p) is None for p in PATHS]
        [True, True, False, False]
        >>> sent = firma.serving(PATHS[2]).request
        >>> sent.path, sent.headers[-1]
        ('/jwt/revoke-signing-request', ('Prefer', 'code=400'))
        """
        if path.api != self.api:
            return None
        request = path.request
        asked = (*request.headers, ("Prefer", f"code={path.expected}"))
        sent = replace(request, path=request.path.removeprefix(self.base_path), headers=asked)
        return replace(path, request=sent)

    def command(self, port: int, workdir: Path) -> list[str]:
        return [
            self.check(), "mock", "--host", HOST, "--port", str(port),
            "--verboseLevel", "warn", str(self.document),
        ]  # fmt: skip


def compile_bytecode() -> bool:
    """Compile the mock's modules to bytecode (``__pycache__``), as installing a package
    does, so that ready time counts a start, not a compilation: Python writes bytecode
    on first import, unless the environment forbids it (``PYTHONDONTWRITEBYTECODE``, set
    in some CI and sandbox images: then every start compiled the mock's ~60 modules
    from source, ~0.08 s). Up-to-date files are left alone. Whether all compiled."""
    return bool(compileall.compile_dir(ROOT / "mock_server", quiet=1))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (stat field 22): its identity with the pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass
class Running:
    target: Target
    process: subprocess.Popen[bytes]
    port: int
    ready_seconds: float
    log_path: Path
    _tree: dict[int, str | None] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def usage(self) -> Usage:
        """Memory and CPU time of the server's processes (a supervisor and its workers)."""
        pids = descendants(self.process.pid)
        for pid in pids:
            self._tree.setdefault(pid, _start_time(pid))
        return usage(pids)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM by pid (SIGKILL after 15 s); then any worker left over, by pid."""
        self.usage()  # records the workers' pids while the supervisor is alive
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        for pid, started in self._tree.items():
            if pid != self.process.pid and started is not None and _start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _reason(log: str, code: int | None) -> str:
    """The line of the server's log that says why it stopped, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("mock-server:") and "fixture refused" not in line:
            return line.removeprefix("mock-server:").strip()
    last = lines[-1] if lines else "no output"
    return f"exited with code {code}: {last}"


def start(target: Target, workdir: Path, probe: Request) -> Running:
    """Start ``target`` on a free port and return once it answers ``probe`` (any status).

    Ready time: from just before the process is created to the first answer, probing
    every 5 ms. A port taken meanwhile by another program is retried on another one.
    Raises :class:`Unavailable` when it exits first or is not ready in 60 s.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "server.log"
    for _ in range(PORT_ATTEMPTS):
        port = _free_port()
        command = target.command(port, workdir)
        with log_path.open("wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                exchange(port, probe, timeout=5.0)
            except (OSError, ValueError):
                time.sleep(PROBE_EVERY)
                continue
            ready = time.perf_counter() - started
            return Running(target, process, port, ready, log_path)
        running = Running(target, process, port, 0.0, log_path)
        if process.poll() is None:
            running.stop()
            raise Unavailable(f"not ready in {START_TIMEOUT:.0f} s; log: {log_path}")
        text = running.log()
        if "address already in use" not in text:
            raise Unavailable(_reason(text, process.returncode))
    raise Unavailable(f"no free port after {PORT_ATTEMPTS} attempts")
