"""``mock-server``'s flags refused at start-up (exit 2, no traceback), each naming the value
and the fix; parsed in-process (nothing listens). What needs a real server: tests/e2e/."""

from __future__ import annotations

import logging

import pytest

from mock_server import Settings
from mock_server.cli import _listen, _store_url, _warn_if_exposed, address_log, build_parser
from mock_server.errors import StartupError


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The parser's one-line refusal of ``argv`` (exit 2)."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(list(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("host", "says"),
    [
        pytest.param(
            "",
            "argument --host: '' is empty, which would listen on every interface; give an "
            "address, e.g. 127.0.0.1 or ::1 (this machine only), 0.0.0.0 (every interface)",
            id="empty",
        ),
        pytest.param(" ", "argument --host: ' ' is empty", id="blank"),
        pytest.param(
            "999.1.1.1",
            "argument --host: '999.1.1.1' is not an IPv4 address (four numbers 0-255); "
            "give one, e.g. 127.0.0.1",
            id="ipv4-out-of-range",
        ),
        pytest.param(
            "[::1",
            "argument --host: '[::1' is not an IPv6 address in brackets; write the address, "
            "e.g. 127.0.0.1",
            id="unclosed-bracket",
        ),
        pytest.param(
            "[mock]", "'[mock]' is not an IPv6 address in brackets", id="name-in-brackets"
        ),
        pytest.param(
            "127.0.0.1:8000",
            "'127.0.0.1:8000' is not an address or host name: write it alone, with no scheme, "
            "port (that is --port) or path",
            id="with-a-port",
        ),
        pytest.param("http://localhost", "is not an address or host name", id="with-a-scheme"),
    ],
)
def test_a_host_no_interface_has_is_refused_naming_the_fix(
    capsys: pytest.CaptureFixture[str], host: str, says: str
) -> None:
    line = refused(capsys, "--host", host)
    assert line.startswith("mock-server: error: "), line
    assert says in line, line


@pytest.mark.parametrize(
    ("host", "listens_on"),
    [("[::1]", "::1"), ("::1", "::1"), ("127.0.0.1", "127.0.0.1"), ("localhost", "localhost")],
)
def test_an_ipv6_address_may_be_written_in_brackets_as_in_a_url(host: str, listens_on: str) -> None:
    assert build_parser().parse_args(["--host", host]).host == listens_on


def test_a_host_that_does_not_resolve_is_refused_naming_the_fix() -> None:
    with pytest.raises(StartupError) as refusal:
        _listen("no-such-host.invalid", 0)
    message = str(refusal.value)
    assert message.startswith("cannot listen on no-such-host.invalid:0: "), message
    assert message.endswith(
        "; give --host an address of this machine or a name that resolves to one, "
        "e.g. 127.0.0.1 or ::1 (this machine only), 0.0.0.0 (every interface)"
    ), message


@pytest.mark.parametrize(
    ("origin", "says"),
    [
        pytest.param(
            "http://*.example.com",
            "argument --cors-origin: 'http://*.example.com': wildcards are not read (an origin "
            "is matched exactly); repeat --cors-origin for each origin, e.g. --cors-origin "
            "https://a.example.com --cors-origin https://b.example.com, or give '*' for any",
            id="wildcard-subdomain",
        ),
        pytest.param("https://app.example:*", "wildcards are not read", id="wildcard-port"),
        pytest.param("ftp://app.example", "'ftp://app.example' is not an origin", id="scheme"),
        pytest.param("app.example", "'app.example' is not an origin", id="no-scheme"),
        pytest.param("http://app.example/", "is not an origin", id="a-path"),
        pytest.param("http://app.example?x", "is not an origin", id="a-query"),
        pytest.param("http://user@app.example", "is not an origin", id="userinfo"),
        pytest.param("http://app.example:99999", "is not an origin", id="port-out-of-range"),
        pytest.param("http://a b", "is not an origin", id="a-space"),
        pytest.param(
            "http://",
            "argument --cors-origin: 'http://' is not an origin: write scheme://host[:port] with "
            "no path, e.g. http://localhost:5173, or '*' for any",
            id="no-host",
        ),
    ],
)
def test_a_cors_origin_no_browser_sends_is_refused_naming_the_fix(
    capsys: pytest.CaptureFixture[str], origin: str, says: str
) -> None:
    assert says in refused(capsys, "--cors-origin", origin)


@pytest.mark.parametrize(
    ("given", "matched"),
    [
        ("http://localhost:5173", "http://localhost:5173"),
        ("*", "*"),
        ("HTTPS://App.Example", "https://app.example"),  # browsers send it lower case
        ("https://app.example:443", "https://app.example"),  # and without the default port
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_a_cors_origin_is_kept_as_browsers_send_it(given: str, matched: str) -> None:
    assert build_parser().parse_args(["--cors-origin", given]).cors_origins == [matched]


@pytest.mark.parametrize(("given", "level"), [("DEBUG", "debug"), ("Warning", "warning")])
def test_a_log_level_is_read_in_any_case(given: str, level: str) -> None:
    assert build_parser().parse_args(["--log-level", given]).log_level == level


def test_an_unknown_log_level_is_refused_naming_the_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = refused(capsys, "--log-level", "verbose")
    assert "argument --log-level: invalid choice: 'verbose'" in line
    assert "'debug', 'info', 'warning', 'error'" in line


@pytest.mark.parametrize("given", ["", " "])
def test_an_empty_store_is_refused_naming_the_forms(
    capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """It fell back to $MOCK_STORE, or memory, silently: --store '' names no store."""
    assert refused(capsys, "--store", given) == (
        f"mock-server: error: argument --store: {given!r} is empty; give one of memory, "
        "sqlite:///relative/mock.db, sqlite:////absolute/mock.db, redis://127.0.0.1:6379/0 "
        "(or no --store: $MOCK_STORE, else memory)"
    )


@pytest.mark.parametrize(
    ("argv", "environ", "store"),
    [
        pytest.param([], {}, "memory", id="default"),
        pytest.param([], {"MOCK_STORE": ""}, "memory", id="empty-variable-is-unset"),
        pytest.param([], {"MOCK_STORE": "sqlite:///m.db"}, "sqlite:///m.db", id="variable"),
        pytest.param(["--store", "memory"], {"MOCK_STORE": "sqlite:///m.db"}, "memory", id="flag"),
    ],
)
def test_the_store_is_the_flag_else_mock_store_if_not_empty_else_memory(
    argv: list[str], environ: dict[str, str], store: str
) -> None:
    assert _store_url(build_parser().parse_args(argv), environ) == store


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7"])
def test_listening_beyond_this_machine_is_said_at_any_log_level(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As where it listens is (``--log-level error`` hides the rest): what binding beyond
    loopback without a token exposes is no detail a quieter log may leave out."""
    root = logging.getLogger()
    levels = root.level, address_log.level
    root.setLevel(logging.ERROR)  # as --log-level error sets it
    address_log.setLevel(logging.INFO)  # as main() sets it
    try:
        _warn_if_exposed(Settings(host=host))
    finally:
        root.setLevel(levels[0])
        address_log.setLevel(levels[1])
    said = [r.getMessage() for r in caplog.records]
    assert any(f"!!! listening on {host}, beyond this machine" in m for m in said), said


def test_listening_on_loopback_says_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _warn_if_exposed(Settings(host="127.0.0.1"))
    assert not [r for r in caplog.records if "!!!" in r.getMessage()]
