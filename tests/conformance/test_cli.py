"""``conformance run``: bad usage, bad fixtures and unreachable targets exit 2, clearly."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from starlette.types import Receive, Scope, Send

from conformance.cli import main
from conformance.client import Budget
from conformance.pytest_plugin import settings_from
from conformance.report import render_console
from conformance.runner import Report, _validator
from conformance.settings import Settings
from tests.conformance._suite import run_suite
from tests.conformance.servers import serve
from tests.conftest import ROOT

CRAFTKIT = str(ROOT / "fixtures/craftkit.yaml")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed on exit: nothing listens there


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--base-url", "127.0.0.1:8000", "--fixtures", CRAFTKIT],
            "is not an http(s) URL",
            id="no-scheme",
        ),
        *(
            pytest.param(["--base-url", url, "--fixtures", CRAFTKIT], message, id=name)
            for name, url, message in [
                (
                    "unclosed-ipv6",
                    "http://[::1",
                    "--base-url: 'http://[::1' is not a valid URL (Invalid IPv6 URL); an IPv6 "
                    "address goes in brackets, e.g. http://[::1]:8000",
                ),
                (
                    "empty-label",
                    "http://a..b:8000",
                    "--base-url: 'http://a..b:8000': the host name 'a..b' has an empty label (two "
                    "dots in a row, or a dot first); give the target's host name or address, e.g. "
                    "http://127.0.0.1:8000",
                ),
                (
                    "label-over-63",
                    f"http://{'a' * 64}.example",
                    f"the host name '{'a' * 64}.example' has a label of 64 characters "
                    f"({'a' * 20}...), over DNS's 63",
                ),
                (
                    "host-over-253",
                    f"http://{'.'.join(['a' * 60] * 5)}",
                    "characters, over the 253 a host name may have",
                ),
                ("no-host", "http://:8000", "--base-url: 'http://:8000' has no host; e.g. http"),
                *(
                    (
                        f"port-{port}",
                        f"http://127.0.0.1:{port}/v1",
                        f"--base-url: 'http://127.0.0.1:{port}/v1' has the port '{port}'; a port "
                        "is a number from 1 to 65535, e.g. http://127.0.0.1:8000",
                    )
                    for port in ["99999", "abc", "0", "+80"]
                ),
                (
                    "after-ipv6",
                    "http://[::1]8000",
                    "--base-url: 'http://[::1]8000' has '8000' after its IPv6 address; e.g. "
                    "http://[::1]:8000",
                ),
            ]
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", "missing.yaml"],
            "missing.yaml: cannot read",
            id="no-fixture",
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT, "--spec", "nope.yaml"],
            "--spec: nope.yaml is not a file",
            id="no-spec",
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", str(ROOT / "fixtures/firma.yaml")],
            "describes 'firma'",
            id="wrong-api-fixture",
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", "bundled:craftkits"],
            "--fixtures: bundled:craftkits names no bundled fixture; the bundled ones are "
            "bundled:craftkit, bundled:firma",
            id="unknown-bundled-fixture",
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", "bundled:firma"],
            "describes 'firma'",
            id="wrong-api-bundled-fixture",
        ),
        pytest.param(
            ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT, "--timeout", "0"],
            "--timeout: 0.0 must be a positive number",
            id="zero-timeout",
        ),
        *(
            pytest.param(
                ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT, f"--{flag}={value}"],
                f"--{flag}: {value} is not {message}",
                id=f"{value}-{flag}",
            )
            for flag, value, message in [
                ("timeout", "nan", "a finite number of seconds; give one, e.g. --timeout 10"),
                ("timeout", "inf", "a finite number of seconds; give one, e.g. --timeout 10"),
                ("max-time", "nan", "a number of seconds; give one, e.g. --max-time 600, or inf"),
                ("rate-limit-wait", "nan", "a finite number of seconds; give one, e.g. --rate"),
                ("rate-limit-wait", "inf", "a finite number of seconds; give one, e.g. --rate"),
            ]
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    args: list[str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["run", "craftkit", *args]) == 2
    assert message in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]:8000/api/v1",
        "http://user@[::1]:8000",
        "http://127.0.0.1:",  # an empty port is the scheme's
        "https://staging.example.com./v1",  # a host name may end with its root's dot
        f"http://{'a' * 63}.example:65535",
    ],
)
def test_a_base_url_requests_can_be_sent_to_is_accepted(url: str) -> None:
    assert Settings(api="craftkit", base_url=url, fixtures=Path(CRAFTKIT)).base_url == url


@pytest.mark.parametrize("fixtures", [CRAFTKIT, "bundled:craftkit"])
def test_an_unreachable_target_exits_2_before_any_check(
    caplog: pytest.LogCaptureFixture, fixtures: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["run", "craftkit", "--base-url", url, "--fixtures", fixtures]) == 2
    assert "cannot connect" in caplog.text and "is the target running" in caplog.text


@contextmanager
def listening(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback port that accepts TCP connections and treats each with ``answer`` (in a
    thread of its own); yields its http:// URL. Connections still open are closed after."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop, held = threading.Event(), []

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connection.settimeout(5)
            held.append(connection)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()
        for connection in held:
            connection.close()


def ssh_banner(connection: socket.socket) -> None:
    """What sshd does with an HTTP client: its banner, then a refusal of what it read."""
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    connection.recv(65536)
    connection.sendall(b"Invalid SSH identification string.\r\n")
    connection.close()


# What the harness sees of a closed connection depends on who was first: the server's
# close (no response) or the client's request (a reset, or a broken pipe).
CLOSED = ("RemoteProtocolError: Server disconnected", "ReadError: [Errno", "WriteError: [Errno")


@pytest.mark.loopback
@pytest.mark.parametrize(
    ("answer", "seen"),
    [
        pytest.param(socket.socket.close, CLOSED, id="closes-at-once"),
        pytest.param(ssh_banner, CLOSED, id="ssh-banner"),
        pytest.param(lambda connection: None, ("no answer within 0.5 s",), id="silent"),
    ],
)
def test_a_port_that_does_not_speak_http_exits_2_naming_it(
    answer: Callable[[socket.socket], None],
    seen: tuple[str, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Something listens there but never answers HTTP: nothing was checked (exit 2), as
    with a refused connection, not an internal error (exit 3)."""
    with listening(answer) as url:
        args = ["run", "craftkit", "--base-url", url, "--fixtures", CRAFTKIT, "--timeout", "0.5"]
        assert main(args) == 2
    assert "internal error" not in caplog.text, caplog.text
    said = f"{url}: no answer the harness could read ("
    assert any(said + what in caplog.text for what in seen), caplog.text
    assert "is --base-url the target's HTTP port" in caplog.text
    assert "--timeout (0.5 s)" in caplog.text


@pytest.mark.loopback
def test_a_target_answering_only_429_from_the_start_exits_2_saying_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"retry-after", b"0"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    with serve(limited) as url:
        assert main(["run", "craftkit", "--base-url", url, "--fixtures", CRAFTKIT]) == 2
    assert "internal error" not in caplog.text, caplog.text
    assert f"{url}: it kept answering 429 after the waits it announced" in caplog.text
    assert "before any check, so nothing was checked; wait for its rate limit" in caplog.text


def test_a_bundled_fixture_is_read_from_the_harness_and_reported_as_typed() -> None:
    settings = Settings(
        api="craftkit", base_url="http://127.0.0.1:8000", fixtures=Path("bundled:craftkit")
    )
    assert settings.fixtures_path == ROOT / "fixtures/craftkit.yaml"
    console = render_console(Report(settings))
    assert "fixtures bundled:craftkit)" in console
    assert "--fixtures bundled:craftkit --seed 0" in console
    assert Report(settings).to_json()["fixtures"] == "bundled:craftkit"


def test_fixture_variables_are_read_from_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fixture = tmp_path / "staging.yaml"
    fixture.write_text(
        "api: craftkit\n"
        "projects: [{id: proj_qa, api_keys: ['${QA_KEY}']}]\n"
        "signature_requests: []\n"
    )
    args = ["run", "craftkit", "--base-url", f"http://127.0.0.1:{closed_port()}"]
    assert main([*args, "--fixtures", str(fixture)]) == 2
    assert "environment variable QA_KEY is not set" in caplog.text
    caplog.clear()
    monkeypatch.setenv("QA_KEY", "ck_test_qa")
    assert main([*args, "--fixtures", str(fixture)]) == 2
    assert "cannot connect" in caplog.text and "QA_KEY" not in caplog.text


class PytestOptions:
    """What ``settings_from`` reads of a ``pytest.Config``: its options."""

    def __init__(self, **options: object) -> None:
        self.options = {f"--conformance-{k.replace('_', '-')}": v for k, v in options.items()}
        self.stash = pytest.Stash()  # where the plugin keeps the verdict and the annotations

    def getoption(self, name: str) -> object:
        return self.options.get(name)


def plugin_settings(**options: object) -> Settings:
    """What the pytest plugin makes of these ``--conformance-*`` options (and defaults)."""
    defaults = {
        "api": "craftkit",
        "base_url": "http://127.0.0.1:8000",
        "fixtures": Path(CRAFTKIT),
        "seed": 0,
        "profile": "fast",
        "timeout": 5.0,
        "rate_limit_probe": False,
    }
    return settings_from(PytestOptions(**(defaults | options)))  # type: ignore[arg-type]


def test_the_pytest_plugin_reads_variables_from_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_KEY", "ck_test_qa")
    settings = plugin_settings()
    assert settings.environ["QA_KEY"] == "ck_test_qa"
    assert "ck_test_qa" not in repr(settings), "the environment holds keys: never shown"


def test_the_pytest_plugin_takes_bundled_fixtures() -> None:
    settings = plugin_settings(fixtures=Path("bundled:firma"))
    assert settings.fixtures_path == ROOT / "fixtures/firma.yaml"
    with pytest.raises(pytest.UsageError, match="the bundled ones are bundled:craftkit, bundled"):
        plugin_settings(fixtures=Path("bundled:x"))


def test_help_lists_the_checks_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "--base-url",
        "--rate-limit-probe",
        "bundled:NAME",
        "exit codes: 0 no violation, 1 violations found, 2",
    ):
        assert text in out


def test_max_time_inf_means_no_limit_and_help_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[Settings] = []

    def run(settings: Settings) -> Report:
        ran.append(settings)
        return Report(settings)

    monkeypatch.setattr("conformance.runner.run", run)
    args = ["--base-url", "http://127.0.0.1:8000", "--fixtures", CRAFTKIT, "--max-time", "inf"]
    assert main(["run", "craftkit", *args]) == 0
    [settings] = ran
    assert settings.max_time == float("inf")
    assert settings.rerun().endswith("--max-time inf")
    # What the run's budget makes of it (tests/conformance/test_bounds.py: no wait refused).
    budget = Budget(settings.max_time)
    budget.check()
    assert budget.left() == float("inf") and not budget.spent
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "inf: no limit" in " ".join(capsys.readouterr().out.split())


def test_the_pytest_plugin_refuses_a_timeout_that_is_not_finite() -> None:
    with pytest.raises(pytest.UsageError, match="--timeout: nan is not a finite number"):
        plugin_settings(timeout=float("nan"))


@pytest.mark.parametrize("max_time", [0.0, -5.0])
def test_the_pytest_plugin_refuses_a_max_time_that_is_no_budget(max_time: float) -> None:
    """As `conformance run --max-time 0` is (0 was taken for the default, 600 s)."""
    with pytest.raises(pytest.UsageError, match="--max-time: .* must be a positive number"):
        plugin_settings(max_time=max_time)


def test_help_gives_the_profile_default_and_the_log_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "budget: fast, default or thorough (default: default)" in out
    assert (
        "how much the harness logs on stderr: debug, info, warning or error (any case; "
        "default: info)" in out
    )


@pytest.mark.parametrize(
    ("level", "shown"), [("debug", True), ("Warning", False), ("ERROR", False)]
)
def test_log_level_takes_any_case_and_is_applied(level: str, shown: bool) -> None:
    """In a process of its own: under pytest the root logger has pytest's handlers, and
    the CLI's ``logging.basicConfig`` would leave the level as it found it."""
    args = ["--base-url", f"http://127.0.0.1:{closed_port()}", "--fixtures", CRAFTKIT]
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from conformance.cli import main; sys.exit(main())"]
        + ["run", "craftkit", *args, "--log-level", level],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert " ERROR " in done.stderr and "cannot connect" in done.stderr
    # The connection's attempt is logged at DEBUG (httpcore), only with --log-level debug.
    assert (" DEBUG " in done.stderr) is shown, done.stderr
    assert " INFO " not in done.stderr or level == "debug", done.stderr


def test_a_working_directory_gone_is_said_not_a_traceback(tmp_path: Path) -> None:
    """Hypothesis reads the working directory as it is imported: from one removed (a
    build directory cleaned under a shell), that was a FileNotFoundError traceback."""
    gone = tmp_path / "gone"
    gone.mkdir()
    run = [sys.executable, "-c", "import sys; from conformance.cli import main; sys.exit(main())"]
    args = ["run", "craftkit", "--base-url", "http://127.0.0.1:9", "--fixtures", CRAFTKIT]
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    done = subprocess.run(
        ["sh", "-c", script, "sh", str(gone), *run, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "conformance: the working directory no longer exists; cd to one that does" in (
        done.stderr
    )


def test_an_unknown_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "craftkit", "--base-url", "http://x", "--fixtures", CRAFTKIT]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--log-level", "verbose"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--log-level: invalid choice: 'verbose'" in err and "debug" in err


SPECS = {
    "craftkit": (
        ROOT / "specs/craftkit.openapi.yaml",
        "Craftkit's cancel, POST /v1/signatures/{id}/cancel",
    ),
    "firma": (
        ROOT / "specs/firma.openapi.yaml",
        "Firma's revoke, POST /jwt/revoke-signing-request",
    ),
}


@pytest.mark.parametrize(("api", "other"), [("craftkit", "firma"), ("firma", "craftkit")])
def test_the_other_apis_spec_exits_2_before_the_run(
    api: str, other: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec, operation = SPECS[other][0], SPECS[api][1]
    fixtures = str(ROOT / f"fixtures/{api}.yaml")
    args = ["--base-url", "http://127.0.0.1:1", "--fixtures", fixtures, "--spec", str(spec)]
    assert main(["run", api, *args]) == 2
    assert (
        f"--spec: {spec}: not the {api} document: it lacks {operation} (it is the {other} "
        f"document); pass the {api} OpenAPI document, or leave --spec out for the bundled one"
    ) in caplog.text
    assert "cannot connect" not in caplog.text, "refused before anything was sent"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "openapi: 3.1.0\npaths: [\n",
            "not parseable as YAML or JSON: line 3, column 1: did not find expected node content",
            id="invalid-yaml",
        ),
        pytest.param(
            "api: craftkit\nprojects: []\n",
            "not an OpenAPI 3 document: it has no 'openapi: 3.x' at the top",
            id="yaml-not-openapi",
        ),
        pytest.param("", "not an OpenAPI 3 document: the file is empty", id="empty"),
        pytest.param(
            "swagger: '2.0'\npaths: {}\n",
            "not an OpenAPI 3 document: it has no 'openapi: 3.x' at the top (it is Swagger",
            id="swagger-2",
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n\xff", "not UTF-8 text", id="binary"),
        pytest.param(
            "openapi: 3.1.0\npaths:\n  /v1/signatures/{id}/cancel:\n    post: {}\n",
            'not a valid OpenAPI document: "info" is a required property',
            id="openapi-invalid",
        ),
    ],
)
def test_a_spec_that_is_not_openapi_exits_2_naming_it(
    tmp_path: Path, content: str | bytes, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = tmp_path / "spec.yaml"
    if isinstance(content, bytes):
        spec.write_bytes(content)
    else:
        spec.write_text(content)
    args = ["--base-url", f"http://127.0.0.1:{closed_port()}", "--fixtures", CRAFTKIT]
    assert main(["run", "craftkit", *args, "--spec", str(spec)]) == 2
    assert f"--spec: {spec}: {message}" in caplog.text
    assert "pass the craftkit OpenAPI document, or leave --spec out" in caplog.text
    assert "internal error" not in caplog.text and "cannot connect" not in caplog.text


def test_a_spec_in_json_with_its_own_parameter_names_is_taken(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "specs/craftkit.openapi.yaml").read_text())
    document["paths"]["/v1/signatures/{signature_id}/cancel"] = document["paths"].pop(
        "/v1/signatures/{id}/cancel"
    )
    document["components"]["parameters"]["SignatureId"]["name"] = "signature_id"
    spec = tmp_path / "craftkit.json"
    spec.write_text(json.dumps(document))
    settings = Settings(
        api="craftkit", base_url="http://127.0.0.1:8000", fixtures=Path(CRAFTKIT), spec=spec
    )
    assert settings.spec_path == spec
    # openapi-core reads it too, and checks answers at its path with its parameter's name.
    validator = _validator(settings)
    url = "http://127.0.0.1:8000/v1/signatures/b50e3956-c1dc-5ef7-b899-e9d0d63cb704/cancel"
    request = httpx.Request("POST", url)
    error = {"error": {"code": "conflict", "message": "Signature request is already completed."}}
    assert validator.errors(httpx.Response(409, json=error, request=request)) == []
    assert validator.errors(httpx.Response(409, json={"error": 1}, request=request)) != []


def test_the_spec_operations_are_the_apis() -> None:
    from conformance.apis import APIS
    from conformance.settings import OPERATIONS

    assert {api: f"{method.upper()} {path}" for api, (method, path, _) in OPERATIONS.items()} == {
        name: api.operation for name, api in APIS.items()
    }


@pytest.mark.parametrize("flag", ["--junit-xml", "--report-json", "--sarif", "--html"])
@pytest.mark.parametrize(
    ("where", "message"),
    [
        pytest.param(
            "missing/report",
            "{path}: the directory {parent} does not exist; create it (mkdir -p {parent}) or "
            "write the report elsewhere",
            id="no-directory",
        ),
        pytest.param(
            ".",
            "{path}: is a directory; give a file name, e.g. {path}/report.",
            id="a-directory",
        ),
        pytest.param(
            "file.txt/report",
            "{path}: {parent} is not a directory; give a file name in a directory",
            id="parent-a-file",
        ),
        pytest.param(
            "/sys/conformance-report",
            "{path}: cannot write there (",
            id="unwritable",
        ),
    ],
)
def test_a_report_that_cannot_be_written_exits_2_before_the_run(
    tmp_path: Path, flag: str, where: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file.txt").write_text("kept")
    path = tmp_path / where if not where.startswith("/") else Path(where)
    if where == ".":
        path = tmp_path
    args = ["--base-url", f"http://127.0.0.1:{closed_port()}", "--fixtures", CRAFTKIT]
    assert main(["run", "craftkit", *args, flag, str(path)]) == 2
    expected = message.format(path=path, parent=path.parent)
    assert f"{flag}: {expected}" in caplog.text
    assert "cannot connect" not in caplog.text, "refused before anything was sent"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_github_step_summary_that_cannot_be_written_exits_2_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    summary = tmp_path / "missing" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    args = ["--base-url", f"http://127.0.0.1:{closed_port()}", "--fixtures", CRAFTKIT]
    assert main(["run", "craftkit", *args]) == 2, "without --github the summary is not written"
    assert "GITHUB_STEP_SUMMARY" not in caplog.text
    caplog.clear()
    assert main(["run", "craftkit", *args, "--github"]) == 2
    assert (
        f"$GITHUB_STEP_SUMMARY: {summary}: the directory {summary.parent} does not exist"
        in caplog.text
    )
    assert "cannot connect" not in caplog.text


@pytest.mark.parametrize(
    ("first", "second", "example"),
    [
        pytest.param("--junit-xml", "--html", "report.html", id="two-flags"),
        pytest.param("--report-json", "--sarif", "report.sarif", id="json-and-sarif"),
    ],
)
def test_two_reports_in_one_file_exit_2_before_the_run(
    tmp_path: Path, first: str, second: str, example: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The report written last would leave nothing of the other: refused, not overwritten."""
    report = tmp_path / "report.out"
    args = ["--base-url", f"http://127.0.0.1:{closed_port()}", "--fixtures", CRAFTKIT]
    assert (
        main(
            [
                "run",
                "craftkit",
                *args,
                first,
                str(report),
                second,
                str(tmp_path / "." / "report.out"),
            ]
        )
        == 2
    )
    again = tmp_path / "." / "report.out"
    assert (
        f"{second}: {again} is also {first}'s report; give each report a file of its own, "
        f"e.g. {again.with_name(example)}"
    ) in caplog.text
    assert "cannot connect" not in caplog.text, "refused before anything was sent"
    assert list(tmp_path.iterdir()) == []


def test_checking_report_destinations_leaves_nothing_behind_and_clobbers_nothing(
    tmp_path: Path,
) -> None:
    existing = tmp_path / "old.html"
    existing.write_text("the last run's report")
    before = existing.stat().st_mtime_ns
    Settings(
        api="craftkit",
        base_url="http://127.0.0.1:8000",
        fixtures=Path(CRAFTKIT),
        junit_xml=tmp_path / "new.xml",
        html=existing,
        github_step_summary=tmp_path / "summary.md",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.html"]
    assert existing.read_text() == "the last run's report"
    assert existing.stat().st_mtime_ns == before


def test_the_pytest_plugin_refuses_a_report_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match="--junit-xml: .* does not exist"):
        plugin_settings(junit_xml=tmp_path / "missing" / "x.xml")


def test_an_unknown_flag_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "run",
                "craftkit",
                "--base-url",
                "http://x",
                "--fixtures",
                CRAFTKIT,
                "--max-exemples",
                "3",
            ]
        )
    assert exited.value.code == 2


def test_explain_prints_a_checks_section_of_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "tenant_isolation"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tenant_isolation\n") and "**Fix**" in out
    assert "keys_authenticate" not in out, "one check's section, not the whole page"


def test_explain_lists_every_code_the_harness_can_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from conformance.checks import CHECKS
    from conformance.phases.schemathesis import schemathesis_checks

    assert main(["explain"]) == 0
    listed = set(capsys.readouterr().out.split())
    assert set(CHECKS) | set(schemathesis_checks()) <= listed


def test_explain_refuses_an_unknown_code_with_the_closest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "tenant_isolaton"]) == 2
    assert "did you mean 'tenant_isolation'?" in capsys.readouterr().err


def test_each_violation_block_says_how_to_learn_more() -> None:
    from conformance.failures import Violation
    from conformance.report import render_violation

    block = render_violation(Violation("no_cascade", "t", "d", "POST /x", "curl x"))
    assert block.splitlines()[-1] == "    Explain: conformance explain no_cascade"


def test_a_fixture_that_is_not_utf8_exits_2_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    binary = tmp_path / "fixture.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    args = ["run", "craftkit", "--base-url", "http://127.0.0.1:1", "--fixtures", str(binary)]
    assert main(args) == 2
    assert f"{binary}: not UTF-8 text" in caplog.text and "internal error" not in caplog.text


def test_a_refused_fixture_points_at_the_format(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("api: craftkit\nprojects: oops\n")
    assert (
        main(["run", "craftkit", "--base-url", "http://127.0.0.1:1", "--fixtures", str(bad)]) == 2
    )
    assert "the fixture format: docs/fixtures.md (installed: " in caplog.text


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param(
            CRAFTKIT,
            [
                "{url}: cannot connect ([Errno 111] Connection refused); is the target running, "
                "and is --base-url its API root?"
            ],
            id="unreachable-target",
        ),
        pytest.param(
            "bad.yaml",
            [
                "{fixture}: signature_requests[0].project: 'proj_x' is not a listed project "
                "(listed: proj_a)",
                "{fixture}: signature_requests[1].status: 'canceled' is not one of cancelled, "
                "completed, declined, expired, failed, sent, viewed",
            ],
            id="refused-fixture",
        ),
    ],
)
def test_the_pytest_suite_stops_once_on_a_usage_error(
    tmp_path: Path, fixture: str, expected: list[str]
) -> None:
    """Not an error per check (45 of them, each with the same message): one stop before the
    first test, each problem once, and pytest's exit code for a usage error."""
    (tmp_path / "bad.yaml").write_text(
        "api: craftkit\nprojects: [{id: proj_a, api_keys: [ck_test_a]}]\nsignature_requests:\n"
        "  - {id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_x, status: sent}\n"
        "  - {id: 1c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_a, status: canceled}\n"
    )
    url = f"http://127.0.0.1:{closed_port()}"
    done = run_suite(
        tmp_path,
        *("--conformance-api", "craftkit", "--conformance-base-url", url),
        *("--conformance-fixtures", fixture),
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:] + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert errors == ["ERROR: " + line.format(url=url, fixture=fixture) for line in expected], (
        done.stderr
    )
    assert "test_check[" not in done.stdout and "error" not in done.stdout, done.stdout
    assert "no tests ran" in done.stdout, done.stdout


# -- a report that cannot be written after the run (its place was checked before it)


def run_then(change: Callable[[], None]) -> Callable[[Settings], Report]:
    """A run that finds nothing and, meanwhile, ``change``s the world under its reports."""

    def run(settings: Settings) -> Report:
        change()
        return Report(settings)

    return run


def test_a_report_whose_directory_went_away_during_the_run_is_named_with_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.mkdir()
    kept.mkdir()
    monkeypatch.setattr("conformance.runner.run", run_then(gone.rmdir))
    junit, html = gone / "r.xml", kept / "r.html"
    args = ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT]
    assert main(["run", "craftkit", *args, "--junit-xml", str(junit), "--html", str(html)]) == 2
    assert (
        f"--junit-xml: {junit}: cannot write the report after the run (No such file or "
        "directory); the verdict and the other reports are written; free space or fix the "
        "place (or give --junit-xml another file) before the next run"
    ) in caplog.text
    assert "cannot write the report:" not in caplog.text
    assert html.read_text().startswith("<!DOCTYPE html>"), "the other report is written"
    assert capsys.readouterr().out.startswith("PASS: "), "the verdict is shown"


@pytest.mark.parametrize(
    ("writer", "flag"),
    [
        pytest.param("write_json", "--report-json", id="json"),
        pytest.param("write_step_summary", "$GITHUB_STEP_SUMMARY", id="step-summary"),
    ],
)
def test_a_full_disk_after_the_run_is_named_with_the_file_and_the_reason(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    writer: str,
    flag: str,
) -> None:
    def full(report: Report, path: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    module = "report_github" if writer == "write_step_summary" else "report"
    monkeypatch.setattr(f"conformance.{module}.{writer}", full)
    monkeypatch.setattr("conformance.runner.run", run_then(lambda: None))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    path = tmp_path / "summary.md" if flag.startswith("$") else tmp_path / "r.json"
    args = ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT, "--github"]
    args += ["--report-json", str(tmp_path / "r.json")] if flag == "--report-json" else []
    assert main(["run", "craftkit", *args]) == 2
    assert (
        f"{flag}: {path}: cannot write the report after the run (No space left on device)"
    ) in caplog.text


def test_the_pytest_plugin_names_a_report_it_could_not_write_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import pytest_plugin

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.setattr("conformance.runner.run", run_then(gone.rmdir))
    config = PytestOptions(
        api="craftkit",
        base_url="http://127.0.0.1:1",
        fixtures=Path(CRAFTKIT),
        profile="fast",
        timeout=5.0,
        sarif=gone / "r.sarif",
    )
    with pytest.raises(pytest.UsageError) as stopped:
        pytest_plugin._run_harness(config)  # type: ignore[arg-type]
    assert stopped.value.args == (
        f"--sarif: {gone / 'r.sarif'}: cannot write the report after the run (No such file or "
        "directory); the verdict and the other reports are written; free space or fix the "
        "place (or give --sarif another file) before the next run",
    )
    assert config.stash[pytest_plugin._VERDICT].startswith("conformance: PASS: ")


# -- GitHub mode: a run that stops with exit 2 is one ::error annotation too


@pytest.fixture
def github_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


BAD_FIXTURE = (
    "api: craftkit\nprojects: [{id: proj_a, api_keys: [pk_a]}]\nsignature_requests:\n"
    "  - {id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_x, status: sent}\n"
)


@pytest.mark.usefixtures("github_job")
@pytest.mark.parametrize(
    ("args", "title", "message"),
    [
        pytest.param(
            ["--base-url", "{url}", "--fixtures", CRAFTKIT],
            "conformance craftkit%3A target unreachable",
            "{url}: cannot connect ([Errno 111] Connection refused); is the target running, "
            "and is --base-url its API root?",
            id="unreachable-target",
        ),
        pytest.param(
            ["--base-url", "{url}", "--fixtures", "{bad}"],
            "conformance craftkit%3A fixture refused",
            "{bad}: projects[0].api_keys[0]: 'pk_a' must start with ck_live_ or ck_test_ "
            "(Craftkit refuses other keys); list the project's Craftkit API key%0A"
            "{bad}: signature_requests[0].project: 'proj_x' is not a listed project "
            "(listed: proj_a)",
            id="refused-fixture",
        ),
        pytest.param(
            ["--base-url", "127.0.0.1:8000", "--fixtures", CRAFTKIT],
            "conformance craftkit%3A usage error",
            "--base-url: '127.0.0.1:8000' is not an http(s) URL; e.g. http://127.0.0.1:8000",
            id="bad-setting",
        ),
    ],
)
def test_a_run_that_stops_before_it_starts_is_an_annotation_in_a_github_job(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    title: str,
    message: str,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FIXTURE)
    values = {"url": f"http://127.0.0.1:{closed_port()}", "bad": str(bad)}
    assert main(["run", "craftkit", *(a.format(**values) for a in args)]) == 2
    out = capsys.readouterr().out
    assert out == f"::error title={title}::{message.format(**values)}\n"


@pytest.mark.parametrize(
    ("argv", "github"),
    [
        pytest.param(["--github", "--max-exemples", "3"], False, id="--github"),
        pytest.param(["--max-exemples", "3"], True, id="GITHUB_ACTIONS"),
        pytest.param(["--git", "--max-exemples", "3"], False, id="--github-abbreviated"),
    ],
)
def test_a_bad_flag_is_an_annotation_in_github_mode(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    github: bool,
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    if github:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    args = ["run", "craftkit", "--base-url", "http://x", "--fixtures", CRAFTKIT, *argv]
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == (
        "::error title=conformance%3A usage error::conformance: unrecognized arguments: "
        "--max-exemples 3 (conformance run --help lists the flags)\n"
    )
    assert "unrecognized arguments: --max-exemples 3" in captured.err, "argparse's own line"


def test_outside_github_mode_a_stopped_run_prints_no_annotation(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["run", "craftkit", "--base-url", url, "--fixtures", CRAFTKIT]) == 2
    with pytest.raises(SystemExit):
        main(["run", "craftkit", "--base-url", url, "--fixtures", CRAFTKIT, "--bad"])
    assert capsys.readouterr().out == ""


@pytest.mark.usefixtures("github_job")
def test_a_report_not_written_is_an_annotation_after_the_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.setattr("conformance.runner.run", run_then(gone.rmdir))
    args = ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT]
    assert main(["run", "craftkit", *args, "--sarif", str(gone / "r.sarif")]) == 2
    annotations = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
    assert annotations[0].startswith("::notice title=conformance craftkit%3A PASS%3A ")
    assert annotations[-1] == (
        f"::error title=conformance craftkit%3A report not written::--sarif: {gone / 'r.sarif'}: "
        "cannot write the report after the run (No such file or directory); the verdict and "
        "the other reports are written; free space or fix the place (or give --sarif another "
        "file) before the next run"
    )


def test_the_pytest_suite_annotates_a_usage_error_once_in_a_github_job(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    done = run_suite(
        tmp_path,
        *("--conformance-api", "firma", "--conformance-base-url", url),
        *("--conformance-fixtures", "bundled:firma"),
        github=True,
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:] + done.stderr
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        f"::error title=conformance firma%3A target unreachable::{url}: cannot connect ([Errno "
        "111] Connection refused); is the target running, and is --base-url its API root?"
    ], done.stdout
    done = run_suite(tmp_path, "--conformance-api", "firma", github=True)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error title=conformance firma%3A usage error::conformance.suite needs "
        "--conformance-base-url, --conformance-fixtures"
    ], done.stdout
