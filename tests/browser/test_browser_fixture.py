"""The browser fixtures themselves (tests/_browser.py): errors of a page are seen, and a
failing test leaves a screenshot named in its report."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests._browser import INSTALL, BrowserTab, ChromiumMissing, find_chromium
from tests.conftest import ROOT, ensured, make_rule

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n"


def test_console_errors_and_uncaught_exceptions_are_collected(browser_tab: BrowserTab) -> None:
    page = browser_tab.page
    page.set_content(
        "<p>ok</p><script>console.log('fine'); console.error('planted error');</script>"
        "<script>setTimeout(() => { throw new Error('planted throw'); }, 0);</script>"
    )
    page.wait_for_function("() => true")
    page.evaluate("() => new Promise(r => setTimeout(r, 0))")
    assert [e.split(" (")[0] for e in browser_tab.errors] == [
        "console.error: planted error",
        "uncaught: planted throw",
    ]


INNER_CONFTEST = """
from tests._browser import browser as browser
from tests._browser import browser_tab as browser_tab
from tests._browser import pytest_runtest_makereport as pytest_runtest_makereport
"""

INNER_TESTS = """
import pytest


@pytest.fixture
def opened(browser_tab):
    browser_tab.page.set_content("<h1>set-up page</h1>")
    raise RuntimeError("planted set-up failure")


def test_body_fails(browser_tab):
    browser_tab.page.set_content("<h1 style='color:red'>planted page</h1>")
    assert False, "planted failure"


def test_setup_fails(opened):
    pass


def test_passes(browser_tab):
    browser_tab.page.set_content("<h1>fine</h1>")
"""


def test_a_failing_test_leaves_a_screenshot_named_in_its_report(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BROWSER_ARTIFACTS": str(artifacts)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed, 1 error" in run.stdout, run.stdout
    saved = sorted(p.name for p in artifacts.iterdir())
    assert saved == ["test_inner.py-test_body_fails.png", "test_inner.py-test_setup_fails.png"]
    for name in saved:
        shot = (artifacts / name).read_bytes()
        assert shot.startswith(PNG) and len(shot) > 1000, name
        # Printed with the failure, so CI logs say where to look.
        assert f"{artifacts / name} (of about:blank)" in run.stdout, run.stdout
    assert run.stdout.count("browser screenshot") == 2, run.stdout


# --- where chromium comes from -------------------------------------------------------


def test_a_missing_chromium_fails_with_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ChromiumMissing) as missing:
        find_chromium(path=str(tmp_path), fallback=tmp_path / "chromium")
    assert str(missing.value) == INSTALL
    assert "\n" not in INSTALL and "sudo apt-get install chromium" in INSTALL


def test_make_test_ensures_chromium_and_test_fast_does_not() -> None:
    assert "chromium" in make_rule("test")[0]
    assert "chromium" not in make_rule("test-fast")[0]
    assert "tools/ensure_chromium" in make_rule("chromium")[1]


def test_the_browser_is_the_chromium_ensure_chromium_prints(browser: Browser) -> None:
    # Never a browser Playwright downloaded: the version is the system package's.
    executable = ensured("chromium")
    assert executable.samefile(find_chromium())
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert browser.version in version, (browser.version, version)
