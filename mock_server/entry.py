"""The ``mock-server`` command (and ``python -m mock_server``): start-up made light
before the app's modules are imported, then :func:`mock_server.cli.main`.

- The collector is held until the app is built (:func:`mock_server.collector.hold`).
- httpx, which Connexion imports (through ``starlette.testclient``), imports its own
  command-line client when ``rich``, ``click`` and ``pygments`` are installed (as they are
  beside Schemathesis): ~40 ms of a start-up for a program the mock never runs. A ``None``
  in ``sys.modules`` makes that import fail, and httpx falls back to a stub ``main``
  (httpx/__init__.py); nothing else of httpx changes. Only in this process, and only when
  httpx was not imported already.
"""

from __future__ import annotations

import sys

from mock_server import collector

__all__ = ["main"]


def main() -> int:
    collector.hold()
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from mock_server.cli import main as run

    return run()
