"""Start-up kept light (issue #12's ready time): the collector held until the app is
built, then its policy; the entry's imports. Speed itself is the benchmark's
(docs/performance.md); here, what each step must do."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mock_server import collector


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_hold_stops_the_collector_until_settle_freezes_and_restarts_it() -> None:
    gc.enable()
    collector.hold()
    assert not gc.isenabled(), "no collection while start-up builds its objects"
    made = [[n] for n in range(100)]
    before = gc.get_freeze_count()
    collector.settle()
    assert gc.isenabled(), "the collector runs again once the app is built"
    assert gc.get_freeze_count() >= before + len(made), "what start-up made is frozen"


def test_settle_leaves_a_collector_it_did_not_stop_as_it_was() -> None:
    gc.disable()  # the embedding program's choice
    collector.hold()
    collector.settle()
    assert not gc.isenabled()
    gc.enable()
    collector.settle()
    assert gc.isenabled()


def _python(script: str, env: dict[str, str] | None = None) -> str:
    """What ``script`` prints, run by a fresh interpreter (whose imports are its own)."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True,
        env=env,
    )  # fmt: skip
    return done.stdout


def _entry_then(code: str) -> str:
    """Run ``mock-server --version`` through the entry in a fresh interpreter, then ``code``."""
    return _python(
        "import sys\n"
        "from mock_server import entry\n"
        "sys.argv = ['mock-server', '--version']\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit:\n"
        "    pass\n" + code
    )


APP_AS_THE_ENTRY_BUILDS_IT = (
    "from mock_server.app import create_app\n"
    "from mock_server.settings import Settings\n"
    "app = create_app(Settings())\n"
)


def test_the_entry_imports_the_cli_without_httpx_s_command_line_client() -> None:
    shown = _entry_then(
        "import httpx\n"
        "print(sys.modules.get('httpx._main', 'imported'))\n"
        "print('rich' in sys.modules)\n"
        "print(httpx.Client is not None, callable(httpx.main))\n"
    ).split("\n")
    assert shown[0].startswith("mock-server "), shown
    assert shown[1:4] == ["None", "False", "True True"], shown


def test_importing_the_package_imports_no_app() -> None:
    shown = _python(
        "import sys, mock_server.entry, mock_server.collector; "
        "print(sorted(m for m in ('connexion', 'mock_server.app', 'uvicorn') "
        "if m in sys.modules))"
    )
    assert shown.strip() == "[]"
    from mock_server import Settings, create_app  # the names still resolve, on first use

    assert callable(create_app) and Settings().workers == 1


def test_the_package_s_names_and_submodules_resolve_lazily() -> None:
    import mock_server

    assert mock_server.Settings is mock_server.settings.Settings
    names = dir(mock_server)
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = mock_server.nope  # type: ignore[attr-defined]


def test_the_entry_loads_openapi_schema_validator_s_settings_only_when_used() -> None:
    """Built as the entry builds it, the app imports no pydantic (~70 ms of start-up);
    the validator's ``validate`` shortcut, which reads the settings, still works and
    reads the environment as ever, from the real module."""
    script = (
        "import os, sys\n"
        "from mock_server import entry\n"
        "entry._settings_on_first_use()\n"
        + APP_AS_THE_ENTRY_BUILDS_IT
        + "print(sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))\n"
        "import openapi_schema_validator\n"
        "print(openapi_schema_validator.settings.__spec__ is not None, 'pydantic' in sys.modules)\n"
        "from openapi_schema_validator import validate\n"
        "validate({'a': 1}, {'type': 'object'})\n"
        "import openapi_schema_validator.settings as settings\n"
        "print(settings.get_settings().compiled_validator_cache_max_size)\n"
        "print(settings is sys.modules[settings.__name__] is openapi_schema_validator.settings)\n"
        "print(type(settings.get_settings()).__name__, 'pydantic_settings' in sys.modules)\n"
    )
    shown = _python(
        script, {**os.environ, "OPENAPI_SCHEMA_VALIDATOR_COMPILED_VALIDATOR_CACHE_MAX_SIZE": "7"}
    )
    assert shown.split("\n")[:5] == [
        "[]",
        "True False",
        "7",
        "True",
        "OpenAPISchemaValidatorSettings True",
    ], shown


def test_the_settings_stand_in_answers_as_the_real_module_and_stays_out_once_it_is_loaded() -> None:
    shown = _entry_then(
        "import openapi_schema_validator.settings as s\n"
        "print(hasattr(s, 'OpenAPISchemaValidatorSettings'), 'pydantic' in sys.modules)\n"
    ).split("\n")
    assert shown[1] == "True True", shown
    script = (
        "import sys, openapi_schema_validator\n"
        "real = sys.modules['openapi_schema_validator.settings']\n"
        "from mock_server import entry\n"
        "entry._settings_on_first_use()\n"
        "print(sys.modules['openapi_schema_validator.settings'] is real)\n"
    )
    assert _python(script).strip() == "True"


def test_the_entry_loads_requests_only_when_used() -> None:
    """Connexion imports ``requests`` for remote references the mock's documents do not
    have (~40 ms of start-up): built and serving (a vendor call, the control plane, the
    docs) as the entry runs it, the app leaves it unloaded (urllib3 and all); first use,
    by attribute or ``from requests import``, loads the real module."""
    script = (
        "import sys\n"
        "from mock_server import entry\n"
        "entry._on_first_use(entry.ON_FIRST_USE)\n"
        + APP_AS_THE_ENTRY_BUILDS_IT
        + "from starlette.testclient import TestClient\n"
        "with TestClient(app, base_url='http://127.0.0.1', client=('127.0.0.1', 5000)) as c:\n"
        "    print(c.post('/v1/signatures/b50e3956-c1dc-5ef7-b899-e9d0d63cb704/cancel',"
        " headers={'Authorization': 'Bearer ck_test_acme_0001'}).status_code,"
        " c.get('/__mock/state').status_code, c.get('/docs/').status_code)\n"
        "print(sorted(m for m in ('urllib3', 'charset_normalizer', 'requests.api')"
        " if m in sys.modules), 'requests' in sys.modules)\n"
        "import connexion.json_schema as js\n"
        "print(js.requests.codes.ok, 'urllib3' in sys.modules)\n"
        "from requests import Session\n"
        "print(Session.__module__, js.requests is sys.modules['requests'])\n"
        "print([f for f in sys.meta_path if type(f).__module__ == 'mock_server.entry'])\n"
    )
    shown = _python(script)
    assert shown.split("\n")[:5] == [
        "409 200 200",
        "[] True",
        "200 True",
        "requests.sessions True",
        "[]",
    ], shown


def test_the_entry_sets_requests_to_load_on_first_use() -> None:
    shown = _entry_then(
        "print(type(sys.modules['requests']).__name__, 'urllib3' in sys.modules)\n"
    ).split("\n")
    assert shown[1] == "_LazyModule False", shown


def test_a_module_imported_before_the_entry_is_left_as_it_is() -> None:
    script = (
        "import sys, requests\n"
        "from mock_server import entry\n"
        "entry._on_first_use(('requests',))\n"
        "print(sys.modules['requests'] is requests, type(requests).__name__)\n"
        "print([f for f in sys.meta_path if type(f).__module__ == 'mock_server.entry'])\n"
    )
    shown = _python(script)
    assert shown.split("\n")[:2] == ["True module", "[]"], shown
