"""The installed ``mock-server`` command, driven over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections import Counter
from importlib.metadata import version

import httpx
import pytest

from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, jwts, signature_requests
from tests.e2e.conftest import MOCK_SERVER, RunningServer

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
