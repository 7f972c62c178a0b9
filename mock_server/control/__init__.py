"""The control plane under ``/__mock``: sessions, records, journal and faults (issue #4)."""

from __future__ import annotations

from mock_server.control.access import ControlAccess, is_loopback
from mock_server.control.api import BASE_PATH, DOCUMENT, ControlPlane

__all__ = ["BASE_PATH", "DOCUMENT", "ControlAccess", "ControlPlane", "is_loopback"]
