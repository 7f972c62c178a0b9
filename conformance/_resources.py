"""Where the bundled specs live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_spec(api: str) -> Path:
    """The vendor spec for ``api``: in the wheel (``_bundled/``) or at the checkout's top."""
    name = f"{api}.openapi.yaml"
    installed = _PACKAGE / "_bundled" / "specs" / name
    if installed.exists():
        return installed
    return _PACKAGE.parent / "specs" / name
