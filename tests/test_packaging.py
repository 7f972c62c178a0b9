"""What the distribution promises: one version everywhere; the mock without the harness.

``pip install esign-contract-mock`` brings no Schemathesis, Hypothesis, openapi-core
or pytest (the ``[conformance]`` extra does). Those tests run Python in a subprocess
whose imports of those modules fail, as they would in such an install.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import pytest

from conformance import _version as conformance_version
from conformance import cli as conformance_cli
from conformance.report import write_json, write_junit
from conformance.runner import Report
from conformance.settings import Settings
from mock_server import _version as mock_version
from mock_server import cli as mock_cli
from tests.conftest import ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

HARNESS_STACK = ("schemathesis", "hypothesis", "openapi_core", "pytest")
INSTALL_HINT = "pip install 'esign-contract-mock[conformance]'"

BLOCKER = """\
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def python(
    code: str, *, blocked: tuple[str, ...] = (), cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``blocked`` modules cannot be imported."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=set(blocked)) + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def top_level_modules(code: str, *, blocked: tuple[str, ...] = ()) -> set[str]:
    done = python(
        code + "\nimport json, sys; print(json.dumps(sorted(sys.modules)))", blocked=blocked
    )
    assert done.returncode == 0, done.stderr
    return {name.partition(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_the_mock_imports_nothing_of_the_harness() -> None:
    loaded = top_level_modules("import mock_server.cli")
    assert loaded.isdisjoint({*HARNESS_STACK, "conformance"}), sorted(
        loaded & {*HARNESS_STACK, "conformance"}
    )


def test_the_mock_builds_its_app_without_the_harness() -> None:
    done = python(
        "from mock_server import Settings, create_app\n"
        "app = create_app(Settings())\n"
        "print(sorted(api.contract.name for api in app.apis))",
        blocked=HARNESS_STACK,
    )
    assert done.returncode == 0, done.stderr
    assert "craftkit" in done.stdout.lower()


def test_the_pytest_plugin_imports_without_the_extra() -> None:
    """pytest loads every pytest11 entry point: ours must not break unrelated runs."""
    loaded = top_level_modules(
        "import conformance.pytest_plugin", blocked=("schemathesis", "hypothesis", "openapi_core")
    )
    assert loaded.isdisjoint({"schemathesis", "hypothesis", "openapi_core", "httpx"})


def test_an_unrelated_pytest_run_registers_the_plugin_without_the_extra(tmp_path: Path) -> None:
    done = python(
        "import pytest, sys\n"
        # the extra's own plugins are absent too in such an install
        "sys.exit(pytest.main(['-p', 'no:hypothesispytest', '-p', 'no:schemathesis',"
        " '-p', 'no:cacheprovider', '--help']))",
        blocked=("schemathesis", "hypothesis", "openapi_core"),
        cwd=tmp_path,  # a user's project, not this repository's pytest configuration
    )
    assert done.returncode == 0, done.stderr
    assert "--conformance-api" in done.stdout


def test_the_conformance_suite_without_the_extra_names_the_install(tmp_path: Path) -> None:
    args = [
        *("-p", "no:hypothesispytest", "-p", "no:schemathesis", "-p", "no:cacheprovider"),
        *("--pyargs", "conformance.suite", "--conformance-api", "craftkit"),
        *("--conformance-base-url", "http://127.0.0.1:1"),
        *("--conformance-fixtures", str(ROOT / "fixtures/craftkit.yaml")),
    ]
    done = python(
        f"import pytest, sys; sys.exit(pytest.main({args!r}))",
        blocked=("schemathesis", "hypothesis", "openapi_core"),
        cwd=tmp_path,  # a user's project, not this repository's pytest configuration
    )
    assert done.returncode != 0
    assert INSTALL_HINT in done.stdout, done.stdout


def test_conformance_without_the_extra_says_how_to_install_it() -> None:
    done = python(
        "import sys\n"
        "from conformance.cli import main\n"
        "sys.exit(main(['run', 'craftkit', '--base-url', 'http://127.0.0.1:1',"
        " '--fixtures', 'fixtures/craftkit.yaml']))",
        blocked=HARNESS_STACK,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert INSTALL_HINT in line


def test_the_installed_version_is_pyprojects() -> None:
    """Stale metadata (an install older than pyproject.toml) would misreport: make install."""
    assert installed_version("esign-contract-mock") == VERSION


@pytest.mark.parametrize(
    ("main", "name"), [(mock_cli.main, "mock-server"), (conformance_cli.main, "conformance")]
)
def test_version_flag(
    main: Callable[[list[str]], int], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"{name} {VERSION}\n"


@pytest.mark.parametrize("module", [mock_version, conformance_version], ids=["mock", "harness"])
def test_a_checkout_never_installed_reads_pyproject(
    module: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(module, "installed_version", not_installed)
    module.version.cache_clear()
    try:
        assert module.version() == VERSION
    finally:
        module.version.cache_clear()


def small_report() -> Report:
    settings = Settings(
        api="craftkit", base_url="http://127.0.0.1:1", fixtures=ROOT / "fixtures/craftkit.yaml"
    )
    return Report(
        settings, checks={"contract": ["not_a_server_error"], "state": ["tenant_isolation"]}
    )


def test_report_json_carries_the_version(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_json(small_report(), path)
    assert json.loads(path.read_text())["conformance_version"] == VERSION


def test_junit_carries_the_version_on_every_testsuite(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(small_report(), path)
    suites = ET.parse(path).getroot().findall("testsuite")
    assert len(suites) == 2
    for suite in suites:
        assert suite[0].tag == "properties"  # the JUnit schema wants properties first
        [prop] = suite[0].findall("property")
        assert prop.attrib == {"name": "conformance.version", "value": VERSION}


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(VERSION)}\]", changelog, re.MULTILINE), (
        f"CHANGELOG.md has no '## [{VERSION}]' section"
    )


def _check_python_versions() -> Any:
    """tools/check_python_versions.py, imported from its path (tools/ is no package)."""
    path = ROOT / "tools/check_python_versions.py"
    spec = importlib.util.spec_from_file_location("check_python_versions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("version", "needed"), [("3.11", ["async-timeout>=4.0.3"]), ("3.12", []), ("3.13", [])]
)
def test_check_python_versions_adds_what_only_the_target_python_needs(
    version: str, needed: list[str]
) -> None:
    """redis needs async-timeout before 3.11.3: pip on a later 3.11 leaves it out, so the
    tool resolves it again for 3.11 (at 3.11.0), as a plain requirement."""
    tool = _check_python_versions()
    redis = {
        "metadata": {
            "name": "redis",
            "requires_dist": [
                "async-timeout>=4.0.3; python_full_version < '3.11.3'",
                "hiredis>=3.2.0; extra == 'hiredis'",
            ],
        }
    }
    missed = tool.left_out(version, ["redis>=6.2"], [redis])
    assert [tool.unconditional(req) for _, req in missed] == needed
    assert all(source == "redis" for source, _ in missed)
