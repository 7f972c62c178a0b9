"""The fixture world being served: both APIs over it, and the sessions seeded from it.

``--watch`` swaps one :class:`Live` for another when the fixtures change; a
request holds the one it started with, so it never sees half of a reload.
"""

from __future__ import annotations

from collections.abc import Mapping

from mock_server.craftkit import CraftkitApi
from mock_server.firma import FirmaApi
from mock_server.served import ServedApi
from mock_server.sessions import Sessions
from mock_server.store import MemoryStore, Store

__all__ = ["Live"]


class Live:
    def __init__(self, craftkit: CraftkitApi, firma: FirmaApi) -> None:
        self.craftkit = craftkit
        self.firma = firma
        self.apis: list[ServedApi] = [craftkit, firma]
        self._by_name = {api.name: api for api in self.apis}
        self.sessions = Sessions(self._seed)

    def api(self, name: str) -> ServedApi:
        return self._by_name[name]

    def _seed(self) -> Mapping[str, Store]:
        return {api.name: MemoryStore(api.seed()) for api in self.apis}
