"""The control plane's command-line side over real sockets: --watch, --admin-token (and
its file, environment variable and refusals), --allowed-host, --cors-origin, and a
fault's dropped connection (which only a real server can show)."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from mock_server.cli import _warn_if_exposed
from mock_server.settings import Settings
from tests.conftest import ACME_TEST_KEY, FIXTURES, signature_requests
from tests.e2e.conftest import MOCK_SERVER, RunningServer, ServerLog, poll, start_server

pytestmark = pytest.mark.e2e

CANCEL = "/v1/signatures/{id}/cancel"


def stopped(server: RunningServer) -> None:
    server.stop()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[RunningServer, ServerLog, Path]]:
    fixture = tmp_path / "firma.yaml"
    fixture.write_text(FIXTURES["firma"].read_text())
    server = start_server("--watch", "--fixtures", str(fixture))
    log = ServerLog(server)
    try:
        yield server, log, fixture
    finally:
        stopped(server)


def jwt_ids(server: RunningServer) -> set[str]:
    state = httpx.get(f"{server.url}/__mock/state").json()
    return {jwt["jwt_id"] for jwt in state["firma"]["jwts"]}


def test_watch_takes_a_good_edit_and_keeps_the_last_good_world_on_a_bad_one(
    watched: tuple[RunningServer, ServerLog, Path],
) -> None:
    server, log, fixture = watched
    data = yaml.safe_load(fixture.read_text())
    added = str(uuid.uuid4())
    data["jwts"].append(
        {
            "jwt_id": added,
            "workspace": "ws_acme",
            "signing_request_id": str(uuid.uuid4()),
            "revoked_at": None,
        }
    )
    fixture.write_text(yaml.safe_dump(data))
    poll(lambda: added in jwt_ids(server), "the good edit to be served")
    assert "fixtures reloaded" in log.text

    data["jwts"][0]["revoked_at"] = "yesterday"
    fixture.write_text(yaml.safe_dump(data))
    poll(lambda: "were refused" in log.text, "the bad edit to be reported")
    assert "jwts[0]" in log.text and "revoked_at" in log.text, log.text
    assert added in jwt_ids(server), "the last good world must stay live"
    revoke = httpx.post(
        f"{server.url}/api/v1/jwt/revoke-signing-request",
        headers={"Authorization": "firma_acme_0001"},
        json={"jwt_id": added},
    )
    assert revoke.status_code == 200, revoke.text
    assert server.process.poll() is None


def test_watch_keeps_every_session_on_an_edit_that_changes_no_record_and_says_so(
    watched: tuple[RunningServer, ServerLog, Path],
) -> None:
    server, log, fixture = watched
    jwt_id = yaml.safe_load(fixture.read_text())["jwts"][0]["jwt_id"]

    def revoke() -> int:
        return httpx.post(
            f"{server.url}/api/v1/jwt/revoke-signing-request",
            headers={"Authorization": "firma_acme_0001"},
            json={"jwt_id": jwt_id},
        ).status_code

    first = revoke()
    fixture.write_text(fixture.read_text() + "# a comment, nothing more\n")
    poll(lambda: "their records are as before" in log.text, "the edit to be read")
    assert "every session starts again" not in log.text, log.text
    assert (first, revoke()) == (200, 400), "the session kept its revoked JWT"


def test_watch_reads_a_big_edit_while_the_mock_goes_on_answering(tmp_path: Path) -> None:
    """A reload reads and checks the files beside the event loop, not on it: a request
    sent while a world of 30,000 JWTs is read is answered before the reload ends (its
    access-log line comes before "fixtures reloaded"). On the loop, it waited seconds."""
    fixture = tmp_path / "firma.yaml"
    fixture.write_text(FIXTURES["firma"].read_text())
    server = start_server("--watch", "--fixtures", str(fixture), access_log=True)
    try:
        watched_big_edit(server, ServerLog(server), fixture)
    finally:
        stopped(server)


def watched_big_edit(server: RunningServer, log: ServerLog, fixture: Path) -> None:
    data = yaml.safe_load(fixture.read_text())
    data["jwts"] += [
        {
            "jwt_id": str(uuid.UUID(int=n, version=4)),
            "workspace": "ws_acme",
            "signing_request_id": str(uuid.UUID(int=n + 10**6, version=4)),
            "revoked_at": None,
        }
        for n in range(1, 30_001)
    ]
    start = len(log.lines)
    fixture.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper)))
    log.wait_for("fixture change seen", start)
    assert httpx.get(f"{server.url}/__mock/sessions", timeout=60).status_code == 200
    log.wait_for("fixtures reloaded", start, timeout=120)
    answered = log.search('"GET /__mock/sessions HTTP/1.1" 200', start)
    reloaded = log.search("fixtures reloaded", start)
    assert answered is not None and reloaded is not None, "".join(log.lines[start:])[-3000:]
    tail = log.lines[start:]
    at = [
        next(i for i, line in enumerate(tail) if m.group(0) in line) for m in (answered, reloaded)
    ]
    assert at[0] < at[1], "".join(tail[-20:])
    assert len(jwt_ids(server)) == len(data["jwts"])


@pytest.fixture
def server_with(request: pytest.FixtureRequest) -> Iterator[tuple[RunningServer, ServerLog]]:
    server = start_server(*request.param)
    log = ServerLog(server)
    try:
        yield server, log
    finally:
        stopped(server)


@pytest.mark.parametrize("server_with", [()], indirect=True)
def test_drop_fault_closes_the_connection_without_an_answer(
    server_with: tuple[RunningServer, ServerLog],
) -> None:
    server, log = server_with
    record = signature_requests(project="proj_acme", status="sent")[0]
    fault = {"api": "craftkit", "operation": "cancelSignature", "drop": True, "times": 1}
    assert httpx.post(f"{server.url}/__mock/faults", json=fault).status_code == 201
    url = server.url + CANCEL.format(id=record["id"])
    headers = {"Authorization": f"Bearer {ACME_TEST_KEY}"}
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.post(url, headers=headers)
    after = httpx.post(url, headers=headers)
    assert (after.status_code, after.json()["status"]) == (200, "cancelled")
    journal = httpx.get(f"{server.url}/__mock/requests").json()["requests"]
    assert [(e["simulated"], e["response"]["status"]) for e in journal] == [
        ("fault", None),
        (None, 200),
    ]
    assert "Exception in ASGI application" not in log.text
    assert "returned without" not in log.text


TOKEN = "s3cret-admin-token-0123"


@pytest.mark.parametrize("server_with", [("--admin-token", TOKEN)], indirect=True)
def test_admin_token_flag_guards_the_control_plane(
    server_with: tuple[RunningServer, ServerLog],
) -> None:
    server, _ = server_with
    assert "requires the admin token" in server.startup_log
    assert "--admin-token is visible to every user of this machine" in server.startup_log
    assert httpx.get(f"{server.url}/__mock/state").status_code == 401
    wrong = httpx.get(f"{server.url}/__mock/state", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = httpx.get(f"{server.url}/__mock/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200


@pytest.mark.parametrize("source", ["file", "environment"])
def test_the_admin_token_from_a_file_or_the_environment_is_not_warned_about(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args: tuple[str, ...] = ()
    if source == "file":
        token_file = tmp_path / "token"
        token_file.write_text(f"  {TOKEN}  \nsecond line, ignored\n")
        args = ("--admin-token-file", str(token_file))
    else:
        monkeypatch.setenv("MOCK_ADMIN_TOKEN", TOKEN)
    server = start_server(*args)
    try:
        assert "requires the admin token" in server.startup_log
        assert "visible to every user" not in server.startup_log
        url = f"{server.url}/__mock/state"
        right = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (httpx.get(url).status_code, right.status_code) == (401, 200)
    finally:
        stopped(server)


def refused(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mock-server`` run with ``args``: refused before it listens (exit 2)."""
    environ = {k: v for k, v in os.environ.items() if k != "MOCK_ADMIN_TOKEN"} | (env or {})
    result = subprocess.run(
        [str(MOCK_SERVER), "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=environ,
    )
    assert result.returncode == 2, result.stderr
    assert "listening on" not in result.stderr
    return result


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        pytest.param(("--admin-token", "s3cret"), {}, "--admin-token:", id="flag"),
        pytest.param(("--admin-token", " " * 20), {}, "--admin-token:", id="spaces"),
        pytest.param((), {"MOCK_ADMIN_TOKEN": "x" * 15}, "$MOCK_ADMIN_TOKEN:", id="environment"),
        pytest.param(("--admin-token-file", "{short}"), {}, "--admin-token-file", id="file"),
        pytest.param(("--admin-token-file", "{empty}"), {}, "--admin-token-file", id="empty-file"),
    ],
)
def test_a_short_admin_token_is_refused_at_start_up(
    args: tuple[str, ...], env: dict[str, str], named: str, tmp_path: Path
) -> None:
    (tmp_path / "short").write_text("0123456789abcde\n" + "x" * 40)  # only the first line
    (tmp_path / "empty").write_text("")
    args = tuple(a.format(short=tmp_path / "short", empty=tmp_path / "empty") for a in args)
    result = refused(*args, env=env)
    assert named in result.stderr and "at least 16" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr, "the refusal says how to make one"


@pytest.mark.parametrize(
    ("args", "env", "named", "shown"),
    [
        pytest.param((), {"MOCK_ADMIN_TOKEN": TOKEN + "\nx"}, "$MOCK_ADMIN_TOKEN", "'\\n'",
                     id="newline-in-the-environment"),
        pytest.param(("--admin-token", TOKEN[:5] + "\x01" + TOKEN[5:]), {}, "--admin-token",
                     "'\\x01'", id="control-character-in-the-flag"),
        pytest.param(("--admin-token", TOKEN + "\x7f"), {}, "--admin-token", "'\\x7f'",
                     id="delete-in-the-flag"),
    ],
)  # fmt: skip
def test_an_admin_token_no_request_can_send_is_refused_at_start_up(
    args: tuple[str, ...], env: dict[str, str], named: str, shown: str
) -> None:
    """A token no ``Authorization`` header can carry would lock everyone out of /__mock."""
    result = refused(*args, env=env)
    assert f"{named}: character" in result.stderr, result.stderr
    assert shown in result.stderr and "control character" in result.stderr, result.stderr


def test_an_unreadable_token_file_or_two_token_flags_are_refused(tmp_path: Path) -> None:
    missing = refused("--admin-token-file", str(tmp_path / "absent"))
    assert "--admin-token-file" in missing.stderr and "No such file" in missing.stderr
    (tmp_path / "token").write_text(TOKEN)
    both = refused("--admin-token", TOKEN, "--admin-token-file", str(tmp_path / "token"))
    assert "not allowed with" in both.stderr


@pytest.mark.parametrize(
    "name", ["http://mock.internal", "mock.internal:8000", "mock.internal/docs", "a b", ""]
)
def test_an_allowed_host_that_is_not_a_name_is_refused(name: str) -> None:
    result = refused("--allowed-host", name)
    assert "--allowed-host" in result.stderr and "not a host name" in result.stderr


@pytest.mark.parametrize("server_with", [("--allowed-host", "mock.internal")], indirect=True)
def test_allowed_host_flag_adds_a_name_the_control_plane_and_docs_answer(
    server_with: tuple[RunningServer, ServerLog],
) -> None:
    server, _ = server_with
    assert "localhost, loopback addresses, mock.internal" in server.startup_log
    for path in ("/__mock/state", "/docs/"):
        named = httpx.get(server.url + path, headers={"Host": "mock.internal:8000"})
        rebound = httpx.get(server.url + path, headers={"Host": "attacker.example:8000"})
        assert (named.status_code, rebound.status_code) == (200, 403), path


@pytest.mark.parametrize("server_with", [("--cors-origin", "https://app.example")], indirect=True)
def test_cors_origin_flag_replaces_the_local_default(
    server_with: tuple[RunningServer, ServerLog],
) -> None:
    server, _ = server_with

    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            server.url + CANCEL.format(id=uuid.uuid4()),
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    allowed = preflight("https://app.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    refused = preflight("http://localhost:5173")  # the route's own answer to an OPTIONS
    assert refused.status_code == 405
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        pytest.param(Settings(host="0.0.0.0"), True, id="all-interfaces-no-token"),
        pytest.param(Settings(host="192.0.2.10"), True, id="lan-address-no-token"),
        pytest.param(Settings(host="127.0.0.1"), False, id="loopback"),
        pytest.param(Settings(host="::1"), False, id="loopback-v6"),
        pytest.param(Settings(host="0.0.0.0", admin_token=TOKEN), False, id="token-set"),
    ],
)
def test_binding_beyond_loopback_without_a_token_warns_loudly(
    settings: Settings, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mock_server"):
        _warn_if_exposed(settings)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert bool(warnings) == warned
    if warned:
        assert "--admin-token" in warnings[0].getMessage()


@pytest.mark.parametrize("server_with", [()], indirect=True)
def test_the_loopback_rule_trusts_the_peer_not_forwarded_headers(
    server_with: tuple[RunningServer, ServerLog],
) -> None:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; the mock must not, or a
    # forwarded address (either way) would decide who drives the control plane.
    server, _ = server_with
    forwarded = {"X-Forwarded-For": "10.0.0.5", "X-Forwarded-Proto": "https"}
    response = httpx.get(f"{server.url}/__mock/state", headers=forwarded)
    assert response.status_code == 200, response.text
    cancel = httpx.post(server.url + CANCEL.format(id=uuid.uuid4()), headers=forwarded)
    assert cancel.status_code == 401
    [entry] = httpx.get(f"{server.url}/__mock/requests").json()["requests"]
    assert entry["request"]["headers"]["x-forwarded-for"] == "10.0.0.5"
