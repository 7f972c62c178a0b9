"""Schemathesis, all checks, over the running mock: zero failures for both specs and for
the control plane's own document.

Each run gets the fixture's ids (so requests reach real records, not only 404s)
and a valid key (so auth checks see a working credential). Seeded: reproducible.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, SPECS, fixture_data
from tests.e2e.conftest import RunningServer, ServerLog
from tests.e2e.conftest import run_schemathesis as run
from tests.e2e.conftest import schemathesis_config as config

pytestmark = pytest.mark.e2e


def test_craftkit_passes_every_schemathesis_check(server: RunningServer, tmp_path: Path) -> None:
    # Schemathesis counts every 5xx as a server error, the contract's documented
    # 502 too; that record's 502 is covered in tests/mock_server/test_craftkit_cancel.py.
    ids = [
        r["id"]
        for r in fixture_data("craftkit")["signature_requests"]
        if r["project"] == "proj_acme" and r.get("mock", {}).get("on_cancel") != "provider_error"
    ]
    cfg = config(
        tmp_path / "st.toml", authorization=f"Bearer {ACME_TEST_KEY}", parameter="path.id", ids=ids
    )
    result = run(SPECS["craftkit"], server.url, cfg)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout
    assert "Missing test data" not in result.stdout, "requests never reached a fixture record"


# The contract answers a schema-valid revoke of an already revoked JWT with 400
# ("JWT has already been revoked"), so 400 is an expected answer to valid data.
FIRMA_EXPECTED = (
    "[checks.positive_data_acceptance]\n"
    'expected-statuses = ["2xx", "400", "401", "403", "404", "429"]'
)


@pytest.mark.parametrize("base", ["/functions/v1/signing-request-api", "/api/v1"])
def test_firma_passes_every_schemathesis_check(
    server: RunningServer, tmp_path: Path, base: str
) -> None:
    ids = [j["jwt_id"] for j in fixture_data("firma")["jwts"] if j["workspace"] == "ws_acme"]
    cfg = config(
        tmp_path / "st.toml",
        authorization=FIRMA_ACME_KEYS[0],
        parameter="body.jwt_id",
        ids=ids,
        extra=FIRMA_EXPECTED,
    )
    result = run(SPECS["firma"], f"{server.url}{base}", cfg)
    assert result.returncode == 0, result.stdout[-4000:]
    # At /api/v1 Schemathesis warns that the spec's first server names another
    # path: a warning about the URL, not a failure of the mock.
    assert "Failures:" not in result.stdout


# The control plane refuses some schema-valid bodies for what no static schema can say:
# a project or workspace the fixtures do not have, an id the session has already, an
# event the record's state or recipients do not allow, a fault for an operation the
# api does not have or a status it does not document. Each operation's description
# says so, and each refusal is a documented 400, 404 or 409 (checked all the same).
CONTROL_EXPECTED = """
# Scenarios long enough to walk every link (create, then act on what was created).
[phases.stateful]
max-steps = 12

[[operations]]
include-operation-id = [
    "create_signature_request", "create_signature_requests", "apply_event",
    "issue_jwt", "issue_jwts", "add_fault",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]

# The operations on one record get the fixture's ids half the time, so they reach records
# (a cancel or revoke refused by the record's state is a documented 409).
[[operations]]
include-operation-id = ["get_signature_request", "cancel_signature_request"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "409"]
parameters = { "path.id" = { dictionary = "requests", probability = 0.5 } }

[[operations]]
include-operation-id = ["get_jwt", "revoke_jwt"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404", "409"]
parameters = { "path.jwt_id" = { dictionary = "jwts", probability = 0.5 } }

# GET /__mock/events streams for up to 300 s: tests/e2e/test_events.py reads it instead.
[[operations]]
include-operation-id = "stream_events"
enabled = false
"""


def test_control_plane_passes_every_schemathesis_check(
    server: RunningServer, tmp_path: Path
) -> None:
    """Its document, as the mock serves it, describes every answer it gives: statuses,
    headers (``Allow`` on a 405, ``Retry-After``), content types, bodies; stateful too
    (a created request's events, through the document's links)."""
    ServerLog(server)  # read in the background: a log pipe left full blocks the server
    cfg = tmp_path / "st.toml"
    requests = [r["id"] for r in fixture_data("craftkit")["signature_requests"]]
    tokens = [j["jwt_id"] for j in fixture_data("firma")["jwts"]]
    cfg.write_text(
        f"{CONTROL_EXPECTED}\n"
        f"[dictionaries.requests]\nvalues = {json.dumps(requests)}\n"
        f"[dictionaries.jwts]\nvalues = {json.dumps(tokens)}\n"
    )
    result = run(f"{server.url}/docs/control.json", f"{server.url}/__mock", cfg, max_examples=15)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No issues found" in result.stdout, result.stdout[-4000:]
    assert "Missing test data" not in result.stdout, "events never reached a created request"
    covered = re.search(r"API Links: +(\d+) covered", result.stdout)
    assert covered and int(covered[1]) >= 6, result.stdout[-4000:]  # 2 before issue #14
    assert "stateful testing never reached" not in result.stdout, result.stdout[-4000:]
