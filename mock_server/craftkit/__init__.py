"""The Craftkit API (OpenAPI 3.1): ``POST /v1/signatures/{id}/cancel``."""

from __future__ import annotations

from mock_server.craftkit.api import CraftkitApi
from mock_server.craftkit.world import CraftkitWorld, load_world

__all__ = ["CraftkitApi", "CraftkitWorld", "load_world"]
