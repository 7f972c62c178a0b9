"""A stateful contract mock of the Craftkit and Firma e-signature APIs.

>>> from mock_server import Settings, create_app
>>> app = create_app(Settings())  # an ASGI app: uvicorn, httpx.ASGITransport, ...

``serve_app(settings)`` builds it as ``mock-server`` serves it (the store checked, the
garbage collector's policy set): the factory for another ASGI server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_server.app import MockApp, create_app
    from mock_server.asgi import serve_app
    from mock_server.errors import ContractError, FixtureError, MockError, StartupError
    from mock_server.settings import Settings

__all__ = [
    "ContractError",
    "FixtureError",
    "MockApp",
    "MockError",
    "Settings",
    "StartupError",
    "create_app",
    "serve_app",
]

_HOMES = {
    "ContractError": "mock_server.errors",
    "FixtureError": "mock_server.errors",
    "MockApp": "mock_server.app",
    "MockError": "mock_server.errors",
    "Settings": "mock_server.settings",
    "StartupError": "mock_server.errors",
    "create_app": "mock_server.app",
    "serve_app": "mock_server.asgi",
}
"""Where each name lives: imported on first use (PEP 562), so that importing a light
module of the package (``mock_server.entry``, ``mock_server.collector``) does not import
the app and its dependencies."""


if not TYPE_CHECKING:  # for type checkers the names are the imports above: a typo is caught

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:  # a submodule, as the eager imports made them attributes before
            try:
                return importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{name}":
                    raise
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
