"""``--watch``: read the fixtures again whenever one of their files changes (issue #4).

The server stays up throughout. The watcher compares the files' *contents*
every half second, following their paths afresh each time, so it sees every
way a file gets replaced: an editor's write-and-rename, a Kubernetes
ConfigMap's symlink swap, a directory deleted and created again. Touching a
file without changing it, or changes to its neighbours, reload nothing (a
reload restarts every session, so it should mean something changed).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["FixtureWatcher"]

log = logging.getLogger("mock_server.watch")


class FixtureWatcher:
    """Calls ``on_change`` (in its own thread) after the contents of any of ``files`` change.

    >>> watcher = FixtureWatcher([Path("fixtures/firma.yaml")], on_change=lambda: None)
    >>> watcher.start(); watcher.stop()
    """

    def __init__(
        self, files: Iterable[Path], on_change: Callable[[], object], *, interval: float = 0.5
    ) -> None:
        self.files = sorted({path.absolute() for path in files})
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fixture-watcher", daemon=True)
        self._seen = self._digests()
        self._failing = False

    def start(self) -> None:
        self._thread.start()
        shown = ", ".join(str(path) for path in self.files)
        log.info("watching %s; a change reloads the fixtures", shown)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _digests(self) -> dict[Path, str | None]:
        """Each file's content hash, ``None`` while it cannot be read (mid-replace)."""
        digests: dict[Path, str | None] = {}
        for path in self.files:
            try:
                digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digests[path] = None
        return digests

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            current = self._digests()
            if current == self._seen:
                continue
            changed = [p.name for p in self.files if current[p] != self._seen[p]]
            previous, self._seen = self._seen, current
            if any(digest is None for digest in current.values()):
                missing = [p.name for p in self.files if current[p] is None]
                log.warning("fixture file missing or unreadable: %s; waiting", ", ".join(missing))
                continue
            log.info("fixture change seen (%s); reloading", ", ".join(changed))
            try:
                self._on_change()
            except Exception:  # the watcher must outlive any one bad reload
                # Not taken (the store unreachable, say): try again at the next poll, and
                # say so once rather than every half second.
                if not self._failing:
                    log.exception("reloading the fixtures failed; trying again until it works")
                self._failing = True
                self._seen = previous
            else:
                self._failing = False
