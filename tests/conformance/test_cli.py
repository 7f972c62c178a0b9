"""``conformance run``: bad usage, bad fixtures and unreachable targets exit 2, clearly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.pytest_plugin import settings_from
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

    def getoption(self, name: str) -> object:
        return self.options.get(name)


def test_the_pytest_plugin_reads_variables_from_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_KEY", "ck_test_qa")
    config = PytestOptions(
        api="craftkit",
        base_url="http://127.0.0.1:8000",
        fixtures=Path(CRAFTKIT),
        seed=0,
        profile="fast",
        timeout=5.0,
        rate_limit_probe=False,
    )
    settings = settings_from(config)  # type: ignore[arg-type]
    assert settings.environ["QA_KEY"] == "ck_test_qa"
    assert "ck_test_qa" not in repr(settings), "the environment holds keys: never shown"


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
