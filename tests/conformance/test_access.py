"""Issue #10, auth and tenancy: near misses of keys, their reproductions, the spec's servers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.apis import APIS
from conformance.apis.base import key_variants
from conformance.checks.access import Access, sibling_servers
from conformance.runner import run
from conformance.settings import Settings
from conformance.world import read_world
from tests.conformance.servers import serve
from tests.conformance.targets import firma_app, load_fixture
from tests.conftest import ROOT

FIRMA_SERVERS = [
    "https://api.firma.dev/functions/v1/signing-request-api",
    "https://api.firma.dev/api/v1",
]


@pytest.mark.parametrize(
    ("key", "prefixes"),
    [
        pytest.param("firma_acme_0001", (), id="firma"),
        pytest.param("ck_test_acme_0001", ("ck_live_", "ck_test_"), id="craftkit"),
        pytest.param('k$"`\\ey_0001', (), id="shell-special"),
    ],
)
def test_each_near_miss_is_reproduced_by_its_shell_expression(
    key: str, prefixes: tuple[str, ...]
) -> None:
    """A near miss of a key read from the environment is written in curl lines as an
    expression of its variable, and the shell turns it back into the very same string."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    variants = key_variants(key, prefixes)
    assert len(variants) >= 4 and all(v.text != key for v in variants)
    for variant in variants:
        shown = subprocess.run(
            [bash, "-c", f'printf %s "{variant.shell("QA_KEY")}"'],
            env={"QA_KEY": key, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown == variant.text, variant.label


def test_craftkit_near_misses_keep_the_prefix_rule_apart() -> None:
    texts = [v.text for v in APIS["craftkit"].key_variants("ck_test_acme_0001")]
    assert texts == [
        "ck_test_ACME_0001",
        "CK_TEST_acme_0001",
        "ck_test_acme_000",
        "ck_test_cme_0001",
        "ck_test_acme_0001x",
        "ck_live_acme_0001",
    ]


def test_every_key_in_every_form_is_used_in_turn() -> None:
    world = read_world(ROOT / "fixtures/craftkit.yaml", environ={})
    access = Access(APIS["craftkit"], world)
    combos = [a for _, a in access.of_tenant("proj_acme")]
    assert combos[:3] == [
        "Bearer ck_test_acme_0001",
        "Bearer ck_live_acme_0001",
        "bearer ck_test_acme_0001",
    ]
    assert len(combos) == 6
    access.failed.add("Bearer ck_live_acme_0001")  # e.g. refused by keys_authenticate
    assert access.take("proj_acme", 6) == [
        "Bearer ck_test_acme_0001",
        "bearer ck_test_acme_0001",
        "bearer ck_live_acme_0001",
        "BEARER ck_test_acme_0001",
        "BEARER ck_live_acme_0001",
        "Bearer ck_test_acme_0001",
    ]
    assert access.foreign("proj_acme") == (
        "key 1 of proj_globex as Bearer",
        "Bearer ck_live_globex_0001",
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        pytest.param(
            "http://127.0.0.1:8000/functions/v1/signing-request-api",
            ("/functions/v1/signing-request-api", ["http://127.0.0.1:8000/api/v1"]),
            id="functions",
        ),
        pytest.param(
            "https://gw.example/firma/api/v1/",
            ("/api/v1", ["https://gw.example/firma/functions/v1/signing-request-api"]),
            id="behind-a-prefix",
        ),
        pytest.param("http://127.0.0.1:8000/v2", (None, []), id="no-server-matches"),
    ],
)
def test_the_other_servers_are_derived_from_the_base_url(
    base_url: str, expected: tuple[str | None, list[str]]
) -> None:
    assert sibling_servers(base_url, FIRMA_SERVERS) == expected


def test_a_server_on_another_host_is_not_a_sibling() -> None:
    servers = ["https://api.firma.dev/api/v1", "https://sandbox.firma.dev/api/v2"]
    assert sibling_servers("http://127.0.0.1/api/v1", servers) == ("/api/v1", [])


@pytest.mark.loopback
def test_near_misses_of_a_secret_key_never_show_it(tmp_path: Path) -> None:
    """A key read from the environment appears in reproductions as $VAR, its near misses
    as shell expressions of $VAR: never the key, which a near miss all but spells."""
    secret = "firma_globex_s3cr3t_key"
    environ = {
        "FIRMA_GLOBEX_KEY": secret,
        "FIRMA_ACME_KEY_1": "firma_acme_s3cr3t_1",
        "FIRMA_ACME_KEY_2": "firma_acme_s3cr3t_2",
    }
    # Every key from the environment: a report folds the near misses of all keys into
    # one block, whichever key's reproduction it keeps.
    fixture = tmp_path / "firma.yaml"
    fixture.write_text(
        (ROOT / "fixtures/firma.yaml")
        .read_text()
        .replace("firma_acme_0001", "${FIRMA_ACME_KEY_1}")
        .replace("firma_acme_0002", "${FIRMA_ACME_KEY_2}")
    )
    app = firma_app(load_fixture(fixture, environ=environ), frozenset({"key_suffix_accepted"}))
    with serve(app) as url:
        report = run(
            Settings(
                api="firma",
                base_url=url + "/api/v1",
                fixtures=fixture,
                seed=1,
                profile="fast",
                phases=("state",),
                environ=environ,
            )
        )
    flagged = [v for v in report.violations if v.code == "key_exactness"]
    assert flagged and all(re.search(r"\$\{FIRMA_\w+[#%}]", v.curl) for v in flagged), [
        v.curl for v in flagged
    ]
    for violation in report.violations:
        assert "s3cr3t" not in violation.curl + violation.detail, violation
