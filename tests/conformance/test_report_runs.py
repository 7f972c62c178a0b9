"""Reports of real runs against catalogue targets: the same seed gives the same report in
every format, preconditions stop a run with exit 2 and advice, mock-only fixture keys
are explained, and both front doors write every format."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.errors import PreconditionFailed
from conformance.report import render_console, write_reports
from conformance.runner import Report, run
from conformance.settings import Settings
from tests.conformance._suite import run_suite
from tests.conformance.servers import AppSlot
from tests.conformance.targets import FIRMA_BASE_PATHS, craftkit_app, firma_app, load_fixture
from tests.conformance.test_report import check_sarif
from tests.conftest import FIXTURES

pytestmark = pytest.mark.loopback

SEED = 20261122


def fresh(
    target: tuple[AppSlot, str], api: str, faults: frozenset[str] = frozenset(), **fixture: Any
) -> str:
    """Put a fresh target in the slot; return its base URL."""
    slot, url = target
    world = load_fixture(FIXTURES[api], environ={}) | fixture
    slot.app = (craftkit_app if api == "craftkit" else firma_app)(world, faults, None)
    return url + (FIRMA_BASE_PATHS[0] if api == "firma" else "")


def settings(base_url: str, api: str = "craftkit", **changes: Any) -> Settings:
    s = Settings(api=api, base_url=base_url, fixtures=FIXTURES[api], seed=SEED, profile="fast")
    return replace(s, **changes)


# -- same seed, same target, same report


_TIMES = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"  # timestamps in bodies
    r"|\d+\.\d+"  # durations: the only decimal numbers of a report
)


def without_times(text: str) -> str:
    return _TIMES.sub("<time>", text)


def reports(report: Report, directory: Path) -> dict[str, str]:
    directory.mkdir()
    paths = {
        "junit": directory / "junit.xml",
        "json": directory / "report.json",
        "sarif": directory / "r.sarif",
        "html": directory / "r.html",
    }
    outputs = replace(
        report.settings,
        junit_xml=paths["junit"],
        report_json=paths["json"],
        sarif=paths["sarif"],
        html=paths["html"],
    )
    write_reports(replace(report, settings=outputs))
    texts = {name: path.read_text(encoding="utf-8") for name, path in paths.items()}
    return texts | {"console": render_console(report)}


def test_the_same_seed_on_the_same_target_gives_the_same_report(
    target: tuple[AppSlot, str], tmp_path: Path
) -> None:
    faults = frozenset({"cascade", "wrong_error_code", "name_changed", "tenant_leak"})
    first = run(settings(fresh(target, "craftkit", faults)))
    second = run(settings(fresh(target, "craftkit", faults)))
    assert len(first.violations) >= 4, "the comparison is not vacuous"
    one, two = reports(first, tmp_path / "one"), reports(second, tmp_path / "two")
    for name in one:
        assert without_times(one[name]) == without_times(two[name]), name
    check_sarif(json.loads(one["sarif"]))


# -- preconditions: exit 2 and what to do, instead of violations


def test_a_second_run_on_a_spent_target_is_a_stale_fixture(target: tuple[AppSlot, str]) -> None:
    url = fresh(target, "craftkit")
    assert run(settings(url, phases=("state",))).violations == []
    with pytest.raises(PreconditionFailed) as stopped:
        run(settings(url, phases=("state",)))  # the same target, its open resources spent
    assert "fixture is stale" in stopped.value.problem
    assert "reset the target's data, or refresh the fixture" in stopped.value.advice


def test_a_stale_firma_fixture_is_caught_too(target: tuple[AppSlot, str]) -> None:
    url = fresh(target, "firma")
    run(settings(url, "firma", phases=("state",)))
    with pytest.raises(PreconditionFailed, match="answered 400 to their first revoke"):
        run(settings(url, "firma", phases=("state",)))


def test_a_base_url_without_the_api_is_a_precondition_failure(
    target: tuple[AppSlot, str], caplog: pytest.LogCaptureFixture
) -> None:
    url = fresh(target, "firma").removesuffix(FIRMA_BASE_PATHS[0])
    fixtures = str(FIXTURES["firma"])
    assert main(["run", "firma", "--base-url", url + "/v1", "--fixtures", fixtures]) == 2
    assert "nothing answers but 404" in caplog.text and "check the base path" in caplog.text
    assert f"{url}/functions/v1/signing-request-api or {url}/api/v1" in caplog.text


def test_a_second_run_through_the_cli_exits_2_with_advice(
    target: tuple[AppSlot, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    url = fresh(target, "craftkit")
    args = ["run", "craftkit", "--base-url", url, "--fixtures", str(FIXTURES["craftkit"])]
    args += ["--profile", "fast", "--only", "state"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "precondition not met" in caplog.text and "What to do: reset" in caplog.text
    out = capsys.readouterr().out
    assert out.startswith("::error title=conformance craftkit%3A precondition::"), out


@pytest.mark.parametrize("seed", [0, 1])
def test_a_long_state_phase_ends_in_a_verdict(
    target: tuple[AppSlot, str], capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """The state machine's model outlives each Hypothesis test case (a target cannot be
    reset): a draw or precondition that read it (what is open or done, which keys work)
    made the same choices meet other strategies, and Hypothesis stopped the run with
    FlakyStrategyDefinition (exit 3, and its steps on standard output). 30 runs of 10
    steps (--max-examples 300; --profile thorough has 30 of 20) did so on each seed here."""
    url = fresh(target, "craftkit")
    args = ["run", "craftkit", "--base-url", url, "--fixtures", str(FIXTURES["craftkit"])]
    args += ["--max-examples", "300", "--only", "state", "--seed", str(seed)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS: no violations"), out[:500]
    assert "spent 10 of 10 open resources the fixture lists" in out, out


def test_mock_only_fixture_keys_are_explained_where_they_drive_an_expectation(
    target: tuple[AppSlot, str],
) -> None:
    """A real target ignores ``mock.on_cancel``: its record is in flight and cancels (200)."""
    world = load_fixture(FIXTURES["craftkit"], environ={})
    real = [{k: v for k, v in r.items() if k != "mock"} for r in world["signature_requests"]]
    url = fresh(target, "craftkit", signature_requests=real)
    report = run(settings(url, phases=("state",)))
    details = [v.detail for v in report.violations if v.code == "terminal_conflict"]
    assert any(
        "Why: expected 502 because the fixture says mock.on_cancel: provider_error, which only "
        "the mock honours; remove it for a real target" in d
        for d in details
    ), details
    assert any("mock.on_cancel: upstream_locked" in d for d in details), details


# -- the front doors write every format


def test_the_cli_writes_every_format_and_annotates_a_github_job(
    target: tuple[AppSlot, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    url = fresh(target, "craftkit", frozenset({"tenant_leak"}))
    files = {flag: tmp_path / name for flag, name in (("--sarif", "r.sarif"), ("--html", "r.html"))}
    files |= {"--junit-xml": tmp_path / "j.xml", "--report-json": tmp_path / "r.json"}
    args = ["run", "craftkit", "--base-url", url, "--fixtures", str(FIXTURES["craftkit"])]
    args += ["--profile", "fast", "--only", "state", "--seed", str(SEED)]
    assert main([*args, *(str(part) for pair in files.items() for part in pair)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL: ")
    assert "\n::error title=[tenant_isolation] " in out
    assert summary.read_text().startswith("## conformance craftkit: FAIL: ")
    check_sarif(json.loads(files["--sarif"].read_text()))
    assert json.loads(files["--report-json"].read_text())["exit_code"] == 1
    assert all(path.stat().st_size > 0 for path in files.values())


def test_the_pytest_suite_takes_the_cli_options_and_fails_like_the_console(
    target: tuple[AppSlot, str], tmp_path: Path
) -> None:
    url = fresh(target, "craftkit", frozenset({"tenant_leak"}))
    sarif = tmp_path / "r.sarif"
    done = run_suite(
        tmp_path,
        "-q",
        *("--conformance-api", "craftkit", "--conformance-base-url", url),
        *("--conformance-fixtures", str(FIXTURES["craftkit"]), "--conformance-profile", "fast"),
        *("--conformance-seed", str(SEED), "--conformance-only", "state"),
        *("--conformance-max-examples", "5", "--conformance-sarif", str(sarif)),
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "[tenant_isolation] Another tenant's key reaches a resource" in out
    assert "    Expected: 404\n    Received: 200\n      body: {" in out
    assert "assert not [" not in out and "AssertionError" not in out, "no repr noise"
    assert "skipped" in out, "the contract checks did not run: skipped, not passed"
    assert "conformance: FAIL: " in out
    assert "rerun: conformance run craftkit" in out and "--max-examples 5" in out
    check_sarif(json.loads(sarif.read_text()))
