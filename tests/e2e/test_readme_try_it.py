"""README's "Try it" block, pasted as one block into bash: it waits for the mock (its
health loop), then every line answers as its comment says. On a free port of its own."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def try_it_block() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"## Try it\n\n```sh\n(.*?)```", readme, re.S)
    assert found, "README.md has no '## Try it' sh block"
    return found.group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_readme_try_it_block_runs_pasted_as_one_block(tmp_path: Path) -> None:
    block = try_it_block()
    assert "make run &" in block and "/__mock/health" in block
    port = free_port()
    script = block.replace("make run &", f"make run ARGS='--port {port}' &").replace(
        "127.0.0.1:8000", f"127.0.0.1:{port}"
    )
    log = tmp_path / "output"
    with log.open("w") as out:  # a file: the server left in the background keeps it open
        bash = subprocess.Popen(
            ["bash", "-c", f"{script}\necho conformance-exit=$?"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make and mock-server end with it
        )
    try:
        bash.wait(timeout=240)
        output = log.read_text()
    finally:
        try:
            os.killpg(bash.pid, signal.SIGTERM)  # the group of the shell started here
        except ProcessLookupError:
            pass
    cancels = re.findall(r'"status": ?"cancelled"', output)
    assert cancels, output
    assert '{"error":{"code":"conflict"' in output.replace(" ", ""), output
    assert "JWT revoked successfully" in output, output
    assert "conformance-exit=1" in output, output
