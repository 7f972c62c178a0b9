"""The targets of a run (:func:`catalogue`), and the stores the mock's need.

The bare handler and the mock with the memory store and 1 worker on each server
(uvicorn, as the mock ships, and Granian); then the mock on uvicorn with SQLite and
Redis, 1 and 2 workers. The memory
store with 2 workers is refused by the mock by design (each worker would have a world of
its own), so it is not a configuration. SQLite gets a new database file in each start's
own directory; Redis is one ``redis-server`` the run starts on a free loopback port in a
temporary directory (the tests' own helper, ``tests/_redis.py``; Debian's package,
installed by ``tools/ensure_redis_server`` when missing and run as root), emptied
(``FLUSHALL``) before each start, and stopped at the end. Last, Stoplight Prism, one
process per vendor document (``tools/ensure_prism`` installs it with npm).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bench.paths import FIRMA_BASE, ROOT
from bench.targets import BareTarget, GranianMock, MockTarget, PrismTarget, Target, Unavailable

if TYPE_CHECKING:
    from tests._redis import RedisServer

__all__ = ["CONFIGS", "NOT_RUN", "Stores", "catalogue", "mock_targets", "select"]

CONFIGS: tuple[tuple[str, str, int], ...] = (
    ("memory-1", "memory", 1),
    ("sqlite-1", "sqlite", 1),
    ("sqlite-2", "sqlite", 2),
    ("redis-1", "redis", 1),
    ("redis-2", "redis", 2),
)
"""The mock on uvicorn: (name, store, workers); memory-1 is the stores' baseline."""

NOT_RUN = {
    "memory-2": "refused by the mock by design: the memory store is one process's own "
    "(--workers 2 needs --store sqlite or redis)"
}

ENSURE_REDIS = ROOT / "tools" / "ensure_redis_server"


@dataclass
class Stores:
    """The stores of one run, under ``directory``; :meth:`close` stops what it started."""

    directory: Path
    _redis: RedisServer | None = field(default=None, init=False)
    _redis_problem: str | None = field(default=None, init=False)
    redis_version: str | None = field(default=None, init=False)

    def url(self, store: str, workdir: Path) -> str:
        """The ``--store`` URL for a start whose own directory is ``workdir``."""
        if store == "memory":
            return "memory"
        if store == "sqlite":
            return "sqlite:///" + str((workdir / "bench.db").resolve())
        if store == "redis":
            return self._fresh_redis()
        raise ValueError(store)

    def check(self, store: str) -> None:
        """Raise :class:`Unavailable` when ``store`` cannot be had on this machine."""
        if store == "redis":
            self._start_redis()

    def _start_redis(self) -> RedisServer:
        if self._redis is not None:
            return self._redis
        if self._redis_problem is not None:
            raise Unavailable(self._redis_problem)
        try:
            self._redis = _redis_server(self.directory / "redis")
        except Unavailable as exc:
            self._redis_problem = str(exc)
            raise
        self.redis_version = _redis_version(self._redis.executable)
        return self._redis

    def _fresh_redis(self) -> str:
        from tests._redis import command

        server = self._start_redis()
        reply = command(server.port, "FLUSHALL", timeout=10)
        if reply != b"+OK":
            raise Unavailable(f"FLUSHALL on the bench's redis-server answered {reply!r}")
        return server.url

    def close(self) -> None:
        if self._redis is not None:
            self._redis.stop()
            self._redis = None


def _redis_server(directory: Path) -> RedisServer:
    try:
        subprocess.run([str(ENSURE_REDIS)], capture_output=True, text=True, timeout=600, check=True)
    except subprocess.CalledProcessError as exc:
        lines = exc.stderr.strip().splitlines()
        raise Unavailable(lines[-1] if lines else "tools/ensure_redis_server failed") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"tools/ensure_redis_server: {exc}") from None
    try:
        from tests._redis import RedisServer, RedisServerError, find_redis_server
    except ImportError as exc:  # tests/_redis.py needs pytest: `make install` has it
        raise Unavailable(f"cannot import the tests' redis helper: {exc}") from None
    directory.mkdir(parents=True, exist_ok=True)
    try:
        server = RedisServer(find_redis_server(), directory)
        server.start()
    except RedisServerError as exc:
        raise Unavailable(str(exc).splitlines()[0]) from None
    except Exception as exc:  # RedisServerMissing, and anything else: say it, do not crash
        raise Unavailable(f"redis-server: {exc}") from None
    return server


def _redis_version(executable: str) -> str | None:
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for word in done.stdout.split():
        if word.startswith("v="):
            return word.removeprefix("v=")
    return done.stdout.strip() or None


def mock_targets(
    names: Sequence[str], stores: Stores, fixtures: Sequence[Path]
) -> list[MockTarget]:
    """The configurations named (in the report's order), serving ``fixtures``."""

    return [
        MockTarget(name, store, workers, partial(stores.url, store), tuple(fixtures))
        for name, store, workers in CONFIGS
        if name in names
    ]


def catalogue(stores: Stores, fixtures: Sequence[Path]) -> list[Target]:
    """Every target, in the report's (and each repeat's) order."""
    everything = [name for name, _, _ in CONFIGS]
    mocks = {target.name: target for target in mock_targets(everything, stores, fixtures)}
    memory = partial(stores.url, "memory")
    granian = GranianMock("memory-1-granian", "memory", memory, tuple(fixtures))
    return [
        BareTarget("bare-uvicorn", "uvicorn"),
        mocks.pop("memory-1"),
        BareTarget("bare-granian", "granian"),
        granian,
        *mocks.values(),
        PrismTarget("prism-craftkit", "craftkit", ROOT / "specs" / "craftkit.openapi.yaml"),
        PrismTarget("prism-firma", "firma", ROOT / "specs" / "firma.openapi.yaml", FIRMA_BASE),
    ]


def select(targets: Sequence[Target], wanted: set[str]) -> list[Target]:
    """The targets named in ``wanted`` or in one of its groups (a store, ``bare``,
    ``mock``, a server), with the bare handler of each server among them (the baseline
    of that server's rows), in ``targets``' order."""
    chosen = {t.name for t in targets if t.name in wanted or wanted & set(t.groups)}
    servers = {t.server for t in targets if t.name in chosen}
    return [t for t in targets if t.name in chosen or (t.bare and t.server in servers)]
