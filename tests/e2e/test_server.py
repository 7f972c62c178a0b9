"""The installed ``mock-server`` command, driven over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, jwts, signature_requests
from tests.e2e.conftest import MOCK_SERVER, RunningServer, ServerLog, start_server

pytestmark = pytest.mark.e2e


def test_cancel_once_then_409_over_http(server: RunningServer) -> None:
    record = signature_requests(project="proj_acme", status="sent")[2]
    url = f"{server.url}/v1/signatures/{record['id']}/cancel"
    headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
    first = httpx.post(url, headers=headers, json={"reason": "Superseded."})
    second = httpx.post(url, headers=headers)
    assert (first.status_code, first.json()["status"]) == (200, "cancelled")
    assert (second.status_code, second.json()["error"]["code"]) == (409, "conflict")


def test_firma_at_both_base_paths_over_http(server: RunningServer) -> None:
    active = jwts(workspace="ws_acme", revoked_at=None)
    for base, jwt in zip(("/functions/v1/signing-request-api", "/api/v1"), active, strict=False):
        response = httpx.post(
            f"{server.url}{base}/jwt/revoke-signing-request",
            headers={"Authorization": FIRMA_ACME_KEYS[0]},
            json={"jwt_id": jwt["jwt_id"]},
        )
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "120"


def test_fifty_concurrent_cancels_over_sockets(server: RunningServer) -> None:
    record = signature_requests(project="proj_acme", status="viewed")[3]
    url = f"{server.url}/v1/signatures/{record['id']}/cancel"

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            calls = [
                client.post(url, headers={"Authorization": f"Bearer {ACME_TEST_KEY}"})
                for _ in range(50)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    assert Counter(asyncio.run(burst())) == {200: 1, 409: 49}


def test_startup_log_says_what_is_live(server: RunningServer) -> None:
    log = server.startup_log
    assert "craftkit.openapi.yaml (OpenAPI 3.1.0) at /" in log
    assert "/functions/v1/signing-request-api, /api/v1" in log
    assert "fixtures/craftkit.yaml: 2 projects" in log and "fixtures/firma.yaml" in log
    assert "ready in" in log


def test_startup_log_starts_with_the_version(server: RunningServer) -> None:
    first = server.startup_log.splitlines()[0]
    assert first.endswith(f"mock_server: mock-server {version('esign-contract-mock')}"), first


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--log-level", "warning"], id="warning"),
        pytest.param(["--log-level", "error"], id="error"),
        pytest.param(
            ["--log-level", "error", "--workers", "2", "--store", "sqlite:///{db}"], id="workers"
        ),
        pytest.param(["--log-level", "ERROR", "--watch"], id="watch"),
    ],
)
def test_the_address_is_said_once_at_any_log_level(args: list[str], tmp_path: Path) -> None:
    """With --port 0 the log is the only way to learn the port: a --log-level that hides
    INFO said nothing at all (the mock was unreachable). The address line is said once,
    in every mode; what else the level hides stays hidden."""
    server = start_server(*(arg.format(db=tmp_path / "mock.db") for arg in args))
    log = ServerLog(server)
    try:
        assert httpx.get(f"{server.url}/__mock/health").status_code == 200
    finally:
        server.stop()
    lines = log.finished().splitlines()
    said = [line for line in lines if "listening on http://" in line]
    assert len(said) == 1, lines
    assert f"docs at {server.url}/docs/" in said[0]
    assert [line for line in lines if " INFO " in line and line not in said] == []
    assert f"mock-server {version('esign-contract-mock')}" not in log.text
    assert "state:" not in log.text


def test_help_documents_every_flag() -> None:
    result = subprocess.run(
        [str(MOCK_SERVER), "--help"], capture_output=True, text=True, check=True
    )
    for flag in ("--host", "--port", "--fixtures", "--log-level", "--no-access-log", "exit codes"):
        assert flag in result.stdout


def test_busy_port_exits_2_with_a_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(MOCK_SERVER), "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert "address already in use" in result.stderr and "--port" in result.stderr


@pytest.mark.parametrize("flag", [["--port", "70000"], ["--port", "http"], ["--log-level", "loud"]])
def test_bad_flags_exit_2(flag: list[str]) -> None:
    result = subprocess.run([str(MOCK_SERVER), *flag], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "error" in result.stderr


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no key: refused before the handler reads the body
        ({"Authorization": f"Bearer {ACME_TEST_KEY}", "Prefer": "code=409"}, 409),
    ],
    ids=["401", "prefer"],
)
def test_expect_100_continue_gets_its_early_answer_and_the_body_is_journalled(
    server: RunningServer, headers: dict[str, str], status: int
) -> None:
    """A client that sends ``Expect: 100-continue`` holds its body until the server says
    100 (or answers): an answer given before the handler read the body must neither wait
    for it forever (the journal reads it before answering, so the server says 100) nor
    journal it empty."""
    session = f"expect-{status}"
    body = b'{"reason": "' + b"x" * 3000 + b'"}'
    lines = [
        f"POST /v1/signatures/{signature_requests(project='proj_acme')[0]['id']}/cancel HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Expect: 100-continue",
        f"X-Mock-Session: {session}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 "), interim[:200]
        sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection without an answer"
            answer += chunk
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    journal = httpx.get(f"{server.url}/__mock/requests", headers={"X-Mock-Session": session})
    [entry] = journal.json()["requests"]
    assert entry["response"]["status"] == status
    assert entry["request"]["body"] == body.decode()
