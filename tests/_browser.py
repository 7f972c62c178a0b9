"""A real browser for the tests: Debian's ``chromium``, driven by Playwright.

Where it comes from: ``tools/ensure_chromium``, which ``make test`` runs first (it
installs the package as root, else says in one line how). Playwright's own browser
download (``playwright install``) is never used: the wheel's driver launches the
system browser (``executable_path``), so nothing is fetched but the PyPI package. A
test never skips for want of it: without ``chromium`` the fixtures fail with that one
line.

The fixtures (registered in ``tests/conftest.py``):

``browser`` (module scope)
    A headless Chromium, launched on first use in a module. As root (CI) without its
    sandbox (Chromium refuses to start as root with it); background networking,
    component updates and sync off (this machine reaches no host but loopback).
    Playwright's sync API marks the thread's event loop as running while it is
    started, so it is stopped at the end of each module: the asyncio tests that a
    pytest-xdist worker runs next would fail otherwise. Keep browser tests out of
    modules with ``anyio`` tests.
``browser_tab`` (function scope)
    A :class:`BrowserTab`: a page in a fresh context (no cookies or storage shared
    between tests) with bounded timeouts (:data:`ACTION_TIMEOUT_MS`,
    :data:`NAVIGATION_TIMEOUT_MS`), and ``.errors``, every console error and uncaught
    exception of the page, in order.

When a test that uses ``browser_tab`` fails (in its body or its set-up), a full-page
screenshot of the tab is saved to :func:`artifacts_dir` (``.artifacts/browser/`` of
the checkout, or ``$BROWSER_ARTIFACTS``) and its path is added to the failure report
under "browser screenshot" (the hook :func:`pytest_runtest_makereport`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
INSTALL = (
    "chromium is needed by the browser tests and is not installed: "
    "sudo apt-get install chromium (make test installs it when run as root)"
)
DEBIAN_PATH = Path("/usr/bin/chromium")
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 10_000
"""A click, a fill, a wait for an element: what a page does at once, given slack for a
loaded two-core machine."""
NAVIGATION_TIMEOUT_MS = 15_000
ARGS = (
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class ChromiumMissing(Exception):
    """No ``chromium``: the message is :data:`INSTALL`."""


def find_chromium(path: str | None = None, fallback: Path = DEBIAN_PATH) -> str:
    """Debian's ``chromium`` on ``path`` (default ``$PATH``), else ``fallback``, as
    ``tools/ensure_chromium`` finds it; else :class:`ChromiumMissing`."""
    found = shutil.which("chromium", path=path)
    if found:
        return found
    if fallback.exists():
        return str(fallback)
    raise ChromiumMissing(INSTALL)


def artifacts_dir() -> Path:
    """Where failure screenshots go: ``$BROWSER_ARTIFACTS``, else ``.artifacts/browser``."""
    return Path(os.environ.get("BROWSER_ARTIFACTS") or ROOT / ".artifacts" / "browser")


@dataclass
class BrowserTab:
    """One page of the test's own, and what went wrong in it."""

    page: Page
    errors: list[str] = field(default_factory=list)
    """``console.error`` text, failed loads and uncaught exceptions, in order."""

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} ({message.location['url']})")

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        executable = find_chromium()
    except ChromiumMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    args = [*ARGS, "--no-sandbox"] if os.geteuid() == 0 else list(ARGS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=args, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


_TABS = pytest.StashKey[list["BrowserTab"]]()
"""The tabs a test opened (directly or through other fixtures), for the screenshot hook."""


@pytest.fixture
def browser_tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserTab]:
    context = browser.new_context()
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    try:
        tab = BrowserTab(context.new_page())
        tab.page.on("console", tab._console)
        tab.page.on("pageerror", tab._page_error)
        request.node.stash.setdefault(_TABS, []).append(tab)
        yield tab
    finally:
        context.close()


def _screenshot_name(nodeid: str) -> str:
    """A file name for a test id: ``tests/a.py::test_x[p/1]`` -> ``tests-a.py-test_x-p-1-.png``.

    >>> _screenshot_name("tests/browser/test_docs.py::test_try[craftkit]")
    'tests-browser-test_docs.py-test_try-craftkit-.png'
    """
    return re.sub(r"[^A-Za-z0-9_.]+", "-", nodeid)[-200:] + ".png"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """On a failure of a test that holds a :class:`BrowserTab`, save its screenshot (the
    tab is still open: fixtures are torn down after this report) and name it in the report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when not in ("setup", "call") or not report.failed:
        return
    for tab in item.stash.get(_TABS, []):
        path = artifacts_dir() / _screenshot_name(item.nodeid)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            tab.page.screenshot(path=str(path), full_page=True, timeout=ACTION_TIMEOUT_MS)
        except Error as error:  # a crashed or closed page: say so, keep the real failure
            report.sections.append(("browser screenshot", f"none: {error.message}"))
            continue
        url = tab.page.url
        report.sections.append(("browser screenshot", f"{path} (of {url})"))
