"""The fixture world being served: both APIs over it, and the sessions seeded from it.

``--watch`` swaps one :class:`Live` for another when the fixtures change; a
request holds the one it started with, so it never sees half of a reload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mock_server.craftkit import CraftkitApi
from mock_server.firma import FirmaApi
from mock_server.served import ServedApi
from mock_server.sessions import Sessions
from mock_server.store import MemoryStore, Store

__all__ = ["Live"]


@dataclass(frozen=True)
class Live:
    craftkit: CraftkitApi
    firma: FirmaApi
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sessions", Sessions(self._seed))

    @property
    def apis(self) -> list[ServedApi]:
        return [self.craftkit, self.firma]

    def api(self, name: str) -> ServedApi:
        return self.craftkit if name == self.craftkit.name else self.firma

    def _seed(self) -> Mapping[str, Store]:
        return {api.name: MemoryStore(api.seed()) for api in self.apis}
