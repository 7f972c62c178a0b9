"""The request pipeline: small pure-ASGI layers, composed in one place (``app.py``).

Outermost first::

    Cors            cors.py        Starlette's CORS for browsers' requests; Vary: Origin else
    (by path)       app.py         /docs and / -> docs; /__mock -> control; else vendor
    SessionLayer    sessions.py    X-Mock-Session -> Session (400 if malformed); a lost
                                   store -> 503 in the route's envelope (refusals.py)
    Journal         journal.py     the exchange into the session's journal (vendor only)
    ErrorBoundary   boundary.py    404 / 405 / 500 in the API's envelope (vendor only)
    Dispatcher      dispatch.py    route table (Connexion's routes) -> begin the session ->
                                   fault (drop.py) | Prefer (forced.py) | the handler

Each request carries one typed :class:`~mock_server.http.context.Context`.

Before them all, the express lane (``lane.py``) takes a declared vendor operation's
ordinary request past CORS, the routing by path, the session layer, the error boundary
and the dispatcher's routing, doing their part itself with their own parts, and hands
anything else to the layers with what it has done so far.
"""

from __future__ import annotations

from mock_server.http.boundary import ErrorBoundary
from mock_server.http.context import Context, context
from mock_server.http.cors import Cors
from mock_server.http.dispatch import Dispatcher, operation_id
from mock_server.http.drop import ConnectionDropped
from mock_server.http.forced import ForcedAnswers
from mock_server.http.journal import Journal
from mock_server.http.lane import ExpressLane
from mock_server.http.refusals import RETRY_AFTER, Availability, Refusals
from mock_server.http.sessions import SessionLayer

__all__ = [
    "RETRY_AFTER",
    "Availability",
    "ConnectionDropped",
    "Context",
    "Cors",
    "Dispatcher",
    "ErrorBoundary",
    "ExpressLane",
    "ForcedAnswers",
    "Journal",
    "Refusals",
    "SessionLayer",
    "context",
    "operation_id",
]
