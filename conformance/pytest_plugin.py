"""Run the harness under plain pytest: one test per check, failing with its violations.

Loaded automatically (a ``pytest11`` entry point); it only acts on
``conformance.suite``::

    pytest --pyargs conformance.suite --conformance-api craftkit \\
        --conformance-base-url http://127.0.0.1:8000 --conformance-fixtures fixtures/craftkit.yaml

The harness runs once per session, before the first test that needs its report; each
check then passes or fails on its own, with the same violation blocks (and curl lines)
as ``conformance run``. What ``conformance run`` exits 2 for (a bad option, a refused
fixture, a target that is not there, a precondition not met) stops the session there,
once, as a pytest usage error: one ``ERROR:`` line per problem, exit code 4.

pytest loads this module for every run in an environment that has the package,
so it imports only pytest and the light modules: the harness (Schemathesis,
Hypothesis, openapi-core; the ``[conformance]`` extra) loads when a suite asks
for a report, and a run of someone else's tests neither pays for it nor breaks
when the extra is not installed.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance._extra import INSTALL_HINT, is_missing_extra
from conformance._github import stopped, why_stopped
from conformance.errors import FixtureError, HarnessError, PreconditionFailed, ReportNotWritten
from conformance.settings import DEFAULT_MAX_TIME, DEFAULT_RATE_LIMIT_WAIT, PROFILES, Settings
from conformance.world import API_NAMES

if TYPE_CHECKING:
    from conformance.runner import Report

__all__ = [
    "conformance_report",
    "pytest_addoption",
    "pytest_runtestloop",
    "pytest_terminal_summary",
    "require_harness",
    "settings_from",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "contract conformance of a Craftkit or Firma target")
    group.addoption("--conformance-api", choices=API_NAMES, help="the contract to check")
    group.addoption("--conformance-base-url", help="the API root (its servers entry)")
    group.addoption(
        "--conformance-fixtures",
        type=Path,
        help="what the target holds: a fixture file, or bundled:NAME (bundled:craftkit, "
        "bundled:firma)",
    )
    group.addoption("--conformance-spec", type=Path, help="OpenAPI document (default: bundled)")
    group.addoption("--conformance-seed", type=int, default=0, help="seed (default: 0)")
    group.addoption("--conformance-profile", choices=sorted(PROFILES), default="default")
    group.addoption("--conformance-timeout", type=float, default=10.0, help="per-request timeout")
    group.addoption(
        "--conformance-rate-limit-probe", action="store_true", help="spend a key's quota for a 429"
    )
    # -- reports (issue #10): every run-shaping option of `conformance run`, and its writers
    group.addoption(
        "--conformance-max-examples",
        type=int,
        default=None,
        help="Schemathesis examples per operation (default: the profile's)",
    )
    group.addoption("--conformance-only", choices=["contract", "state"], help="run one phase only")
    group.addoption("--conformance-junit-xml", type=Path, help="write the harness's JUnit report")
    group.addoption("--conformance-report-json", type=Path, help="write the report as JSON")
    group.addoption("--conformance-sarif", type=Path, help="write a SARIF 2.1.0 report")
    group.addoption("--conformance-html", type=Path, help="write a single-file HTML report")
    group.addoption(
        "--conformance-github",
        action="store_true",
        help="GitHub Actions annotations and job summary (on when GITHUB_ACTIONS=true)",
    )
    # -- bounds (issue #10), as `conformance run --max-time / --rate-limit-wait`
    group.addoption(
        "--conformance-max-time",
        type=float,
        default=DEFAULT_MAX_TIME,
        help="the whole run's budget in seconds; reaching it fails the run (inf: no limit)",
    )
    group.addoption(
        "--conformance-rate-limit-wait",
        type=float,
        default=DEFAULT_RATE_LIMIT_WAIT,
        help="seconds the probe may wait for a rate window to reset (0: never)",
    )


def settings_from(config: pytest.Config) -> Settings:
    """The run's settings from the command line; a usage error names the missing option."""
    missing = [
        f"--conformance-{name}"
        for name in ("api", "base-url", "fixtures")
        if config.getoption(f"--conformance-{name}") is None
    ]
    if missing:
        raise _stop(config, [f"conformance.suite needs {', '.join(missing)}"], "usage error")
    try:
        return Settings(
            api=config.getoption("--conformance-api"),
            base_url=config.getoption("--conformance-base-url"),
            fixtures=config.getoption("--conformance-fixtures"),
            spec=config.getoption("--conformance-spec"),
            seed=config.getoption("--conformance-seed"),
            profile=config.getoption("--conformance-profile"),
            timeout=config.getoption("--conformance-timeout"),
            rate_limit_probe=config.getoption("--conformance-rate-limit-probe"),
            max_time=_or(config.getoption("--conformance-max-time"), DEFAULT_MAX_TIME),
            rate_limit_wait=_or(
                config.getoption("--conformance-rate-limit-wait"), DEFAULT_RATE_LIMIT_WAIT
            ),
            environ=dict(os.environ),
            **_report_options(config),
        )
    except HarnessError as exc:
        raise _stop(config, [str(exc)], why_stopped(exc)) from exc


def _github(config: pytest.Config) -> bool:
    """GitHub Actions output: ``--conformance-github``, and on by itself in a GitHub job."""
    return bool(config.getoption("--conformance-github")) or (
        os.environ.get("GITHUB_ACTIONS") == "true"
    )


def _stop(
    config: pytest.Config, problems: list[str], why: str, annotations: str = ""
) -> pytest.UsageError:
    """What stops the session, once: one ``ERROR:`` line per problem and exit code 4; in
    GitHub mode also one ``::error`` (after ``annotations``, a finished run's), which the
    terminal summary prints."""
    if _github(config):
        api = config.getoption("--conformance-api")
        config.stash[_ANNOTATIONS] = annotations + stopped(api, why, "\n".join(problems))
    return pytest.UsageError(*problems)


def _report_options(config: pytest.Config) -> dict[str, Any]:
    """The run-shaping options beyond the first ones, and where the reports go."""
    only = config.getoption("--conformance-only")
    github = _github(config)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    return {
        "max_examples": config.getoption("--conformance-max-examples"),
        "phases": (only,) if only else ("contract", "state"),
        "junit_xml": config.getoption("--conformance-junit-xml"),
        "report_json": config.getoption("--conformance-report-json"),
        "sarif": config.getoption("--conformance-sarif"),
        "html": config.getoption("--conformance-html"),
        "github": github,
        "github_step_summary": Path(summary) if github and summary else None,
    }


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def require_harness() -> None:
    """Raise a usage error naming the install command if the extra is missing."""
    try:
        for module in ("conformance.phases.schemathesis", "conformance.runner"):
            import_module(module)
    except ModuleNotFoundError as exc:
        if not is_missing_extra(exc):
            raise
        raise pytest.UsageError(f"conformance.suite: {INSTALL_HINT}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Run the harness before the first test, when a test collected needs its report.

    In a test's set-up (the session fixture), a run that cannot start failed every test
    that needs it, with one error each; here it is one ``pytest.UsageError``.
    """
    config = session.config
    if config.option.collectonly or getattr(config.option, "setupplan", False):
        return  # nothing runs: neither may the harness
    if any("conformance_report" in getattr(item, "fixturenames", ()) for item in session.items):
        config.stash[_REPORT] = _run_harness(config)


@pytest.fixture(scope="session")
def conformance_report(pytestconfig: pytest.Config) -> Report:
    """The harness's report for the target named on the command line (run once)."""
    report = pytestconfig.stash.get(_REPORT, None)
    if report is None:  # asked for by name only (request.getfixturevalue): run it now
        try:
            report = pytestconfig.stash[_REPORT] = _run_harness(pytestconfig)
        except pytest.UsageError as exc:
            pytest.exit("\n".join(exc.args), returncode=pytest.ExitCode.USAGE_ERROR)
    return report


def _run_harness(config: pytest.Config) -> Report:
    """The run, its reports written; a ``pytest.UsageError`` (one line per problem) for
    what ``conformance run`` exits 2 for."""
    require_harness()
    from conformance.report import write_reports
    from conformance.runner import run

    settings = settings_from(config)
    try:
        report = run(settings)
    except FixtureError as exc:
        raise _stop(config, exc.problems, why_stopped(exc)) from exc
    except PreconditionFailed as exc:
        problem = f"precondition not met, nothing reported: {exc}"
        raise _stop(config, [problem], why_stopped(exc)) from exc
    except HarnessError as exc:
        raise _stop(config, [str(exc)], why_stopped(exc)) from exc
    config.stash[_VERDICT] = f"conformance: {report.verdict}\nrerun: {report.settings.rerun()}"
    try:
        config.stash[_ANNOTATIONS] = write_reports(report)
    except ReportNotWritten as exc:  # the others are written; stop once, as conformance run
        raise _stop(config, exc.problems, why_stopped(exc), exc.annotations) from exc
    return report


_REPORT = pytest.StashKey["Report"]()
_ANNOTATIONS = pytest.StashKey[str]()
_VERDICT = pytest.StashKey[str]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """The harness's verdict and rerun line, and its GitHub annotations, after the tests."""
    verdict = config.stash.get(_VERDICT, "")
    if verdict:
        terminalreporter.write_line(verdict)
    annotations = config.stash.get(_ANNOTATIONS, "")
    if annotations:
        terminalreporter.write(annotations)
