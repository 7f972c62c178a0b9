"""This distribution's version: pyproject.toml's ``project.version``, as installed.

``mock_server`` and ``conformance`` never import each other, so each package has
this module; both read the one version of ``esign-contract-mock``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "esign-contract-mock"


@cache
def version() -> str:
    """``0.2.0``; from a checkout that was never installed, its pyproject.toml's; else
    ``0+unknown`` (a valid version that sorts before every release)."""
    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        if project["name"] == DISTRIBUTION:
            return str(project["version"])
    except (OSError, KeyError, ValueError):
        pass
    return "0+unknown"
