"""``GET /__mock/events``: server-sent events read from real servers while requests arrive.

Each stream is read in a thread of its own (``Events``); every wait is bounded
(``POLL_TIMEOUT``), none is asserted on.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.control.events import MAX_STREAMS
from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, jwts, signature_requests
from tests.e2e.conftest import POLL_TIMEOUT, RunningServer, ServerLog, start_server

pytestmark = pytest.mark.e2e

SENT = next(
    r["id"] for r in signature_requests(project="proj_acme", status="sent") if "mock" not in r
)
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)[0]["jwt_id"]
AUTH = {"Authorization": f"Bearer {ACME_TEST_KEY}"}


class Events:
    """A stream's events (``(event, data)``, data parsed), read in a thread as they come."""

    def __init__(self, url: str, session: str, headers: dict[str, str] | None = None) -> None:
        self.queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self.response: httpx.Response | None = None
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(POLL_TIMEOUT, read=60.0))
        self._thread = threading.Thread(
            target=self._read, args=(f"{url}/__mock/events", session, headers or {}), daemon=True
        )
        self._thread.start()
        assert self._opened.wait(POLL_TIMEOUT), "the stream never answered"
        assert self.response is not None and self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        assert self.next("ready") == {"session": session}

    def _read(self, url: str, session: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, params={"session": session}, headers=headers) as r:
                self.response = r
                self._opened.set()
                kind, data = "message", ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif not line and data:
                        self.queue.put((kind, json.loads(data)))
                        kind, data = "message", ""
        except httpx.HTTPError:
            pass
        finally:
            self._client.close()
            self._opened.set()
            self.queue.put(None)  # the stream ended

    def next(self, kind: str) -> Any:
        """The data of the next event of ``kind`` (others before it are skipped)."""
        while True:
            item = self.queue.get(timeout=POLL_TIMEOUT)
            assert item is not None, f"the stream ended before a {kind!r} event"
            if item[0] == kind:
                return item[1]

    def following(self) -> tuple[str, Any]:
        """The next event, whatever its kind: ``(event, data)``."""
        item = self.queue.get(timeout=POLL_TIMEOUT)
        assert item is not None, "the stream ended"
        return item

    def ended(self) -> bool:
        """Whether the stream ends (waits for it, bounded)."""
        self._thread.join(POLL_TIMEOUT)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Nothing to do: the reading thread ends, and closes its client, with the stream
        (when the server stops: closing a client another thread reads from is unsafe)."""


@pytest.fixture
def session() -> str:
    return f"ev-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def events(server: RunningServer, session: str) -> Iterator[Events]:
    stream = Events(server.url, session)
    try:
        yield stream
    finally:
        stream.close()


def test_a_vendor_request_shows_as_a_change_and_a_request(
    server: RunningServer, session: str, events: Events
) -> None:
    answer = httpx.post(
        f"{server.url}/v1/signatures/{SENT}/cancel", headers={**AUTH, "X-Mock-Session": session}
    )
    assert answer.status_code == 200

    change = events.next("change")
    assert (change["api"], change["collection"], change["id"]) == (
        "craftkit",
        "signature_requests",
        SENT,
    )
    assert change["record"]["status"] == "cancelled"
    entry = events.next("request")
    assert (entry["session"], entry["request"]["path"], entry["response"]["status"]) == (
        session,
        f"/v1/signatures/{SENT}/cancel",
        200,
    )
    assert entry["reason"]["cause"] == "state"


def test_control_plane_changes_and_a_reset_show_as_changes(
    server: RunningServer, session: str, events: Events
) -> None:
    control = httpx.Client(base_url=f"{server.url}/__mock", headers={"X-Mock-Session": session})
    with control:
        created = control.post("/firma/jwts", json={})
        assert created.status_code == 201, created.text
        new = created.json()["jwt_id"]
        assert events.next("change") == {
            "api": "firma",
            "collection": "jwts",
            "id": new,
            "record": created.json(),
        }
        viewed = control.post(
            f"/craftkit/signature-requests/{SENT}/events", json={"event": "viewed"}
        )
        assert viewed.status_code == 200, viewed.text
        change = events.next("change")
        assert (change["id"], change["record"]["status"]) == (SENT, "viewed")
        # The dashboard's cancel and revoke (issue #14): the vendor's change, seen the same.
        assert control.post(f"/craftkit/signature-requests/{SENT}/cancel").status_code == 200
        change = events.next("change")
        assert (change["id"], change["record"]["status"]) == (SENT, "cancelled")
        revoked = control.post(f"/firma/jwts/{new}/revoke")
        assert revoked.status_code == 200, revoked.text
        change = events.next("change")
        assert (change["id"], change["record"]["revoked_at"]) == (new, revoked.json()["revoked_at"])

        assert control.post("/reset").status_code == 204
        reverted = {}
        for _ in range(2):
            change = events.next("change")
            reverted[change["id"]] = change["record"]
        assert reverted[new] is None, "a created JWT is gone after a reset"
        assert reverted[SENT]["status"] == "sent", "a fixture record is back as it was"


def test_only_the_sessions_own_exchanges_show(
    server: RunningServer, session: str, events: Events
) -> None:
    other = {**AUTH, "X-Mock-Session": f"{session}-other"}
    assert httpx.post(f"{server.url}/v1/signatures/{SENT}/cancel", headers=other).status_code == 200
    mine = {**AUTH, "X-Mock-Session": session}
    assert httpx.post(f"{server.url}/v1/signatures/{SENT}/cancel", headers=mine).status_code == 200

    entry = events.next("request")
    assert (entry["session"], entry["response"]["status"]) == (session, 200), "the other's first"


def test_last_event_id_sends_the_exchanges_missed(server: RunningServer, session: str) -> None:
    url, headers = f"{server.url}/v1/signatures/{SENT}/cancel", {**AUTH, "X-Mock-Session": session}
    for _ in range(3):  # a 200, then two 409s
        httpx.post(url, headers=headers)
    journal = httpx.get(f"{server.url}/__mock/requests", headers={"X-Mock-Session": session})
    ids = [entry["id"] for entry in journal.json()["requests"]]

    stream = Events(server.url, session, {"Last-Event-ID": str(ids[0])})
    try:
        assert [stream.next("request")["id"] for _ in ids[1:]] == ids[1:]
    finally:
        stream.close()


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/requests"), ("POST", "/reset")])
def test_a_journal_cleared_elsewhere_is_told_then_sent_anew(
    server: RunningServer, session: str, events: Events, method: str, path: str
) -> None:
    url, headers = f"{server.url}/v1/signatures/{SENT}/cancel", {**AUTH, "X-Mock-Session": session}
    assert httpx.post(url, headers=headers).status_code == 200
    first = events.next("request")["id"]
    control = {"X-Mock-Session": session}
    assert httpx.request(method, f"{server.url}/__mock{path}", headers=control).is_success
    assert events.next("journal") == {"cleared": True}
    again = httpx.post(url, headers=headers)  # a 409 after a clear, a 200 after a reset
    entry = events.next("request")
    assert entry["id"] != first and entry["response"]["status"] == again.status_code


def test_a_last_event_id_the_journal_lacks_gets_it_whole_after_a_cleared(
    server: RunningServer, session: str
) -> None:
    """A client resuming with another process's id (a memory store restarted: ids start
    again) drops what it holds and gets the journal whole."""
    url, headers = f"{server.url}/v1/signatures/{SENT}/cancel", {**AUTH, "X-Mock-Session": session}
    for _ in range(2):  # a 200, then a 409
        httpx.post(url, headers=headers)
    journal = httpx.get(f"{server.url}/__mock/requests", headers={"X-Mock-Session": session})
    ids = [entry["id"] for entry in journal.json()["requests"]]

    stream = Events(server.url, session, {"Last-Event-ID": str(10**12)})
    try:
        assert stream.following() == ("journal", {"cleared": True})
        assert [stream.following()[1]["id"] for _ in ids] == ids
    finally:
        stream.close()


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_a_request_to_another_process_on_the_store_shows(
    request: pytest.FixtureRequest, tmp_path: Path, session: str, store: str
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'mock.db'}"
        if store == "sqlite"
        else request.getfixturevalue("redis_url")
    )
    watched, other = start_server("--store", url), start_server("--store", url)
    try:
        stream = Events(watched.url, session)
        try:
            answer = httpx.post(
                f"{other.url}/api/v1/jwt/revoke-signing-request",
                headers={"Authorization": FIRMA_ACME_KEYS[0], "X-Mock-Session": session},
                json={"jwt_id": ACTIVE},
            )
            assert answer.status_code == 200, answer.text
            change = stream.next("change")
            assert (change["id"], change["record"]["revoked_at"]) == (
                ACTIVE,
                answer.json()["revoked_at"],
            )
            assert stream.next("request")["response"]["status"] == 200
        finally:
            stream.close()
    finally:
        watched.stop()
        other.stop()


def _open_stream(
    url: str, method: bytes = b"GET", headers: bytes = b""
) -> tuple[socket.socket, bytes]:
    """A raw stream request (``headers``: more header lines, each ending in CRLF); the
    socket and the answer's first bytes (its head)."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=POLL_TIMEOUT)
    connection.sendall(
        method + b" /__mock/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = connection.recv(4096)
        assert chunk, "closed before the head"
        head += chunk
    return connection, head


def test_a_stream_for_a_session_new_by_its_query_says_it_was_created(
    server: RunningServer, session: str
) -> None:
    first = Events(server.url, session)  # EventSource's way: the session in the query
    assert first.response is not None
    assert first.response.headers.get("x-mock-session-created") == "true"
    again = Events(server.url, session)
    assert again.response is not None
    assert "x-mock-session-created" not in again.response.headers
    state = httpx.get(f"{server.url}/__mock/state", headers={"X-Mock-Session": session})
    assert state.status_code == 200
    assert "x-mock-session-created" not in state.headers, "the stream began the session"


@pytest.mark.parametrize(
    "last_event_id",
    [b"\xb2", b"\xc2\xb2", "\u0664\u0662".encode(), b"9" * 5000, b"-3", b"1e3", b" "],
    ids=["latin-1 superscript", "utf-8 superscript", "arabic-indic", "5000 digits", "negative",
         "exponent", "blank"],
)  # fmt: skip
def test_a_last_event_id_that_is_no_journal_id_starts_the_stream_afresh(
    server: RunningServer, last_event_id: bytes
) -> None:
    connection, head = _open_stream(
        server.url, headers=b"Last-Event-ID: " + last_event_id + b"\r\n"
    )
    try:
        assert head.startswith(b"HTTP/1.1 200"), head
        body = head.split(b"\r\n\r\n", 1)[1]
        while b"event: ready" not in body:
            chunk = connection.recv(4096)
            assert chunk, "closed before the ready event"
            body += chunk
        assert b"event: journal" not in body, "nothing held, nothing to clear"
    finally:
        connection.close()


def test_a_head_of_the_stream_answers_its_head_and_holds_no_stream(server: RunningServer) -> None:
    for _ in range(MAX_STREAMS + 1):
        head = httpx.head(f"{server.url}/__mock/events", timeout=POLL_TIMEOUT)
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert head.headers["cache-control"] == "no-store"
        assert "content-length" not in head.headers, "a GET's stream has no length"
        assert head.content == b""
    connection, answer = _open_stream(server.url)  # every stream is still free
    connection.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer


def test_streams_beyond_the_limit_are_refused_with_503(server: RunningServer) -> None:
    opened = []
    try:
        for _ in range(MAX_STREAMS):
            connection, head = _open_stream(server.url)
            opened.append(connection)
            assert head.startswith(b"HTTP/1.1 200"), head
        refused = httpx.get(f"{server.url}/__mock/events")
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0

        opened.pop().close()  # one leaves: room for one more
        for _ in range(int(POLL_TIMEOUT / 0.1)):
            connection, head = _open_stream(server.url)
            if head.startswith(b"HTTP/1.1 200"):
                opened.append(connection)
                break
            connection.close()  # the server has yet to see the other one leave
        else:
            raise AssertionError("a stream closed never made room for another")
    finally:
        for connection in opened:
            connection.close()


def test_a_stream_ends_when_the_server_stops_without_holding_it() -> None:
    running = start_server("--shutdown-grace", "30")
    log = ServerLog(running)
    stream = Events(running.url, "default")
    try:
        running.process.terminate()
        assert stream.ended(), "the stream outlived the server's stop"
        assert running.process.wait(POLL_TIMEOUT) == 0
        text = log.finished()
        assert "still busy" not in text, text  # ended by itself, not closed at the grace
    finally:
        stream.close()
        if running.process.poll() is None:  # failed: it would hold on for the whole grace
            running.process.kill()
        running.stop()
