"""The fixture world being served: both APIs over it, and the sessions seeded from it.

``--watch`` swaps one :class:`Live` for another when the fixtures change; a
request holds the one it started with, so it never sees half of a reload.
"""

from __future__ import annotations

import hashlib
import json

from mock_server.clock import Clock
from mock_server.craftkit import CraftkitApi
from mock_server.firma import FirmaApi
from mock_server.served import ServedApi
from mock_server.state import Backend, Sessions
from mock_server.state.sessions import Base

__all__ = ["Live"]


class Live:
    """Both APIs over one fixture world; :meth:`bind` attaches it to a back-end."""

    def __init__(self, craftkit: CraftkitApi, firma: FirmaApi) -> None:
        self.craftkit = craftkit
        self.firma = firma
        self.apis: list[ServedApi] = [craftkit, firma]
        self._by_name = {api.name: api for api in self.apis}
        self.base: Base = {
            api.name: {collection: dict(rows) for collection, rows in api.seed().items()}
            for api in self.apis
        }
        self.fingerprint = hashlib.sha256(
            json.dumps(self.base, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        """Names this world by its records alone: the same fixtures give the same fingerprint
        in every worker and on every host, wherever their files are (a key or a quota edit
        keeps every session: what they changed still stands)."""
        self._sessions: Sessions | None = None

    def api(self, name: str) -> ServedApi:
        return self._by_name[name]

    async def bind(self, backend: Backend, clock: Clock) -> None:
        """Serve this world from ``backend``: in the namespace it names (see
        :meth:`~mock_server.state.base.Backend.world`), so a restart keeps every session."""
        namespace = await backend.world(self.fingerprint)
        self._sessions = Sessions(backend, namespace, self.base, clock=clock)

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            raise RuntimeError("Live.bind() first")
        return self._sessions
