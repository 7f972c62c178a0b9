"""Rules of the suite itself that a tool enforces (issue #9): nothing here is prose."""

from __future__ import annotations

import re
import warnings

import pytest

from tests.conftest import ROOT


def test_warnings_are_errors() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("an unhandled warning fails its test", DeprecationWarning, stacklevel=1)


def test_no_example_in_a_docstring_is_skipped() -> None:
    """A doctest marked +SKIP proves nothing: write it as a plain ``Example::`` block."""
    skipped = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("mock_server", "conformance", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search("doctest:" + r"\s*\+SKIP", line)
    ]
    assert not skipped, f"doctests marked +SKIP: {skipped}"


def test_make_test_runs_the_doctests_of_both_packages() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    paths = re.search(r"^PYTEST_PATHS\s*:=\s*(.+)$", makefile, re.M)
    assert paths is not None, "Makefile: PYTEST_PATHS is gone"
    words = paths.group(1).split()
    assert {"tests", "mock_server", "conformance", "--doctest-modules"} <= set(words)


# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + "shared" + "|" + "DESIGN" + r"\.md")


def test_nothing_points_outside_the_repository() -> None:
    """Users of a clone or a wheel see only the repository: docs/ carries the contract."""
    files = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md"] + [
        path
        for folder in ("docs", "fixtures", "mock_server", "conformance", "tests", "tools")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".md", ".py", ".yaml", ".toml"}
    ]
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, f"pointers outside the repository (use docs/): {found}"
