"""``conformance run``: bad usage, bad fixtures and unreachable targets exit 2, clearly."""

from __future__ import annotations

import socket

import pytest

from conformance.cli import main
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
            ["--base-url", "http://127.0.0.1:1", "--fixtures", CRAFTKIT, "--timeout", "0"],
            "--timeout: 0.0 must be a positive number",
            id="zero-timeout",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    args: list[str], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["run", "craftkit", *args]) == 2
    assert message in caplog.text


def test_an_unreachable_target_exits_2_before_any_check(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["run", "craftkit", "--base-url", url, "--fixtures", CRAFTKIT]) == 2
    assert "cannot connect" in caplog.text and "is the target running" in caplog.text


def test_help_lists_the_checks_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for text in (
        "--base-url",
        "--rate-limit-probe",
        "exit codes: 0 no violation, 1 violations found, 2",
    ):
        assert text in out


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
