"""A stateful contract mock of the Craftkit and Firma e-signature APIs.

>>> from mock_server import Settings, create_app
>>> app = create_app(Settings())  # an ASGI app: uvicorn, httpx.ASGITransport, ...

``serve_app(settings)`` builds it as ``mock-server`` serves it (the store checked, the
garbage collector's policy set): the factory for another ASGI server.
"""

from __future__ import annotations

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
