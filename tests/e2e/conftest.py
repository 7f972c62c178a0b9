"""A real ``mock-server`` process on a free loopback port, for tests over real sockets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


def start_server(*args: str, timeout: float = 20.0, access_log: bool = False) -> RunningServer:
    """Start ``mock-server --port 0``; return once it logs its address. With ``access_log``
    it logs every request (with ``--workers``: the pid of the worker that answered)."""
    quiet = [] if access_log else ["--no-access-log"]
    process = subprocess.Popen(
        [str(MOCK_SERVER), "--host", "127.0.0.1", "--port", "0", *quiet, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return RunningServer(process, match.group(1), "".join(lines))
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    raise AssertionError("mock-server did not start:\n" + "".join(lines))


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_server()
    try:
        yield running
    finally:
        running.stop()
