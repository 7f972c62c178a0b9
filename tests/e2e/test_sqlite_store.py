"""``--store sqlite:///...`` over real processes: what a 200 promised survives ``kill -9``,
two workers share one world (exactly once, one journal, faults counted once), and
``--watch`` moves every worker to an edited world once."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, FIXTURES, jwts, signature_requests
from tests.e2e.conftest import MOCK_SERVER, RunningServer, ServerLog, poll, start_server

pytestmark = pytest.mark.e2e

CRAFTKIT = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
FIRMA = {"Authorization": FIRMA_ACME_KEYS[0]}
REVOKE = "/api/v1/jwt/revoke-signing-request"


def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mock.db'}"  # an absolute path: four slashes


def session_header(session: str) -> dict[str, str]:
    return {} if session == "default" else {"X-Mock-Session": session}


def cancel(url: str, id: str, session: str = "default") -> httpx.Response:
    headers = CRAFTKIT | session_header(session)
    return httpx.post(f"{url}/v1/signatures/{id}/cancel", headers=headers, timeout=10)


def revoke(url: str, id: str, session: str = "default") -> httpx.Response:
    headers = FIRMA | session_header(session)
    return httpx.post(f"{url}{REVOKE}", headers=headers, json={"jwt_id": id}, timeout=10)


def state(url: str, session: str = "default") -> dict[str, Any]:
    answer = httpx.get(f"{url}/__mock/state", headers=session_header(session), timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def craftkit_status(url: str, id: str, session: str = "default") -> str:
    (record,) = [r for r in state(url, session)["craftkit"]["signature_requests"] if r["id"] == id]
    return str(record["status"])


def revoked(url: str, id: str, session: str = "default") -> bool:
    (record,) = [r for r in state(url, session)["firma"]["jwts"] if r["jwt_id"] == id]
    return record["revoked_at"] is not None


def killed(server: RunningServer) -> None:
    """``kill -9``: no shutdown, no flush, nothing the process could still do."""
    server.process.kill()
    try:
        server.process.wait(timeout=10)
    finally:
        assert server.process.stdout is not None
        server.process.stdout.close()


# --- (a) durability ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "session"),
    [("craftkit", "default"), ("firma", "default"), ("craftkit", "suite-7")],
    ids=["craftkit-cancel", "firma-revoke", "another-session"],
)
def test_a_transition_answered_200_survives_kill_9_of_the_process(
    tmp_path: Path, api: str, session: str
) -> None:
    url = store(tmp_path)
    if api == "craftkit":
        id = signature_requests(project="proj_acme", status="sent")[0]["id"]
        act, refused = cancel, 409
    else:
        id = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
        act, refused = revoke, 400
    first = start_server("--store", url)
    try:
        answer = act(first.url, id, session)
        assert answer.status_code == 200, answer.text
    finally:
        killed(first)  # right after the 200

    again = start_server("--store", url)
    try:
        if api == "craftkit":
            assert craftkit_status(again.url, id, session) == "cancelled"
        else:
            assert revoked(again.url, id, session)
        assert act(again.url, id, session).status_code == refused
        if session != "default":
            assert craftkit_status(again.url, id) == "sent", "other sessions stay isolated"
    finally:
        again.stop()


# --- (b) two workers, one world ---------------------------------------------------------------


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[RunningServer, ServerLog]]:
    server = start_server("--workers", "2", "--store", store(tmp_path))
    log = ServerLog(server)
    try:
        yield server, log
    finally:
        server.stop()


async def burst(url: str, count: int, headers: dict[str, str]) -> list[int]:
    """``count`` POSTs at once, each on a connection of its own."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        answers = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(count)))
    return [answer.status_code for answer in answers]


def test_two_workers_give_one_200_for_100_concurrent_cancels_and_journal_them_all(
    two_workers: tuple[RunningServer, ServerLog],
) -> None:
    server, log = two_workers
    id = signature_requests(project="proj_acme", status="viewed")[0]["id"]
    statuses = asyncio.run(burst(f"{server.url}/v1/signatures/{id}/cancel", 100, CRAFTKIT))
    assert Counter(statuses) == {200: 1, 409: 99}
    assert craftkit_status(server.url, id) == "cancelled"

    journal = httpx.get(f"{server.url}/__mock/requests", params={"api": "craftkit"}).json()
    entries = journal["requests"]
    assert len(entries) == 100
    assert Counter(e["response"]["status"] for e in entries) == {200: 1, 409: 99}
    ids = [e["id"] for e in entries]
    assert ids == sorted(set(ids)), "one order across both workers"
    assert "Traceback" not in log.text


def test_two_workers_count_a_fault_s_times_once_in_total(
    two_workers: tuple[RunningServer, ServerLog],
) -> None:
    server, _ = two_workers
    session = {"X-Mock-Session": "faults"}
    fault = {"api": "craftkit", "operation": "cancelSignature", "status": 502, "times": 3}
    added = httpx.post(f"{server.url}/__mock/faults", json=fault, headers=session)
    assert added.status_code == 201, added.text
    id = signature_requests(project="proj_acme", status="completed")[0]["id"]
    statuses = asyncio.run(burst(f"{server.url}/v1/signatures/{id}/cancel", 30, CRAFTKIT | session))
    assert Counter(statuses) == {502: 3, 409: 27}
    assert httpx.get(f"{server.url}/__mock/faults", headers=session).json()["faults"] == []


# --- (c) refused at start-up ---------------------------------------------------------------


def run_mock(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MOCK_SERVER), "--port", "0", *args], capture_output=True, text=True, timeout=30
    )


def test_several_workers_on_the_memory_store_exit_2_naming_the_store_to_use() -> None:
    result = run_mock("--workers", "2")
    assert result.returncode == 2
    assert "--store sqlite:///" in result.stderr and "--store redis://" in result.stderr


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("missing/mock.db", "does not exist"),
        ("notes.txt", "is not a SQLite database"),
        ("", "is a directory"),
    ],
    ids=["missing-directory", "not-sqlite", "a-directory"],
)
def test_an_unusable_sqlite_file_exits_2_naming_it(tmp_path: Path, where: str, says: str) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    path = tmp_path / where if where else tmp_path
    result = run_mock("--store", f"sqlite:///{path}")
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_sqlite_url_with_a_host_exits_2_with_the_forms() -> None:
    result = run_mock("--store", "sqlite://localhost/mock.db")
    assert result.returncode == 2
    assert "sqlite:///relative/path/mock.db" in result.stderr


# --- (4) --watch with two workers --------------------------------------------------------


def test_a_fixture_edit_restarts_every_session_once_on_every_worker(tmp_path: Path) -> None:
    fixture = tmp_path / "craftkit.yaml"
    fixture.write_text(FIXTURES["craftkit"].read_text())
    server = start_server(
        "--workers", "2", "--store", store(tmp_path), "--watch", "--fixtures", str(fixture)
    )
    log = ServerLog(server)
    try:
        id = signature_requests(project="proj_acme", status="sent")[1]["id"]
        for session in ("default", "suite"):
            assert cancel(server.url, id, session).status_code == 200

        data = yaml.safe_load(fixture.read_text())
        added = {**data["signature_requests"][0], "id": str(uuid.uuid4())}
        data["signature_requests"].append(added)

        def reloaded_by() -> set[str]:
            return set(re.findall(r"\[(\d+)\] mock_server: fixtures reloaded", log.text))

        def listed(session: str) -> set[str]:
            return {r["id"] for r in state(server.url, session)["craftkit"]["signature_requests"]}

        edited = tmp_path / "craftkit.yaml.new"  # as editors save: write, then rename
        edited.write_text(yaml.safe_dump(data, sort_keys=False))
        os.replace(edited, fixture)
        poll(lambda: len(reloaded_by()) == 2, "both workers to reload", timeout=15)
        # (The workers' watchers poll in step, so both reload within a few ms: that the
        # second reload keeps the first one's namespace is tested in tests/state.)
        for _ in range(10):  # a connection each: whichever worker answers
            for session in ("default", "suite"):
                assert added["id"] in listed(session), "a worker serves the old world"
                assert craftkit_status(server.url, id, session) == "sent", "not restarted"
        for session in ("default", "suite"):
            assert cancel(server.url, id, session).status_code == 200
            assert {cancel(server.url, id, session).status_code for _ in range(10)} == {409}
        assert log.text.count("fixtures reloaded") == 2
    finally:
        server.stop()
