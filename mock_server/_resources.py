"""Where the bundled specs and fixtures live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled(folder: str, name: str) -> Path:
    """A bundled data file: inside the wheel (``_bundled/``) or at the checkout's top level."""
    installed = _PACKAGE / "_bundled" / folder / name
    if installed.exists():
        return installed
    return _PACKAGE.parent / folder / name
