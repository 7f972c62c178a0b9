"""``--watch``: read the fixtures again whenever one of their files changes (issue #4).

The server stays up throughout. Directories are watched rather than files,
because editors save by writing a new file and renaming it over the old one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

__all__ = ["FixtureWatcher"]

log = logging.getLogger("mock_server.watch")


class FixtureWatcher:
    """Calls ``on_change`` (in its own thread) after any of ``files`` changes.

    >>> watcher = FixtureWatcher([Path("fixtures/firma.yaml")], on_change=lambda: None)
    >>> watcher.start(); watcher.stop()
    """

    def __init__(
        self, files: Iterable[Path], on_change: Callable[[], object], *, debounce_ms: int = 200
    ) -> None:
        self.files = frozenset(path.resolve() for path in files)
        self._on_change = on_change
        self._debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fixture-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()
        shown = ", ".join(sorted(str(path) for path in self.files))
        log.info("watching %s; a change reloads the fixtures", shown)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        directories = sorted({path.parent for path in self.files})
        changes = watchfiles.watch(
            *directories,
            watch_filter=lambda _change, path: Path(path).resolve() in self.files,
            debounce=self._debounce_ms,
            stop_event=self._stop,
            recursive=False,
            raise_interrupt=False,
        )
        for changed in changes:
            names = ", ".join(sorted({Path(path).name for _, path in changed}))
            log.info("fixture change seen (%s); reloading", names)
            try:
                self._on_change()
            except Exception:  # the watcher must outlive any one bad reload
                log.exception("reloading the fixtures failed")
