"""``conformance run`` against a fresh real mock: zero violations, reports written, exit 0.

Durations are printed (``-s``), not asserted: the machines are shared and noisy.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import MOCK_SERVER, RunningServer, start_server

pytestmark = pytest.mark.e2e

CONFORMANCE = MOCK_SERVER.with_name("conformance")


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    # Not GitHub's own job: no annotations, no summary written into a real job's file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [str(CONFORMANCE), "run", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize(
    ("api", "base", "fixtures", "extra"),
    [
        pytest.param("craftkit", "", "bundled:craftkit", [], id="craftkit-bundled"),
        pytest.param(
            "firma",
            "/functions/v1/signing-request-api",
            "fixtures/firma.yaml",
            # The mock's windows are a real minute: the probe checks all it can without
            # waiting one out (the quota's return is the catalogue's to prove).
            ["--rate-limit-probe", "--rate-limit-wait", "0"],
            id="firma-functions-probe",
        ),
        pytest.param("firma", "/api/v1", "bundled:firma", [], id="firma-api-v1-bundled"),
    ],
)
def test_the_mock_passes_every_check(
    server: RunningServer, tmp_path: Path, api: str, base: str, fixtures: str, extra: list[str]
) -> None:
    junit, report_json = tmp_path / "junit.xml", tmp_path / "report.json"
    result = conformance(
        api,
        "--base-url",
        server.url + base,
        "--fixtures",
        fixtures,
        "--seed",
        "20261122",
        "--junit-xml",
        str(junit),
        "--report-json",
        str(report_json),
        *extra,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    report = json.loads(report_json.read_text())
    assert report["violations"] == [] and report["exit_code"] == 0
    phases = {p["name"]: p for p in report["phases"]}
    assert phases["contract"]["requests"] > 20 and phases["state"]["requests"] > 20, phases
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests", "0")) > 20
    assert "no violations" in result.stdout and "seed 20261122" in result.stdout
    assert f"--fixtures {fixtures} --seed 20261122" in result.stdout, "rerun as typed"
    assert report["fixtures"] == fixtures
    if extra:
        assert any("429 after" in note for note in report["notes"]), "the probe met the limit"
        assert any("--rate-limit-wait 0" in note for note in report["notes"]), report["notes"]
    print(f"\n{api}{base}: {report['seconds']} s, phases {phases}")


def test_a_second_run_on_a_used_target_says_why_it_fails(
    server: RunningServer, tmp_path: Path
) -> None:
    """The harness spends open resources; a rerun without a reset is a precondition
    failure (exit 2, no violation reported), saying what to do."""
    args = [
        "craftkit",
        "--base-url",
        server.url,
        "--fixtures",
        "fixtures/craftkit.yaml",
        "--profile",
        "fast",
    ]
    assert conformance(*args).returncode == 0
    second = conformance(*args, "--report-json", str(tmp_path / "report.json"))
    assert second.returncode == 2, second.stdout[-3000:] + second.stderr[-3000:]
    assert "precondition not met" in second.stderr and "fixture is stale" in second.stderr
    assert "reset the target's data, or refresh the fixture" in second.stderr
    assert "FAIL" not in second.stdout and not (tmp_path / "report.json").exists()


def test_a_wrong_base_path_is_a_precondition_failure(server: RunningServer) -> None:
    """Firma served under its two base paths: the origin alone answers 404 to everything."""
    result = conformance("firma", "--base-url", server.url, "--fixtures", "bundled:firma")
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "nothing answers but 404" in result.stderr
    assert "check the base path" in result.stderr
    assert f"{server.url}/functions/v1/signing-request-api or {server.url}/api/v1" in (
        result.stderr
    )


def test_a_minimal_fixture_served_by_the_mock_passes_every_check(tmp_path: Path) -> None:
    """A QA fixture (ids, tenants, states, keys only) starts the mock, whose generated
    records the harness then finds on contract: the same file serves both sides."""
    statuses = ["sent", "viewed", "sent", "completed", "declined", "expired", "cancelled", "failed"]
    records = "".join(
        f"  - {{id: {uuid.uuid5(uuid.NAMESPACE_URL, f'qa/{n}')}, project: proj_qa, "
        f"status: {status}}}\n"
        for n, status in enumerate(statuses)
    )
    fixture = tmp_path / "qa.yaml"
    fixture.write_text(
        "api: craftkit\n"
        "projects:\n"
        '  - {id: proj_qa, api_keys: ["${CRAFTKIT_QA_KEY:-ck_test_qa_0001}"]}\n'
        '  - {id: proj_other, api_keys: ["${CRAFTKIT_OTHER_KEY:-ck_test_other_0001}"]}\n'
        f"signature_requests:\n{records}"
    )
    server = start_server("--fixtures", str(fixture))
    try:
        assert "generated renderId, name, recipients" in server.startup_log
        result = conformance(
            "craftkit", "--base-url", server.url, "--fixtures", str(fixture), "--profile", "fast"
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "no violations" in result.stdout
