"""Where the bundled specs and fixtures live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

BUNDLED = "bundled:"
"""How ``--fixtures`` names a bundled fixture: ``bundled:craftkit``, ``bundled:firma``."""
BUNDLED_FIXTURES = ("craftkit", "firma")


def bundled_spec(api: str) -> Path:
    """The vendor spec for ``api``: in the wheel (``_bundled/``) or at the checkout's top."""
    name = f"{api}.openapi.yaml"
    installed = _PACKAGE / "_bundled" / "specs" / name
    if installed.exists():
        return installed
    return _PACKAGE.parent / "specs" / name


def bundled_doc(name: str) -> Path:
    """A page of the user docs (``checks.md``, ``fixtures.md``): in the wheel or the checkout."""
    installed = _PACKAGE / "_bundled" / "docs" / name
    if installed.exists():
        return installed
    return _PACKAGE.parent / "docs" / name


def bundled_fixture(name: str) -> Path:
    """The fixture the mock serves by default for ``name``: in the wheel (``_bundled/``) or
    at the checkout's top (the harness never imports the mock to find it)."""
    installed = _PACKAGE / "_bundled" / "fixtures" / f"{name}.yaml"
    if installed.exists():
        return installed
    return _PACKAGE.parent / "fixtures" / f"{name}.yaml"


def fixture_file(given: Path) -> Path | None:
    """The file ``--fixtures`` means: ``given``, or the bundled file ``bundled:NAME`` names
    (``None`` for an unknown name).

    >>> fixture_file(Path("staging.yaml")), fixture_file(Path("bundled:nope"))
    (PosixPath('staging.yaml'), None)
    """
    text = str(given)
    if not text.startswith(BUNDLED):
        return given
    name = text.removeprefix(BUNDLED)
    return bundled_fixture(name) if name in BUNDLED_FIXTURES else None
