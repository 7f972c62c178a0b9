"""Everything a client can change, behind one async seam: sessions, records, journal, faults.

``open_backend(url)`` picks the back-end a ``--store`` URL names: ``memory``
(the default), ``sqlite:///path`` or ``redis://host:port/db``.
"""

from __future__ import annotations

from mock_server.state.base import (
    Backend,
    Decision,
    Fault,
    Record,
    StoreRefused,
    StoreUnavailable,
    insert,
)
from mock_server.state.limits import DEFAULT_SESSION, Limits
from mock_server.state.sessions import Session, SessionRefused, Sessions, SessionStore
from mock_server.state.urls import StoreUrlError, open_backend

__all__ = [
    "DEFAULT_SESSION",
    "Backend",
    "Decision",
    "Fault",
    "Limits",
    "Record",
    "Session",
    "SessionRefused",
    "SessionStore",
    "Sessions",
    "StoreRefused",
    "StoreUnavailable",
    "StoreUrlError",
    "insert",
    "open_backend",
]
