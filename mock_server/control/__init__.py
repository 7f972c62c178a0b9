"""The control plane under ``/__mock``: sessions, records, journal and faults (issue #4)."""

from __future__ import annotations

from mock_server.control.access import (
    ControlAccess,
    HostRule,
    Throttle,
    is_host_name,
    is_loopback,
)
from mock_server.control.api import BASE_PATH, DOCUMENT, SESSIONLESS, ControlPlane

__all__ = [
    "BASE_PATH",
    "DOCUMENT",
    "SESSIONLESS",
    "ControlAccess",
    "ControlPlane",
    "HostRule",
    "Throttle",
    "is_host_name",
    "is_loopback",
]
