"""Start-up kept light (issue #12's ready time): the collector held until the app is
built, then its policy; the entry's imports. Speed itself is the benchmark's
(docs/performance.md); here, what each step must do."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mock_server import collector


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_hold_stops_the_collector_until_settle_freezes_and_restarts_it() -> None:
    gc.enable()
    collector.hold()
    assert not gc.isenabled(), "no collection while start-up builds its objects"
    made = [[n] for n in range(100)]
    before = gc.get_freeze_count()
    collector.settle()
    assert gc.isenabled(), "the collector runs again once the app is built"
    assert gc.get_freeze_count() >= before + len(made), "what start-up made is frozen"


def test_settle_leaves_a_collector_it_did_not_stop_as_it_was() -> None:
    gc.disable()  # the embedding program's choice
    collector.hold()
    collector.settle()
    assert not gc.isenabled()
    gc.enable()
    collector.settle()
    assert gc.isenabled()


def _entry_then(code: str) -> str:
    """Run ``mock-server --version`` through the entry in a fresh interpreter, then ``code``."""
    script = (
        "import sys\n"
        "from mock_server import entry\n"
        "sys.argv = ['mock-server', '--version']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit:\n"
        "    pass\n" + code
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def test_the_entry_imports_the_cli_without_httpx_s_command_line_client() -> None:
    shown = _entry_then(
        "import httpx\n"
        "print(sys.modules.get('httpx._main', 'imported'))\n"
        "print('rich' in sys.modules)\n"
        "print(httpx.Client is not None, callable(httpx.main))\n"
    ).split("\n")
    assert shown[0].startswith("mock-server "), shown
    assert shown[1:4] == ["None", "False", "True True"], shown


def test_importing_the_package_imports_no_app() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mock_server.entry, mock_server.collector; "
            "print(sorted(m for m in ('connexion', 'mock_server.app', 'uvicorn') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
    from mock_server import Settings, create_app  # the names still resolve, on first use

    assert callable(create_app) and Settings().workers == 1


def test_the_package_s_names_and_submodules_resolve_lazily() -> None:
    import mock_server

    assert mock_server.Settings is mock_server.settings.Settings
    names = dir(mock_server)
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = mock_server.nope  # type: ignore[attr-defined]
