"""The Redis store end to end: real ``mock-server`` processes over one real redis-server.

The shared cluster (one per pytest-xdist worker, over a Redis of its own): A and B,
two single-process servers on two ports (two hosts), and C, a ``--workers 2`` server.
Each of its tests works in an ``X-Mock-Session`` of its own, so the tests share the
processes and never each other's state. C's two workers are reached one by one through
kept-alive connections, each pinned to the worker that accepted it (its pid read from
C's access log), so "whichever worker answers" covers both, every time.

Tests that kill, stop or edit something start servers of their own. Nothing sleeps
where a poll can wait; every poll and every request is bounded; no duration is
asserted beyond "it answered within the client's timeout".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mock_server.state.redis import TIMEOUT as REDIS_TIMEOUT
from tests._redis import RedisServer, RedisServerFactory, free_port
from tests._redis import _executable as redis_executable
from tests.conftest import (
    ACME_TEST_KEY,
    FIRMA_ACME_KEYS,
    FIRMA_BASES,
    FIXTURES,
    jwts,
    signature_requests,
)
from tests.e2e.conftest import (
    MOCK_SERVER,
    RunningServer,
    ServerLog,
    poll,
    start_server,
)
from tests.e2e.test_conformance import conformance

pytestmark = pytest.mark.e2e

CANCEL = "/v1/signatures/{id}/cancel"
REVOKE = "/jwt/revoke-signing-request"
CRAFTKIT_AUTH = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
SESSION = "X-Mock-Session"
CLIENT_TIMEOUT = 10.0
"""Seconds any one request of these tests may take: a hang fails, it never blocks."""
KEEP_ALIVE = 3.0
"""Seconds a pinned connection may idle before it is pinned afresh (uvicorn closes at 5)."""


# --- processes and their logs


@dataclass
class Mock:
    """One ``mock-server`` process (with ``--workers N``: a supervisor and N workers)."""

    running: RunningServer
    log: ServerLog

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def pid(self) -> int:
        return self.running.process.pid

    def workers(self) -> dict[int, int]:
        """Worker number -> pid of the worker now serving as it (the latest started)."""
        return {
            int(index): int(pid)
            for index, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", self.log.text)
        }

    def served_by(self, response: httpx.Response, start: int) -> int:
        """The pid of the worker that answered ``response`` (C's access log, from line
        ``start``): found by the client's port on the connection that carried it."""
        stream = response.extensions["network_stream"]
        port = stream.get_extra_info("client_addr")[1]
        request = f'"{response.request.method} {response.request.url.raw_path.decode()} '
        match = self.log.wait_for(
            rf"\[(\d+)\] uvicorn\.access: 127\.0\.0\.1:{port} - {re.escape(request)}", start
        )
        return int(match.group(1))

    def stop(self) -> None:
        if self.running.process.poll() is None:
            self.running.stop()
        elif self.running.process.stdout is not None:
            self.running.process.stdout.close()


def launch(*args: str, access_log: bool = False) -> Mock:
    running = start_server(*args, access_log=access_log)
    return Mock(running, ServerLog(running))


def launch_all(*commands: tuple[str, ...], access_log: bool = False) -> list[Mock]:
    """Start several servers at once (each pays its imports in parallel); all or none."""
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = [pool.submit(launch, *args, access_log=access_log) for args in commands]
    started = [f.result() for f in futures if f.exception() is None]
    if len(started) < len(futures):
        for mock in started:
            mock.stop()
        for future in futures:
            future.result()  # raises the first failure
    return started


@contextlib.contextmanager
def running(*commands: tuple[str, ...], access_log: bool = False) -> Iterator[list[Mock]]:
    mocks = launch_all(*commands, access_log=access_log)
    try:
        yield mocks
    finally:
        for mock in mocks:
            mock.stop()


# --- endpoints: one server, or one worker of a server


@dataclass
class Endpoint:
    """A client of one server, or of one worker (``pid``) through a pinned connection."""

    name: str
    mock: Mock
    client: httpx.Client
    session: str
    pid: int | None = None
    _used: float = field(default_factory=time.monotonic, repr=False)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        idle = time.monotonic() - self._used > KEEP_ALIVE
        if self.pid is not None and (idle or self.client.is_closed):
            # The server closes a connection idle for 5 s: pin a fresh one first.
            self.client.close()
            self.client = pin(self.mock, {self.pid})[self.pid]
        headers = {SESSION: self.session, **kwargs.pop("headers", {})}
        start = len(self.mock.log.lines)
        response = self.client.request(method, path, headers=headers, **kwargs)
        self._used = time.monotonic()
        if self.pid is not None:
            served = self.mock.served_by(response, start)
            assert served == self.pid, f"{self.name}: pinned to {self.pid}, answered by {served}"
        return response

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def state(self) -> dict[str, Any]:
        response = self.get("/__mock/state")
        assert response.status_code == 200, f"{self.name}: {response.text}"
        state: dict[str, Any] = response.json()
        assert state["session"] == self.session
        return state

    def craftkit(self, id: str) -> dict[str, Any] | None:
        records = self.state()["craftkit"]["signature_requests"]
        return next((r for r in records if r["id"] == id), None)

    def status(self, id: str) -> str | None:
        """A Craftkit request's status in the session (``None``: no such request)."""
        record = self.craftkit(id)
        return None if record is None else str(record["status"])

    def jwt(self, jwt_id: str) -> dict[str, Any] | None:
        return next((j for j in self.state()["firma"]["jwts"] if j["jwt_id"] == jwt_id), None)

    def revoked(self, jwt_id: str) -> bool:
        jwt = self.jwt(jwt_id)
        assert jwt is not None, f"{self.name}: no JWT {jwt_id}"
        return jwt["revoked_at"] is not None

    def cancel(self, id: str) -> httpx.Response:
        return self.post(CANCEL.format(id=id), headers=CRAFTKIT_AUTH)

    def revoke(self, jwt_id: str, key: str, base: str = FIRMA_BASES[1]) -> httpx.Response:
        return self.post(base + REVOKE, headers={"Authorization": key}, json={"jwt_id": jwt_id})


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=CLIENT_TIMEOUT)


def pin(mock: Mock, pids: set[int], attempts: int = 200) -> dict[int, httpx.Client]:
    """A kept-alive connection to each worker of ``pids`` (``mock``'s access log on): on
    HTTP/1.1, every request on a connection goes to the worker that accepted it."""
    pinned: dict[int, httpx.Client] = {}
    for _ in range(attempts):
        candidate = httpx.Client(
            base_url=mock.url, timeout=CLIENT_TIMEOUT, limits=httpx.Limits(max_connections=1)
        )
        start = len(mock.log.lines)
        response = candidate.get("/docs/")  # touches no state
        assert response.status_code == 200
        pid = mock.served_by(response, start)
        if pid in pids and pid not in pinned:
            pinned[pid] = candidate
        else:
            candidate.close()
        if set(pinned) == pids:
            return pinned
    for leftover in pinned.values():
        leftover.close()
    raise AssertionError(f"{attempts} connections never reached every worker of {pids}")


def pin_workers(mock: Mock, session: str) -> list[Endpoint]:
    """An endpoint per worker of ``mock`` (C1, C2... by pid), each pinned to its worker."""
    pinned = pin(mock, set(mock.workers().values()))
    return [
        Endpoint(f"C{n}", mock, pinned[pid], session, pid)
        for n, pid in enumerate(sorted(pinned), start=1)
    ]


def new_session() -> str:
    return f"e2e-{uuid.uuid4().hex[:16]}"


async def concurrently(
    calls: Sequence[tuple[str, str, dict[str, str], dict[str, Any] | None]],
) -> list[httpx.Response]:
    """Send every ``(url, path, headers, json)`` at once, each on a connection of its own."""
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        return await asyncio.gather(
            *(
                http.post(url + path, headers=headers, json=body)
                for url, path, headers, body in calls
            )
        )


# --- the shared cluster: A, B and C (--workers 2) over one Redis


@dataclass
class Cluster:
    redis: RedisServer
    a: Mock
    b: Mock
    c: Mock

    @property
    def urls(self) -> list[str]:
        return [self.a.url, self.b.url, self.c.url]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Redis of its own (tests elsewhere FLUSHALL or stop the worker's) and three servers."""
    redis = RedisServer(redis_executable(), tmp_path_factory.mktemp("redis"))
    redis.start()
    try:
        store = ("--store", redis.url)
        with running(store, store, (*store, "--workers", "2"), access_log=True) as (a, b, c):
            poll(lambda: len(c.workers()) == 2, "C's two workers to start")
            yield Cluster(redis, a, b, c)
    finally:
        redis.stop()


@dataclass
class World:
    """The cluster as one test sees it: a session of its own, an endpoint per process."""

    cluster: Cluster
    session: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def at(self, session: str) -> list[Endpoint]:
        """The same endpoints (the same connections) in another session."""
        return [Endpoint(e.name, e.mock, e.client, session, e.pid) for e in self.endpoints]


@pytest.fixture
def world(cluster: Cluster) -> Iterator[World]:
    session = new_session()
    a = Endpoint("A", cluster.a, client(cluster.a.url), session)
    b = Endpoint("B", cluster.b, client(cluster.b.url), session)
    endpoints = [a, b, *pin_workers(cluster.c, session)]
    try:
        yield World(cluster, session, endpoints)
    finally:
        for endpoint in endpoints:
            endpoint.client.close()


# --- 1. one world


def test_a_client_alternating_between_hosts_and_workers_sees_one_world(world: World) -> None:
    a, b, c1, c2 = world.endpoints
    sent = signature_requests(project="proj_acme", status="sent")
    record, other = sent[0]["id"], sent[1]["id"]

    first = a.cancel(record)
    assert (first.status_code, first.json()["status"]) == (200, "cancelled"), first.text
    for endpoint in (b, c1, c2):
        again = endpoint.cancel(record)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict"), (
            endpoint.name,
            again.text,
        )
    for endpoint in world.endpoints:
        assert endpoint.status(record) == "cancelled", endpoint.name

    # A control-plane event on B, seen on A and on both workers of C.
    event = b.post(f"/__mock/craftkit/signature-requests/{other}/events", json={"event": "viewed"})
    assert event.status_code == 200, event.text
    for endpoint in (a, c1, c2):
        assert endpoint.status(other) == "viewed", endpoint.name

    # A request created on one worker of C is cancelled on A, then refused on the other.
    created = c2.post("/__mock/craftkit/signature-requests", json={"name": "Shared NDA"})
    assert created.status_code == 201, created.text
    new = created.json()["id"]
    assert a.cancel(new).status_code == 200
    assert c1.cancel(new).status_code == 409

    # A JWT issued on C1 is revoked on B, then refused on A.
    issued = c1.post("/__mock/firma/jwts", json={"workspace": "ws_acme"})
    assert issued.status_code == 201, issued.text
    jwt_id = issued.json()["jwt_id"]
    assert b.revoke(jwt_id, FIRMA_ACME_KEYS[0]).status_code == 200
    refused = a.revoke(jwt_id, FIRMA_ACME_KEYS[1], base=FIRMA_BASES[0])
    assert (refused.status_code, refused.json()["message"]) == (400, "JWT has already been revoked")

    # Another session is another world, on every process alike.
    for endpoint in world.at(new_session()):
        assert endpoint.status(record) == "sent", endpoint.name
        assert endpoint.craftkit(new) is None and endpoint.jwt(jwt_id) is None, endpoint.name

    # A reset on one worker resets the session for every process.
    assert c1.post("/__mock/reset").status_code == 204
    for endpoint in world.endpoints:
        assert endpoint.status(record) == "sent", endpoint.name
        assert endpoint.status(other) == "sent", endpoint.name
        assert endpoint.craftkit(new) is None and endpoint.jwt(jwt_id) is None, endpoint.name
        assert endpoint.get("/__mock/requests").json()["requests"] == [], endpoint.name
    assert b.cancel(record).status_code == 200, "in flight again after the reset"


# --- 2. exactly once over every process


def test_200_concurrent_cancels_over_every_process_give_one_200(world: World) -> None:
    urls = world.cluster.urls
    record = signature_requests(project="proj_acme", status="viewed")[0]["id"]
    headers = {SESSION: world.session, **CRAFTKIT_AUTH}
    calls = [(urls[n % 3], CANCEL.format(id=record), headers, None) for n in range(200)]
    responses = asyncio.run(concurrently(calls))
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 199}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"conflict"}
    for endpoint in world.endpoints:
        assert endpoint.status(record) == "cancelled", endpoint.name


def test_200_concurrent_revokes_over_every_process_give_one_200(world: World) -> None:
    """Two keys of one workspace, 100 writes each: under the quota of 120 per key and
    session, so no 429 muddies the count."""
    urls = world.cluster.urls
    jwt_id = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
    calls = [
        (
            urls[n % 3],
            FIRMA_BASES[n % 2] + REVOKE,
            {SESSION: world.session, "Authorization": FIRMA_ACME_KEYS[n // 100]},
            {"jwt_id": jwt_id},
        )
        for n in range(200)
    ]
    responses = asyncio.run(concurrently(calls))
    assert Counter(r.status_code for r in responses) == {200: 1, 400: 199}
    refusals = {r.json()["message"] for r in responses if r.status_code == 400}
    assert refusals == {"JWT has already been revoked"}
    for endpoint in world.endpoints:
        assert endpoint.revoked(jwt_id), endpoint.name


# --- 3. faults


def test_a_fault_set_on_one_process_answers_its_times_in_total(world: World) -> None:
    a, b, c1, c2 = world.endpoints
    fault = {"api": "craftkit", "operation": "cancelSignature", "status": 502, "times": 3}
    set_ = a.post("/__mock/faults", json=fault)
    assert set_.status_code == 201, set_.text
    for endpoint in (b, c1, c2):
        [listed] = endpoint.get("/__mock/faults").json()["faults"]
        assert (listed["id"], listed["remaining"]) == (set_.json()["id"], 3), endpoint.name

    # A completed request: the real answer is 409, so every 502 is the fault's.
    record = signature_requests(project="proj_acme", status="completed")[0]["id"]
    headers = {SESSION: world.session, **CRAFTKIT_AUTH}
    urls = world.cluster.urls
    calls = [(urls[n % 3], CANCEL.format(id=record), headers, None) for n in range(30)]
    responses = asyncio.run(concurrently(calls))
    assert Counter(r.status_code for r in responses) == {502: 3, 409: 27}
    for endpoint in world.endpoints:
        assert endpoint.get("/__mock/faults").json()["faults"] == [], endpoint.name
    journal = c2.get("/__mock/requests").json()["requests"]
    assert Counter((e["simulated"], e["response"]["status"]) for e in journal) == {
        ("fault", 502): 3,
        (None, 409): 27,
    }


# --- 4. the journal


def test_the_journal_read_from_any_process_lists_every_exchange_in_order(world: World) -> None:
    sequential = [str(uuid.uuid4()) for _ in range(12)]
    for n, id in enumerate(sequential):
        assert world.endpoints[n % 4].cancel(id).status_code == 404
    burst = [str(uuid.uuid4()) for _ in range(30)]
    headers = {SESSION: world.session, **CRAFTKIT_AUTH}
    urls = world.cluster.urls
    calls = [(urls[n % 3], CANCEL.format(id=id), headers, None) for n, id in enumerate(burst)]
    assert {r.status_code for r in asyncio.run(concurrently(calls))} == {404}

    journals = {e.name: e.get("/__mock/requests").json()["requests"] for e in world.endpoints}
    journal = journals["A"]
    for name, seen in journals.items():
        assert seen == journal, f"{name} lists another journal than A"
    ids = [entry["id"] for entry in journal]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    paths = [entry["request"]["path"] for entry in journal]
    assert paths[:12] == [CANCEL.format(id=id) for id in sequential], "in the order sent"
    assert sorted(paths[12:]) == sorted(CANCEL.format(id=id) for id in burst), "every one, once"
    assert {entry["session"] for entry in journal} == {world.session}


# --- 5. Firma's rate window


def test_firmas_rate_window_is_one_per_key_across_every_process(world: World) -> None:
    key, other_key = FIRMA_ACME_KEYS
    resets = set()
    for n in range(12):
        response = world.endpoints[n % 4].revoke(str(uuid.uuid4()), key)
        assert response.status_code == 404, response.text
        assert response.headers["x-ratelimit-limit"] == "120"
        assert response.headers["x-ratelimit-remaining"] == str(119 - n), world.endpoints[n % 4]
        resets.add(response.headers["x-ratelimit-reset"])
    assert len(resets) == 1, f"one window, whoever answers: {resets}"

    # Concurrent writes with the other key: each one counted once, atomically.
    urls = world.cluster.urls
    headers = {SESSION: world.session, "Authorization": other_key}
    calls = [
        (urls[n % 3], FIRMA_BASES[n % 2] + REVOKE, headers, {"jwt_id": str(uuid.uuid4())})
        for n in range(40)
    ]
    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in asyncio.run(concurrently(calls))]
    assert sorted(remaining) == list(range(80, 120))

    after = world.endpoints[3].revoke(str(uuid.uuid4()), key)
    assert after.headers["x-ratelimit-remaining"] == "107", "the first key's window is its own"


# --- 6. kill -9 of a mock process mid-load


def test_kill_9_of_a_process_mid_load_loses_no_acknowledged_cancel(redis_url: str) -> None:
    store = ("--store", redis_url)
    with running(store, store, (*store, "--workers", "2")) as (a, b, c):
        session = new_session()
        with client(b.url) as http:
            created = [
                http.post("/__mock/craftkit/signature-requests", headers={SESSION: session})
                for _ in range(150)
            ]
        ids = [response.json()["id"] for response in created]
        c_worker = poll(lambda: c.workers().get(2), "C's second worker")
        acked, attempts = asyncio.run(cancel_under_kills(ids, session, a, b, c, c_worker))

        assert a.running.process.wait(timeout=10) == -signal.SIGKILL
        c.log.wait_for(rf"worker 2 \(pid {c_worker}\) exited unasked")
        twice = [id for id, servers in acked.items() if len(servers) > 1]
        assert not twice, f"cancelled twice (a transition lost, then made again): {twice}"
        errors = sum(outcomes.count("error") for outcomes in attempts.values())
        assert errors, "the kills cut calls in flight"
        lost = [id for id in ids if id not in acked]
        assert all("error" in attempts[id] for id in lost), (
            "only an interrupted cancel goes unacked"
        )
        assert any(servers == ["A"] for servers in acked.values()), "A acknowledged some first"
        for url in (b.url, c.url, c.url):
            with client(url) as http:
                state = http.get("/__mock/state", headers={SESSION: session}).json()
            status = {r["id"]: r["status"] for r in state["craftkit"]["signature_requests"]}
            assert {status[id] for id in ids} == {"cancelled"}
        print(f"\n{len(acked)} acknowledged; {errors} calls cut by a kill, {len(lost)} unanswered")


async def cancel_under_kills(
    ids: list[str], session: str, a: Mock, b: Mock, c: Mock, c_worker: int
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Cancel every request over A, B and C, 16 at a time; SIGKILL A after 40 answers and
    C's second worker after 80. A request whose call failed is tried again on B.

    Returns, per request, the servers that answered 200, and every outcome seen."""
    servers = {"A": a.url, "B": b.url, "C": c.url}
    acked: dict[str, list[str]] = {}
    attempts: dict[str, list[str]] = {id: [] for id in ids}
    queue = list(enumerate(ids))
    killed: set[str] = set()
    headers = {SESSION: session, **CRAFTKIT_AUTH}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)

    async with httpx.AsyncClient(limits=limits, timeout=CLIENT_TIMEOUT) as http:

        async def one(id: str, name: str) -> bool:
            try:
                response = await http.post(servers[name] + CANCEL.format(id=id), headers=headers)
            except httpx.TransportError:
                attempts[id].append("error")
                return False
            attempts[id].append(str(response.status_code))
            assert response.status_code in (200, 409), response.text
            if response.status_code == 200:
                acked.setdefault(id, []).append(name)
            if len(acked) >= 40 and "A" not in killed:
                killed.add("A")
                os.kill(a.pid, signal.SIGKILL)
            if len(acked) >= 80 and "C" not in killed:
                killed.add("C")
                os.kill(c_worker, signal.SIGKILL)
            return True

        async def loader() -> None:
            while queue:
                n, id = queue.pop(0)
                name = "ABC"[n % 3]
                if name == "A" and "A" in killed:
                    name = "B"
                if not await one(id, name):
                    assert await one(id, "B"), "B is alive"

        await asyncio.gather(*(loader() for _ in range(16)))
    return acked, attempts


# --- 7. Redis lost while running


def test_a_lost_redis_is_a_503_in_each_envelope_and_service_comes_back(
    redis_server: RedisServer, redis_url: str
) -> None:
    with running(("--store", redis_url)) as (mock,):
        http = client(mock.url)
        session = new_session()
        endpoint = Endpoint("A", mock, http, session)
        with http:
            sent = signature_requests(project="proj_acme", status="sent")[0]["id"]
            active = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
            assert endpoint.cancel(sent).status_code == 200

            redis_server.stop()
            assert_unavailable(endpoint, sent, active)
            mock.log.wait_for(
                # The reason: the connection Redis closed, or the refused reconnection.
                rf"ERROR .*state store {re.escape(redis_url)} unreachable: .+"
                r"; answering 503 until it is back"
            )
            assert mock.log.text.count("answering 503 until it is back") == 1, "said once"

            redis_server.start()  # empty: the test server keeps nothing
            poll(lambda: endpoint.get("/__mock/state").status_code == 200, "service to resume")
            assert endpoint.cancel(sent).status_code == 200, "Redis came back empty"
            mock.log.wait_for(rf"INFO .*state store {re.escape(redis_url)} is back after")
        assert "Traceback" not in mock.log.text, mock.log.text[-3000:]
        assert mock.running.process.poll() is None


def test_a_hung_redis_is_a_503_after_its_timeout_not_a_hang(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Each request waits for one command's timeout (no retries of a timeout, which
    would triple it): the client's own timeout, a second beyond, is never reached."""
    with running(("--store", redis_url)) as (mock,):
        http = httpx.Client(base_url=mock.url, timeout=2 * REDIS_TIMEOUT + 1)
        endpoint = Endpoint("A", mock, http, new_session())
        with http:
            sent = signature_requests(project="proj_acme", status="sent")[0]["id"]
            active = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
            assert endpoint.cancel(sent).status_code == 200
            redis_server.pause()
            try:
                reasons = assert_unavailable(endpoint, sent, active)
            finally:
                redis_server.resume()
            assert reasons == {f"no answer within {REDIS_TIMEOUT:g} s"}
            poll(lambda: endpoint.get("/__mock/state").status_code == 200, "service to resume")
            assert endpoint.cancel(sent).status_code == 409, "nothing lost meanwhile"
        mock.log.wait_for(r"state store .* is back after")
        assert "Traceback" not in mock.log.text, mock.log.text[-3000:]


def assert_unavailable(endpoint: Endpoint, record: str, jwt_id: str) -> set[str]:
    """A 503 with Retry-After from each API, in its envelope; the reasons they give."""
    reasons = set()
    craftkit = endpoint.cancel(record)
    assert craftkit.status_code == 503, craftkit.text
    error = craftkit.json()["error"]
    assert error["code"] == "service_unavailable", craftkit.text
    firma = endpoint.revoke(jwt_id, FIRMA_ACME_KEYS[0])
    assert firma.status_code == 503, firma.text
    assert firma.json()["error"] == "Service Unavailable", firma.text
    control = endpoint.get("/__mock/state")
    assert control.status_code == 503, control.text
    assert control.headers["content-type"] == "application/problem+json"
    assert (control.json()["status"], control.json()["title"]) == (503, "Service Unavailable")
    for response, message in (
        (craftkit, error["message"]),
        (firma, firma.json()["message"]),
        (control, control.json()["detail"]),
    ):
        assert response.headers["retry-after"] == "2", response.headers
        match = re.fullmatch(
            r"the mock's state store is unreachable \((.+)\); retry shortly", message
        )
        assert match, message
        reasons.add(match.group(1))
    return reasons


# --- 8. start-up refusals


def run_mock(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MOCK_SERVER), "--host", "127.0.0.1", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param(
            ["--store", "redis://127.0.0.1:{port}/0"],
            {},
            [
                "--store 'redis://127.0.0.1:{port}/0': cannot reach it (",
                "; start it, or give another --store (memory, sqlite:///",
            ],
            id="nothing-listening",
        ),
        pytest.param(
            ["--store", "redis://127.0.0.1:{port}/0", "--workers", "2"],
            {},
            ["--store 'redis://127.0.0.1:{port}/0': cannot reach it (", "start it"],
            id="nothing-listening-workers",
        ),
        pytest.param(
            [],
            {"MOCK_STORE": "redis://:s3cret@127.0.0.1:{port}/3"},
            ["$MOCK_STORE 'redis://:***@127.0.0.1:{port}/3': cannot reach it (", "start it"],
            id="from-the-environment-password-hidden",
        ),
        pytest.param(
            ["--store", "redis:///0"],
            {},
            ["--store 'redis:///0': no host; write redis://HOST:PORT/DB"],
            id="no-host",
        ),
        pytest.param(
            ["--store", "redis://127.0.0.1:6379/zero"],
            {},
            ["'zero' is not a database number", "e.g. redis://127.0.0.1:6379/0"],
            id="db-not-a-number",
        ),
        pytest.param(
            ["--store", "redis://127.0.0.1:99999/0"],
            {},
            ["--store 'redis://127.0.0.1:99999/0': '99999' is not a port (1-65535); write"],
            id="port-out-of-range",
        ),
        pytest.param(  # it hung start-up: redis-py took the query for options
            ["--store", "redis://127.0.0.1:{port}/0?foo=bar"],
            {},
            ["--store 'redis://127.0.0.1:{port}/0?foo=bar': a query string is not read"],
            id="query-string",
        ),
        pytest.param(
            [],
            {"MOCK_STORE": "bogus"},
            ["$MOCK_STORE 'bogus': unknown scheme 'bogus'; give one of memory, sqlite:///"],
            id="from-the-environment-unknown-scheme",
        ),
    ],
)
def test_a_store_that_cannot_serve_stops_start_up_naming_it(
    args: list[str], env: dict[str, str], expected: list[str]
) -> None:
    port = str(free_port())  # nothing listens there
    result = run_mock(
        *(arg.replace("{port}", port) for arg in args),
        env={name: value.replace("{port}", port) for name, value in env.items()},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    for text in expected:
        assert text.replace("{port}", port) in result.stderr, result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and "listening on" not in result.stderr


def test_a_hung_redis_at_start_up_stops_it_after_the_timeout(
    redis_server_factory: RedisServerFactory,
) -> None:
    """One probe, one timeout: not three (retried timeouts), which took 19 s."""
    redis = redis_server_factory()
    redis.pause()
    result = run_mock("--store", redis.url, timeout=CLIENT_TIMEOUT + REDIS_TIMEOUT)
    assert result.returncode == 2, result.stderr
    assert (
        f"--store '{redis.url}': cannot reach it (no answer within {REDIS_TIMEOUT:g} s)"
        in result.stderr
    )


@pytest.mark.parametrize("named", ["--store", "$MOCK_STORE"])
def test_credentials_redis_refuses_stop_start_up_saying_so(
    redis_server_factory: RedisServerFactory, named: str
) -> None:
    """Not "cannot reach it; start it": Redis runs, and refuses the password."""
    redis = redis_server_factory("--requirepass", "s3cret-right")
    url = f"redis://:s3cret-wrong@127.0.0.1:{redis.port}/0"
    flag = named == "--store"
    result = run_mock(*(["--store", url] if flag else []), env={} if flag else {"MOCK_STORE": url})
    assert result.returncode == 2, result.stderr
    assert (
        f"mock-server: {named} 'redis://:***@127.0.0.1:{redis.port}/0': Redis refused the "
        "credentials (the password in the URL: invalid username-password pair or user is "
        "disabled); give those it expects: redis://:PASSWORD@HOST:PORT/DB, "
    ) in result.stderr
    assert "cannot reach" not in result.stderr and "start it" not in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


# --- 9. the conformance harness


@pytest.mark.parametrize(
    ("api", "base", "extra"),
    [
        pytest.param("craftkit", "", (), id="craftkit"),
        # The probe spends a key's whole quota over both workers: one window per key.
        pytest.param(
            "firma",
            FIRMA_BASES[0],
            ("--rate-limit-probe", "--rate-limit-wait", "0"),
            id="firma-rate-limit-probe",
        ),
    ],
)
def test_the_harness_passes_against_two_workers_over_redis(
    redis_url: str, tmp_path: Path, api: str, base: str, extra: tuple[str, ...]
) -> None:
    report_json = tmp_path / "report.json"
    with running(("--workers", "2", "--store", redis_url)) as (mock,):
        result = conformance(
            api,
            "--base-url",
            mock.url + base,
            "--fixtures",
            f"bundled:{api}",
            "--seed",
            "20261123",
            "--report-json",
            str(report_json),
            *extra,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    report = json.loads(report_json.read_text())
    assert report["violations"] == [] and report["exit_code"] == 0
    phases = {p["name"]: p for p in report["phases"]}
    assert phases["state"]["requests"] > 20, phases
    if extra:
        assert any("429 after" in note for note in report["notes"]), "the probe met the limit"
    print(f"\n{api} over 2 workers and Redis: {report['seconds']} s")


# --- 10. --watch with several workers


@pytest.fixture
def watched(redis_url: str, tmp_path: Path) -> Iterator[tuple[Mock, Path]]:
    fixture = tmp_path / "craftkit.yaml"
    fixture.write_text(FIXTURES["craftkit"].read_text())
    watch = ("--watch", "--workers", "2", "--store", redis_url, "--fixtures", str(fixture))
    with running(watch, access_log=True) as (mock,):
        poll(lambda: len(mock.workers()) == 2, "two workers to start")
        yield mock, fixture


def add_request(fixture: Path) -> str:
    """Edit ``fixture``: one more request in flight. Returns its id."""
    data = yaml.safe_load(fixture.read_text())
    added = dict(data["signature_requests"][0], id=str(uuid.uuid4()), name="Added by an edit")
    data["signature_requests"].append(added)
    fixture.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(added["id"])


def test_a_fixture_edit_restarts_every_session_once_over_every_worker(
    watched: tuple[Mock, Path],
) -> None:
    mock, fixture = watched
    record = signature_requests(project="proj_acme", status="sent")[0]["id"]
    session = new_session()
    first, second = pin_workers(mock, session)
    try:
        assert first.cancel(record).status_code == 200
        assert second.cancel(record).status_code == 409
        start = len(mock.log.lines)

        added = add_request(fixture)
        # Whichever worker reloads first: it serves the new world, the cancel undone.
        poll(lambda: first.craftkit(added) is not None, "the first worker to reload")
        assert first.cancel(record).status_code == 200, "the session restarted"
        # The other worker follows, to the same world (its reload restarts nothing more).
        poll(lambda: second.craftkit(added) is not None, "the second worker to reload")

        def reloads() -> list[int]:
            log = "".join(mock.log.lines[start:])
            return [
                int(pid) for pid in re.findall(r"\[(\d+)\] mock_server: fixtures reloaded", log)
            ]

        poll(lambda: len(reloads()) >= 2, "both workers to log their reload")
        for endpoint in (second, first):
            again = endpoint.cancel(record)
            assert again.status_code == 409, f"{endpoint.name} restarted the session again"
        assert second.cancel(added).status_code == 200 and first.cancel(added).status_code == 409
        assert Counter(reloads()) == Counter([first.pid, second.pid]), "one reload per worker"
    finally:
        first.client.close()
        second.client.close()


def test_a_worker_started_again_after_an_edit_serves_the_edited_world(
    watched: tuple[Mock, Path],
) -> None:
    """The supervisor forks a dead worker from the world it loaded at start-up; under
    --watch that world may be older than the files, and the new worker must not serve it."""
    mock, fixture = watched
    record = signature_requests(project="proj_acme", status="sent")[0]["id"]
    session = new_session()
    added = add_request(fixture)
    poll(lambda: mock.log.text.count("mock_server: fixtures reloaded") == 2, "both to reload")
    first, second = pin_workers(mock, session)
    assert first.cancel(record).status_code == 200
    first.client.close()
    second.client.close()

    [(index, dead)] = [(n, pid) for n, pid in mock.workers().items() if pid == second.pid]
    os.kill(dead, signal.SIGKILL)
    mock.log.wait_for(rf"worker {index} \(pid {dead}\) exited unasked")
    respawned_pid = poll(
        lambda: mock.workers()[index] != dead and mock.workers()[index],
        "the worker to be started again",
    )
    workers = {w.pid: w for w in pin_workers(mock, session)}
    try:
        respawned, survivor = workers[respawned_pid], workers[first.pid]
        assert respawned.craftkit(added) is not None, "the respawned worker serves the old world"
        assert respawned.cancel(record).status_code == 409, "the session must not restart"
        assert survivor.craftkit(added) is not None and survivor.cancel(record).status_code == 409
    finally:
        for worker in workers.values():
            worker.client.close()
