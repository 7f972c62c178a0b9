"""The servers under load: how each starts, when it is ready, what it uses, how it stops.

A :class:`Target` is anything that serves the paths on a port it is given: the mock with
a store and a number of workers (:class:`MockTarget`) here; a bare handler, or the mock
on another server, are more targets of the same shape (issue #12). :func:`start` runs
one on a free loopback port, measures its ready time (process start to the first
answered request) and returns a :class:`Running` server; a target that cannot start
raises :class:`Unavailable` with the reason (a store not built in yet, a missing
redis-server), which the report shows instead of a number.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.paths import ROOT, Request
from bench.procs import Usage, descendants, usage
from bench.wire import HOST, exchange

__all__ = ["MockTarget", "Running", "Target", "Unavailable", "start"]

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
PORT_ATTEMPTS = 3
PROBE_EVERY = 0.005


class Unavailable(Exception):
    """A target that cannot run here; the message says why, in one line."""


class Target(Protocol):
    @property
    def name(self) -> str:
        """Short, unique: a column of the report, a value of ``--only``."""
        ...

    @property
    def group(self) -> str:
        """What ``--only`` may name to select this target with its siblings."""
        ...

    def command(self, port: int, workdir: Path) -> list[str]:
        """The argv serving on ``127.0.0.1:port``; ``workdir`` is this start's own."""
        ...


@dataclass(frozen=True)
class MockTarget:
    """``mock-server`` with a store and a number of workers, access log off."""

    name: str
    store: str  # memory, sqlite or redis: the group
    workers: int
    store_url: Callable[[Path], str]  # this start's workdir -> the --store URL
    fixtures: Sequence[Path] = ()

    @property
    def group(self) -> str:
        return self.store

    def command(self, port: int, workdir: Path) -> list[str]:
        return [
            sys.executable, "-m", "mock_server",
            "--host", HOST, "--port", str(port),
            "--store", self.store_url(workdir),
            "--workers", str(self.workers),
            "--no-access-log",
            *(["--fixtures", *map(str, self.fixtures)] if self.fixtures else []),
        ]  # fmt: skip


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
