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
  has the import system find a stand-in for them, which imports them, pydantic and all,
  when first asked for anything: whoever asks gets the real settings, the environment
  read as ever.
- Connexion imports ``requests`` (with urllib3, charset_normalizer, idna: ~40 ms of a
  start-up) to fetch a remote ``$ref`` as a spec loads, and the mock gives Connexion its
  documents as dicts with no remote reference. :func:`_on_first_use` has it loaded by
  the standard library's :class:`importlib.util.LazyLoader`: the import binds a module
  that executes on first use (an attribute, or another ``import requests``), as ever.
  Only a plain ``import`` can wait so: Jinja2, which Connexion's Swagger UI imports, is
  used as Starlette's templating module loads. (The lazy loader of Python 3.11 and of
  early 3.12 releases takes no lock: here only the event loop's thread would use it.)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from mock_server import collector

__all__ = ["main"]

SETTINGS = "openapi_schema_validator.settings"
ON_FIRST_USE = ("requests",)
"""Modules Connexion imports by a plain ``import`` and uses only in code the mock never
runs at start-up: loaded by :func:`_on_first_use`."""


def main() -> int:
    collector.hold()
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    _settings_on_first_use()
    _on_first_use(ON_FIRST_USE)
    from mock_server.cli import main as run

    return run()


def _on_first_use(names: Sequence[str]) -> None:
    """Each top-level module of ``names`` not imported yet: imported lazily, once, in this
    process (the finder then stands aside for it)."""
    waiting = {name for name in names if name not in sys.modules}
    if waiting:
        sys.meta_path.insert(0, _LoadedOnFirstUse(waiting))


class _LoadedOnFirstUse(importlib.abc.MetaPathFinder):
    """Finds each waiting module as the path finder does, its loader wrapped in a
    :class:`importlib.util.LazyLoader`; leaves ``sys.meta_path`` once none waits."""

    def __init__(self, waiting: set[str]) -> None:
        self._waiting = waiting

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in self._waiting:
            return None
        self._waiting.discard(name)
        if not self._waiting:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not found, or a loader LazyLoader cannot wrap: as ever
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _settings_on_first_use() -> None:
    """openapi-schema-validator's settings module, imported when first used (not when its
    package loads): only in this process, and only if the package is not loaded yet."""
    if "openapi_schema_validator" in sys.modules or SETTINGS in sys.modules:
        return
    sys.meta_path.insert(0, _SettingsOnFirstUse())


class _SettingsOnFirstUse(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``openapi_schema_validator.settings`` (once) as a stand-in module, which the
    import system binds as usual (``sys.modules``, the package's ``settings``); the stand-in
    imports the real module (pydantic and all) when first asked for anything, and from then
    on stands aside: the real module takes its place in ``sys.modules`` and the package."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._real: types.ModuleType | None = None

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != SETTINGS:
            return None
        sys.meta_path.remove(self)  # once: the real module is found as any module is
        return importlib.util.spec_from_loader(name, self)

    def exec_module(self, module: types.ModuleType) -> None:
        def get_settings() -> Any:  # what _caches imports by name: the real one, each call
            return self.real().get_settings()

        def reset_settings_cache() -> None:
            self.real().reset_settings_cache()

        get_settings.cache_clear = reset_settings_cache  # type: ignore[attr-defined]

        def __getattr__(name: str) -> Any:  # anything else: the real module's
            if name.startswith("__"):  # the import system's questions (__path__...)
                raise AttributeError(name)
            return getattr(self.real(), name)

        module.get_settings = get_settings  # type: ignore[attr-defined]
        module.reset_settings_cache = reset_settings_cache  # type: ignore[attr-defined]
        module.__getattr__ = __getattr__  # type: ignore[method-assign]

    def real(self) -> types.ModuleType:
        """The real settings module, imported on the first call (in any thread: once)."""
        real = self._real
        if real is None:
            with self._lock:
                real = self._real
                if real is None:
                    sys.modules.pop(SETTINGS, None)  # the stand-in: found again, for real
                    real = self._real = importlib.import_module(SETTINGS)
        return real
