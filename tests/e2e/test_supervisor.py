"""``--workers N``: the supervisor forks N workers; SIGTERM stops them all, whenever it comes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

# mock-server, with SIGTERM reaching the supervisor right as each worker is forked
# (a deploy or a CI teardown stopping a server that is still starting).
SIGTERM_AT_FORK = """
import os, signal, sys
from mock_server import cli

fork = os.fork

def fork_then_sigterm():
    pid = fork()
    if pid:
        os.kill(os.getpid(), signal.SIGTERM)
    return pid

os.fork = fork_then_sigterm
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_while_workers_are_being_started_stops_every_worker(tmp_path: Path) -> None:
    log = tmp_path / "mock.log"
    args = ["--host", "127.0.0.1", "--port", "0", "--workers", "3"]
    with log.open("w") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-c", SIGTERM_AT_FORK, *args, "--store", f"sqlite:///{tmp_path}/m.db"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        code = supervisor.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        started = re.findall(r"worker \d+ started \(pid (\d+)\)", log.read_text())
        workers = [int(pid) for pid in started]
        if supervisor.poll() is None:  # it hangs: end what it started, by pid
            supervisor.kill()
            supervisor.wait(timeout=10)
            for pid in workers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert code == 0, f"the supervisor did not stop (exit {code}):\n{log.read_text()}"
    assert workers, log.read_text()
    assert "all workers stopped" in log.read_text()
