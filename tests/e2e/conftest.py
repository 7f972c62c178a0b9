"""A real ``mock-server`` process on a free loopback port, for tests over real sockets."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MOCK_SERVER = Path(sys.executable).with_name("mock-server")


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    startup_log: str

    def stop(self) -> None:
        """SIGTERM, wait, and close the log pipe (warnings are errors: no leaked file)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_server(
    *args: str, timeout: float = 20.0, access_log: bool = False, open_files: int | None = None
) -> RunningServer:
    """Start ``mock-server --port 0``; return once it logs its address. With ``access_log``
    it logs every request (with ``--workers``: the pid of the worker that answered); with
    ``open_files`` it runs under that open-file limit (soft and hard)."""
    quiet = [] if access_log else ["--no-access-log"]

    def limit_files() -> None:
        assert open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    process = subprocess.Popen(
        [str(MOCK_SERVER), "--host", "127.0.0.1", "--port", "0", *quiet, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=limit_files if open_files is not None else None,
    )
    assert process.stdout is not None
    lines: list[str] = []
    said = threading.Lock()  # taken by the address said, or by the deadline: once

    def give_up() -> None:
        """A server silent past the deadline would hold readline for ever: stopped (with
        --workers, its workers too, which share its output), readline sees the end."""
        if said.acquire(blocking=False):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            process.kill()

    timer = threading.Timer(timeout, give_up)
    timer.start()
    try:
        while line := process.stdout.readline():
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match and said.acquire(blocking=False):
                return RunningServer(process, match.group(1), "".join(lines))
    finally:
        timer.cancel()
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    raise AssertionError("mock-server did not start:\n" + "".join(lines))


@contextlib.contextmanager
def serving(*args: str) -> Iterator[RunningServer]:
    """:func:`start_server` for a ``with`` block: stopped however the block ends."""
    running = start_server(*args)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with serving() as running:
        yield running


POLL_TIMEOUT = 15.0
"""Seconds a bounded poll waits for what must happen (a reload, a store back)."""


class ServerLog:
    """Everything a server writes after start-up, read in the background (so a long
    run never blocks on a full pipe)."""

    def __init__(self, server: RunningServer) -> None:
        self.lines: list[str] = server.startup_log.splitlines(keepends=True)
        stream = server.process.stdout
        assert stream is not None
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError):  # the pipe closed under us: the server stopped
            self.lines.extend(iter(stream.readline, ""))

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def finished(self, timeout: float = POLL_TIMEOUT) -> str:
        """Everything the server wrote, once it closed its output (it has stopped: the
        reader may otherwise be a line behind the process's exit)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the server's output still open after {timeout} s"
        return self.text

    def search(self, pattern: str, start: int = 0) -> re.Match[str] | None:
        for line in self.lines[start:]:
            match = re.search(pattern, line)
            if match:
                return match
        return None

    def wait_for(
        self, pattern: str, start: int = 0, timeout: float = POLL_TIMEOUT
    ) -> re.Match[str]:
        match: re.Match[str] = poll(
            lambda: self.search(pattern, start), f"{pattern!r} in the log", timeout
        )
        return match


def poll(condition: Callable[[], Any], what: str, timeout: float = POLL_TIMEOUT) -> Any:
    """``condition()``'s first truthy value, tried every 50 ms for at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


SCHEMATHESIS = MOCK_SERVER.with_name("st")


def schemathesis_config(
    path: Path,
    *,
    authorization: str,
    parameter: str,
    ids: list[str],
    extra: str = "",
    headers: dict[str, str] | None = None,
) -> Path:
    """A Schemathesis config: ``authorization`` (and ``headers``) on every request, and the
    fixture's ``ids`` as ``parameter``'s value half the time (so requests reach records)."""
    sent = {"Authorization": authorization, **(headers or {})}
    path.write_text(
        f"headers = {{ {', '.join(f'{name} = {json.dumps(v)}' for name, v in sent.items())} }}\n"
        f"{extra}\n"
        "[dictionaries.ids]\n"
        f"values = {json.dumps(ids)}\n"
        "[parameters]\n"
        f'"{parameter}" = {{ dictionary = "ids", probability = 0.5 }}\n'
    )
    return path


def run_schemathesis(
    spec: Path | str,
    url: str,
    config_file: Path,
    *,
    max_examples: int = 60,
    checks: str = "all",
    phases: str = "examples,coverage,fuzzing,stateful",
) -> subprocess.CompletedProcess[str]:
    """``st run`` over ``spec`` at ``url``, seeded, without the database of earlier runs."""
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config_file),
            "run",
            str(spec),
            "--url",
            url,
            "--checks",
            checks,
            "--max-examples",
            str(max_examples),
            "--phases",
            phases,
            "--seed",
            "20261122",
            "--no-color",
            "--generation-database",
            "none",  # replaying old failures would make runs depend on history
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
