"""Each package's public surface is its ``__all__`` (STYLE.md), and it says the truth.

Every module of ``mock_server`` and ``conformance`` declares ``__all__``; every
name in it exists; a module's public functions and classes are all listed (a
helper that is not part of the surface gets a leading underscore).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import conformance
import conformance.runner  # registers every check
import mock_server
from conformance.checks import CHECKS

# The conformance pytest suite is a test package that pytest runs, not an API.
NOT_MODULES = "conformance.suite"


def modules() -> list[str]:
    """Every public module: private ones (``_http``) are a package's own business."""
    names = []
    for package in (mock_server, conformance):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            private = any(part.startswith("_") for part in info.name.split("."))
            if not private and not info.name.startswith(NOT_MODULES):
                names.append(info.name)
    return sorted(names)


def defined_here(module: ModuleType) -> set[str]:
    """Public functions and classes whose home is ``module`` itself.

    Checks registered with ``@check`` are reached through the registry, by code.
    """
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
        and not (module.__name__.startswith("conformance.") and name in CHECKS)
    }


@pytest.mark.parametrize("name", modules())
def test_all_lists_exactly_what_the_module_offers(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{name} declares no __all__ list"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what the module lacks: {missing}"
    unlisted = sorted(defined_here(module) - set(exported))
    assert not unlisted, (
        f"{name} defines public {unlisted} outside __all__: export them or prefix with '_'"
    )


def test_the_mock_package_exports_its_entry_points() -> None:
    assert sorted(mock_server.__all__) == [
        "ContractError",
        "FixtureError",
        "MockApp",
        "MockError",
        "Settings",
        "StartupError",
        "create_app",
        "serve_app",
    ]
