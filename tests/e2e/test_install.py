"""The wheel as a user gets it: built, installed in a fresh venv, run outside the checkout.

First the mock alone (``pip install esign-contract-mock``): it serves the README's
try-it exchange from its bundled fixtures, and ``conformance`` only says how to get
the harness. Then ``[conformance]``: the harness passes the same mock. Nothing here
imports the repository's packages; pip's cache keeps the wheels between runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

INSTALL_HINT = "pip install 'esign-contract-mock[conformance]'"
ACME_TEST_KEY = "ck_test_acme_0001"
SENT_ID = "83cb4bbe-b73d-548a-b4ae-d7de75b07165"  # README's try-it: a 'sent' request


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def pip_install(venv: Path, *requirements: str, cwd: Path) -> None:
    """Install into ``venv`` with this environment's pip (the venv has none: faster)."""
    done = run(
        sys.executable, "-m", "pip", "--python", venv / "bin/python", "install",
        "--quiet", "--disable-pip-version-check", "-c", ROOT / "constraints.txt", *requirements,
        cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def mock_server(venv: Path, cwd: Path) -> Iterator[tuple[str, str]]:
    """The venv's ``mock-server --port 0``: yields its URL and its start-up log."""
    process = subprocess.Popen(
        [venv / "bin/mock-server", "--port", "0", "--no-access-log"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (line := process.stdout.readline()):
            lines.append(line)
            if match := re.search(r"listening on (http://\S+)", line):
                yield match.group(1), "".join(lines)
                break
        else:
            raise AssertionError("mock-server did not start:\n" + "".join(lines))
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    done = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
        "--disable-pip-version-check", "--wheel-dir", dist, ROOT,
        cwd=dist,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = dist.glob("esign_contract_mock-*.whl")
    return built


def test_install_the_mock_then_the_harness(wheel: Path, tmp_path: Path) -> None:
    venv, user = tmp_path / "venv", tmp_path / "user"  # the user's own folder, no checkout
    user.mkdir()
    done = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pip_install(venv, str(wheel), cwd=user)
    expected = version("esign-contract-mock")

    # The mock alone.
    done = run(venv / "bin/mock-server", "--version", cwd=user)
    assert (done.returncode, done.stdout) == (0, f"mock-server {expected}\n")
    done = run(venv / "bin/python", "-c", "import schemathesis", cwd=user)
    assert done.returncode != 0 and "No module named 'schemathesis'" in done.stderr
    with mock_server(venv, user) as (url, log):
        assert log.splitlines()[0].endswith(f"mock-server {expected}")
        assert "_bundled/fixtures/craftkit.yaml" in log  # from the wheel, not the checkout
        cancel = f"{url}/v1/signatures/{SENT_ID}/cancel"
        headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
        first, second = httpx.post(cancel, headers=headers), httpx.post(cancel, headers=headers)
        assert (first.status_code, first.json()["status"]) == (200, "cancelled")
        assert (second.status_code, second.json()["error"]["code"]) == (409, "conflict")
        page = httpx.get(f"{url}/__mock/ui/app.js")  # the dashboard's files are package data
        assert page.status_code == 200 and "EventParser" in page.text, page.text[:200]

        done = run(
            venv / "bin/conformance", "run", "craftkit", "--base-url", url,
            "--fixtures", "craftkit.yaml",
            cwd=user,
        )  # fmt: skip
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert INSTALL_HINT in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr

        # Then the harness, against the same mock brought back to its fixtures.
        pip_install(venv, f"{wheel}[conformance]", cwd=user)
        assert httpx.post(f"{url}/__mock/reset").status_code == 204
        done = run(venv / "bin/conformance", "--version", cwd=user)
        assert (done.returncode, done.stdout) == (0, f"conformance {expected}\n")
        done = run(
            venv / "bin/conformance", "run", "craftkit", "--base-url", url,
            "--fixtures", "bundled:craftkit", "--profile", "fast",
            cwd=user,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no violations" in done.stdout

    # The docs travel with the package: a check's explanation, the fixture format.
    done = run(venv / "bin/conformance", "explain", "tenant_isolation", cwd=user)
    assert done.returncode == 0 and "**Fix**" in done.stdout, done.stdout + done.stderr
    (user / "bad.yaml").write_text("api: craftkit\nprojects: []\n")
    done = run(venv / "bin/mock-server", "--fixtures", "bad.yaml", cwd=user)
    assert done.returncode == 2
    [docs] = re.findall(r"docs/fixtures.md \(installed: (\S+)\)", done.stderr)
    assert Path(docs).is_file() and str(venv) in docs, done.stderr
