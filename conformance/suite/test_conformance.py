"""One test per check; each fails with its violations, as ``conformance run`` shows them."""

from __future__ import annotations

import pytest

from conformance.checks import checks_for
from conformance.phases.schemathesis import schemathesis_checks
from conformance.report import render_violation
from conformance.runner import Report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "code" in metafunc.fixturenames:
        api = metafunc.config.getoption("--conformance-api") or "craftkit"
        probe = metafunc.config.getoption("--conformance-rate-limit-probe")
        own = checks_for(api, probe=probe)
        codes = sorted(set(own) | set(schemathesis_checks()))
        metafunc.parametrize("code", codes, ids=codes)


def test_check(conformance_report: Report, code: str) -> None:
    if not any(code in codes for codes in conformance_report.checks.values()):
        pytest.skip(f"{code}: its phase did not run (--conformance-only)")
    found = [v for v in conformance_report.violations if v.code == code]
    if found:
        # The console's blocks, without pytest's assertion rewriting or traceback.
        pytest.fail("\n\n".join(render_violation(v) for v in found), pytrace=False)
