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
    found = [v for v in conformance_report.violations if v.code == code]
    assert not found, "\n\n".join(render_violation(v) for v in found)
