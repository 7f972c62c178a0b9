"""Connections under hostile clients, over raw sockets (issue #13): header and body
timeouts, keep-alive, the head size limit, the connection limit, and SIGTERM/SIGINT.

Each limit is set short by its flag; every wait is bounded (``WAIT``), far beyond the
limit under test and far below what a server without it would take (forever).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, signature_requests
from tests.e2e.conftest import RunningServer, ServerLog, poll, start_server

pytestmark = pytest.mark.e2e

WAIT = 15.0
"""Seconds any one wait may take: a limit under test is a second or two."""

LONG = "600"
"""A limit not under test, out of the way."""

SENT = signature_requests(project="proj_acme", status="sent")
CANCEL = f"/v1/signatures/{SENT[0]['id']}/cancel"
REVOKE = "/api/v1/jwt/revoke-signing-request"


def head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n").encode()


def get_state(*headers: str) -> bytes:
    """A whole ``GET /__mock/state`` after which the server closes the connection."""
    return head("GET", "/__mock/state", *headers, "Connection: close") + b"\r\n"


JSON = "application/json"


# What each route's requests look like, and the envelope of its refusals.
ROUTES = {
    "craftkit": (head("POST", CANCEL, f"Authorization: Bearer {ACME_TEST_KEY}"), JSON),
    "firma": (head("POST", REVOKE, f"Authorization: {FIRMA_ACME_KEYS[0]}"), JSON),
    "control": (head("POST", "/__mock/faults"), "application/problem+json"),
    "docs": (head("GET", "/docs/"), "text/plain; charset=utf-8"),
}
APIS = ["control", "craftkit", "firma"]
"""The routes that read a body."""


def envelope(route: str, body: bytes) -> str:
    """The refusal's message, read as its route's envelope says."""
    if route == "docs":
        return body.decode()
    data = json.loads(body)
    if route == "craftkit":
        return str(data["error"]["message"])
    if route == "firma":
        return str(data["message"])
    return str(data["detail"])


def connect(server: RunningServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    return sock


def port_of(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def until_closed(sock: socket.socket, timeout: float = WAIT) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            raise AssertionError(f"open after {timeout:g} s; received {data[:200]!r}") from None
        if not chunk:
            break
        data += chunk
    return data


def answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one HTTP answer."""
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return status, headers, body


def refusal(sock: socket.socket, route: str) -> tuple[int, str, str]:
    """Status, content type and message of the refusal ``sock`` receives before its close."""
    status, headers, body = answer(until_closed(sock))
    return status, headers["content-type"], envelope(route, body)


def exchange(server: RunningServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        sock.sendall(request)
        return answer(until_closed(sock))


@pytest.fixture
def stopping() -> Iterator[list[RunningServer]]:
    """Servers a test starts; any still running at its end is killed (by pid)."""
    servers: list[RunningServer] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=WAIT)
        if server.process.stdout is not None:
            server.process.stdout.close()


def started(stopping: list[RunningServer], *args: str, **kwargs: int) -> RunningServer:
    server = start_server(*args, **kwargs)  # type: ignore[arg-type]
    stopping.append(server)
    return server


# Timeouts


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    stopping: list[RunningServer],
) -> None:
    server = started(stopping, "--header-timeout", "1", "--keep-alive-timeout", LONG)
    with connect(server) as sock:
        assert until_closed(sock) == b""


def test_an_idle_connection_is_closed_after_the_keep_alive_time(
    stopping: list[RunningServer],
) -> None:
    server = started(stopping, "--keep-alive-timeout", "1", "--header-timeout", LONG)
    with connect(server) as sock:
        sock.sendall(head("GET", "/__mock/state") + b"\r\n")
        sock.settimeout(WAIT)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        status, headers, body = answer(data)
        length = int(headers["content-length"])
        rest = until_closed(sock)  # the answer's end, then nothing until the close
        assert status == 200 and len(body + rest) == length


def test_the_keep_alive_time_counts_from_the_last_answer(
    stopping: list[RunningServer],
) -> None:
    """A connection used again within the keep-alive time stays open for the whole time
    after its latest answer (one timer per connection, looking again when it fires)."""
    server = started(stopping, "--keep-alive-timeout", "1", "--header-timeout", LONG)

    def one_answer(sock: socket.socket) -> float:
        sock.sendall(head("GET", "/__mock/state") + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        _, headers, body = answer(data)
        while len(body) < int(headers["content-length"]):
            body += sock.recv(65536)
        return time.monotonic()

    with connect(server) as sock:
        sock.settimeout(WAIT)
        one_answer(sock)
        time.sleep(0.6)
        last = one_answer(sock)
        time.sleep(0.6)  # 1.2 s after the first answer, 0.6 s after the last
        readable, _, _ = select.select([sock], [], [], 0)
        assert not readable, "closed 1 s after the first answer, not the last"
        assert until_closed(sock) == b""
        assert time.monotonic() - last >= 0.9


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_head_sent_a_byte_at_a_time_gets_408_after_the_header_timeout(
    stopping: list[RunningServer], route: str
) -> None:
    server = started(stopping, "--header-timeout", "1", "--keep-alive-timeout", LONG)
    request, content_type = ROUTES[route]
    with connect(server) as sock:
        sock.sendall(request)
        sock.sendall(b"X-Slow: ")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:  # one byte at a time, until the server gives up
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                break
        refused = refusal(sock, route)
    assert refused == (408, content_type, "Request headers not received within 1 s.")


@pytest.mark.parametrize("route", APIS)
def test_an_unfinished_body_gets_408_after_the_body_timeout(
    stopping: list[RunningServer], route: str
) -> None:
    server = started(stopping, "--body-timeout", "1", "--header-timeout", LONG)
    request, content_type = ROUTES[route]
    with connect(server) as sock:
        sock.sendall(request + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        refused = refusal(sock, route)
    assert refused == (408, content_type, "Request body not received within 1 s.")
    # The mock is not stuck: the next request is answered.
    assert httpx.get(f"{server.url}/__mock/state", timeout=WAIT).status_code == 200


# Requests the HTTP parser refuses


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_head_the_parser_refuses_gets_400_in_its_routes_envelope_and_a_log_line(
    stopping: list[RunningServer], route: str
) -> None:
    server = started(stopping)
    log = ServerLog(server)
    request, content_type = ROUTES[route]
    with connect(server) as sock:
        sock.sendall(request + b"X-Odd: a\x01b\r\n\r\n")  # a control byte in a value
        refused = refusal(sock, route)
    message = "Invalid HTTP request received: invalid header value char."
    assert refused == (400, content_type, message)
    log.wait_for(r"127\.0\.0\.1:\d+ - invalid HTTP request: Invalid header value char")


def test_a_request_line_the_parser_refuses_gets_a_plain_400_naming_why(
    stopping: list[RunningServer],
) -> None:
    """No path to pick an envelope by: plain text, as for a 414."""
    server = started(stopping)
    status, headers, body = exchange(server, b"GET /v1/signatures/\xc3\xa9/cancel HTTP/1.1\r\n\r\n")
    assert (status, headers["content-type"]) == (400, "text/plain; charset=utf-8")
    assert body == b"Invalid HTTP request received: invalid char in url path."


# Half-closed connections


@pytest.mark.parametrize(
    ("request_", "statuses"),
    [
        pytest.param(
            head("POST", CANCEL, f"Authorization: Bearer {ACME_TEST_KEY}", "X-Mock-Session: half")
            + b"Content-Length: 0\r\n\r\n",
            [200],
            id="vendor-delayed-by-a-fault",
        ),
        pytest.param(
            head("GET", "/__mock/craftkit/signature-requests/nope") + b"\r\n",
            [404],
            id="control-refusal",  # Connexion answers it from a thread
        ),
        pytest.param(
            head("POST", CANCEL, "X-Mock-Session: half")
            + b"Content-Length: 0\r\n\r\n"
            + get_state("X-Mock-Session: half"),
            [401, 200],
            id="two-pipelined",
        ),
    ],
)
def test_a_client_that_half_closes_after_its_requests_gets_every_answer(
    stopping: list[RunningServer], request_: bytes, statuses: list[int]
) -> None:
    """``shutdown(SHUT_WR)`` after whole requests (``nc``, some HTTP/1.0 clients): each is
    answered, however long it takes, and the connection closed after the last."""
    server = started(stopping)
    fault = {"api": "craftkit", "operation": "cancelSignature", "delay_ms": 300}
    headers = {"X-Mock-Session": "half"}
    assert httpx.post(f"{server.url}/__mock/faults", json=fault, headers=headers).is_success
    with connect(server) as sock:
        sock.sendall(request_)
        sock.shutdown(socket.SHUT_WR)
        received = until_closed(sock)
    # (An answer's head follows the body before it with no line break between.)
    answered = [int(status) for status in re.findall(rb"HTTP/1.1 (\d{3}) ", received)]
    assert answered == statuses, received[:300]


def test_a_client_that_half_closes_mid_body_is_let_go_at_once(
    stopping: list[RunningServer],
) -> None:
    """A request left unfinished can never be answered: the connection closes, no 408."""
    server = started(stopping, "--body-timeout", LONG)
    request, _ = ROUTES["craftkit"]
    with connect(server) as sock:
        sock.sendall(request + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        sock.shutdown(socket.SHUT_WR)
        assert until_closed(sock) == b""


# Head size


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("size", [40_000, 8 << 20], ids=["over", "huge"])
def test_a_head_over_the_limit_gets_431_in_its_routes_envelope(
    stopping: list[RunningServer], route: str, size: int
) -> None:
    server = started(stopping, "--max-header-bytes", "32768")
    request, content_type = ROUTES[route]
    with connect(server) as sock:
        try:
            sock.sendall(request + b"X-Big: " + b"a" * size + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all sent: the answer is still there to read
        refused = refusal(sock, route)
    assert refused == (431, content_type, "Request header fields are larger than 32768 bytes.")


def test_a_head_within_the_limit_is_served(stopping: list[RunningServer]) -> None:
    server = started(stopping, "--max-header-bytes", "32768")
    assert exchange(server, get_state("X-Big: " + "a" * 30_000))[0] == 200


def test_a_request_target_over_the_limit_gets_a_plain_414(stopping: list[RunningServer]) -> None:
    server = started(stopping, "--max-header-bytes", "32768")
    with connect(server) as sock:
        try:
            sock.sendall(b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        refused = refusal(sock, "docs")  # plain text, as the docs' refusals
    assert refused == (
        414,
        "text/plain; charset=utf-8",
        "The request target is longer than 32768 bytes.",
    )


# Connections


def test_at_the_connection_limit_a_new_client_closes_the_oldest_idle_connection(
    stopping: list[RunningServer],
) -> None:
    args = ("--max-connections", "8", "--header-timeout", LONG, "--keep-alive-timeout", LONG)
    server = started(stopping, *args)
    idle = [connect(server) for _ in range(8)]
    try:
        time.sleep(0.2)  # all eight accepted, in order
        assert exchange(server, get_state())[0] == 200
        assert until_closed(idle[0]) == b""  # the oldest made room
        for sock in idle[1:]:  # the others are still open
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in idle:
            sock.close()


def test_when_every_connection_is_busy_a_new_one_gets_503_until_one_is_free(
    stopping: list[RunningServer],
) -> None:
    args = ("--max-connections", "8", "--body-timeout", LONG, "--header-timeout", LONG)
    server = started(stopping, *args)
    request, _ = ROUTES["control"]
    busy = [connect(server) for _ in range(8)]
    try:
        for sock in busy:  # each holds a request whose body never comes
            sock.sendall(request + b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{")
        time.sleep(0.2)
        with connect(server) as sock:
            status, headers, _ = answer(until_closed(sock))
        assert (status, headers["retry-after"]) == (503, "1")
        busy.pop().close()

        def served() -> bool:
            try:
                return exchange(server, get_state())[0] == 200
            except OSError:
                return False

        poll(served, "a request served once a connection is free")
    finally:
        for sock in busy:
            sock.close()


def test_a_normal_client_is_answered_while_hundreds_of_slow_connections_are_open(
    stopping: list[RunningServer],
) -> None:
    """Slowloris under a 256 open-file limit (the mock's connection limit is lowered to fit
    it): 300 connections each drip a header line every half second, while a normal client
    asks again and again. Every slow one is closed by the header timeout or to make room;
    every normal request is answered."""
    server = started(stopping, "--header-timeout", "3", open_files=256)
    log = ServerLog(server)
    assert log.search(r"--max-connections 512 lowered to 192")
    slow: list[socket.socket] = []
    closed: set[socket.socket] = set()
    answered = 0
    deadline = time.monotonic() + 2 * WAIT
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=WAIT)
            sock.sendall(head("POST", CANCEL))
            sock.setblocking(False)
            slow.append(sock)
        while len(closed) < len(slow) and time.monotonic() < deadline:
            for sock in slow:
                if sock in closed:
                    continue
                try:
                    if sock.recv(65536) == b"":
                        closed.add(sock)
                except BlockingIOError:
                    try:
                        sock.send(b"X-Drip: 1\r\n")
                    except OSError:
                        closed.add(sock)
                except OSError:
                    closed.add(sock)
            assert exchange(server, get_state())[0] == 200
            answered += 1
            time.sleep(0.5)
    finally:
        for sock in slow:
            sock.close()
    assert len(closed) == len(slow), f"{len(slow) - len(closed)} slow connections still open"
    assert answered >= 3


# Stopping


def stop_and_wait(server: RunningServer, signum: int = signal.SIGTERM) -> int:
    server.process.send_signal(signum)
    try:
        return server.process.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {WAIT:g} s after signal {signum}") from None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_mock_with_exit_0(stopping: list[RunningServer], signum: int) -> None:
    server = started(stopping)
    assert httpx.get(f"{server.url}/__mock/state", timeout=WAIT).status_code == 200
    assert stop_and_wait(server, signum) == 0


def test_sigterm_with_a_body_held_exits_0_after_the_grace(stopping: list[RunningServer]) -> None:
    server = started(stopping, "--shutdown-grace", "1", "--body-timeout", LONG)
    log = ServerLog(server)
    request, _ = ROUTES["craftkit"]
    with connect(server) as sock:
        sock.sendall(request + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.2)
        assert stop_and_wait(server) == 0
        assert until_closed(sock) == b""  # cut without an answer
    assert re.search(r"closing 1 connection\(s\) still busy after 1 s", log.finished())
    assert "Traceback" not in log.text


def test_sigterm_answers_requests_in_flight_within_the_grace_and_cuts_the_rest(
    stopping: list[RunningServer],
) -> None:
    server = started(stopping, "--shutdown-grace", "4")
    log = ServerLog(server)
    delays = {"quick": 1000, "stuck": 60_000}
    for session, delay in delays.items():
        fault = {"api": "craftkit", "operation": "cancelSignature", "delay_ms": delay}
        added = httpx.post(
            f"{server.url}/__mock/faults", json=fault, headers={"X-Mock-Session": session}
        )
        assert added.status_code == 201
    outcomes: dict[str, object] = {}

    def cancel(session: str) -> None:
        headers = {"Authorization": f"Bearer {ACME_TEST_KEY}", "X-Mock-Session": session}
        try:
            outcomes[session] = httpx.post(server.url + CANCEL, headers=headers, timeout=WAIT)
        except httpx.HTTPError as exc:
            outcomes[session] = exc

    threads = [threading.Thread(target=cancel, args=(name,)) for name in delays]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # both in flight
    assert stop_and_wait(server) == 0
    for thread in threads:
        thread.join(WAIT)
    quick = outcomes["quick"]
    assert isinstance(quick, httpx.Response) and quick.status_code == 200, quick
    assert isinstance(outcomes["stuck"], httpx.RemoteProtocolError), outcomes["stuck"]
    assert "Traceback" not in log.finished()


@pytest.fixture
def workers(tmp_path: Path, stopping: list[RunningServer]) -> tuple[RunningServer, ServerLog]:
    store = f"sqlite:///{tmp_path / 'mock.db'}"
    server = started(
        stopping, "--workers", "2", "--store", store, "--shutdown-grace", "1",
        "--body-timeout", LONG,
    )  # fmt: skip
    return server, ServerLog(server)


def worker_pids(log: ServerLog) -> list[int]:
    """The two workers' pids, once each is serving (its signal handlers installed: a
    worker stopped before would die of SIGTERM at once, not overstay)."""
    found = poll(lambda: len(re.findall(r"worker \d+ started \(pid \d+\)", log.text)) == 2, "2")
    assert found
    pids = [int(pid) for pid in re.findall(r"worker \d+ started \(pid (\d+)\)", log.text)]
    for pid in pids:
        log.wait_for(rf"\[{pid}\] uvicorn.error: Application startup complete")
    return pids


def test_workers_stop_within_the_grace_with_a_body_held(
    workers: tuple[RunningServer, ServerLog],
) -> None:
    server, log = workers
    request, _ = ROUTES["control"]
    held = [connect(server) for _ in range(4)]  # on either worker
    try:
        for sock in held:
            sock.sendall(request + b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{")
        time.sleep(0.3)
        assert stop_and_wait(server) == 0
    finally:
        for sock in held:
            sock.close()
    assert "all workers stopped" in log.finished()
    assert "killing it" not in log.text


def test_a_worker_that_overstays_the_grace_is_killed(
    workers: tuple[RunningServer, ServerLog],
) -> None:
    server, log = workers
    pids = worker_pids(log)
    os.kill(pids[0], signal.SIGSTOP)  # it will not stop by itself
    try:
        assert stop_and_wait(server) == 0
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert re.search(rf"worker \d+ \(pid {pids[0]}\) still running .* killing it", log.finished())
