"""The ``mock-server`` command (and ``python -m mock_server``): start-up made light
before the app's modules are imported, then :func:`mock_server.cli.main`.

- The collector is held until the app is built (:func:`mock_server.collector.hold`).
- httpx, which Connexion imports (through ``starlette.testclient``), imports its own
  command-line client when ``rich``, ``click`` and ``pygments`` are installed (as they are
  beside Schemathesis): ~40 ms of a start-up for a program the mock never runs. A ``None``
  in ``sys.modules`` makes that import fail, and httpx falls back to a stub ``main``
  (httpx/__init__.py); nothing else of httpx changes. Only in this process, and only when
  httpx was not imported already.
- openapi-schema-validator imports its settings as its package loads (``_caches``), and
  they import pydantic and pydantic-settings: ~70 ms of a start-up (~15 % of the mock's
  ready time) for one number (the size of the cache of its ``validate`` shortcut, which
  the mock never calls: it compiles its validators itself). :func:`_settings_on_first_use`
  puts in their place a module that imports them, pydantic and all, when first asked for
  anything: whoever asks gets the real settings, the environment read as ever.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from mock_server import collector

__all__ = ["main"]

SETTINGS = "openapi_schema_validator.settings"


def main() -> int:
    collector.hold()
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    _settings_on_first_use()
    from mock_server.cli import main as run

    return run()


def _settings_on_first_use() -> None:
    """openapi-schema-validator's settings module, imported when first used (not when its
    package loads): only in this process, and only if the package is not loaded yet."""
    if "openapi_schema_validator" in sys.modules or SETTINGS in sys.modules:
        return
    stand_in = types.ModuleType(SETTINGS, "imports openapi_schema_validator.settings on use")

    def real() -> types.ModuleType:
        if sys.modules.get(SETTINGS) is stand_in:
            del sys.modules[SETTINGS]
        module = importlib.import_module(SETTINGS)
        package = sys.modules.get("openapi_schema_validator")
        if package is not None:  # the package's attribute, as an import would set it
            package.settings = module  # type: ignore[attr-defined]
        return module

    def get_settings() -> Any:  # what _caches imports by name: the real one, on each call
        return real().get_settings()

    def reset_settings_cache() -> None:
        real().reset_settings_cache()

    def __getattr__(name: str) -> Any:  # anything else: the real module's
        if name.startswith("__"):  # the import system's questions (__path__...): not asked
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.get_settings = get_settings  # type: ignore[attr-defined]
    stand_in.reset_settings_cache = reset_settings_cache  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[SETTINGS] = stand_in
