"""The Firma Partner API (OpenAPI 3.0.3): ``POST /jwt/revoke-signing-request``."""

from __future__ import annotations

from mock_server.firma.api import FirmaApi
from mock_server.firma.world import FirmaWorld, load_world

__all__ = ["FirmaApi", "FirmaWorld", "load_world"]
