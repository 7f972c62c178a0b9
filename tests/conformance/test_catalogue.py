"""The harness against planted faults: each is flagged, by the check that names it.

Every row is an independent implementation (``targets.py``) with one fault,
served on a real loopback socket; the harness runs its ``fast`` profile with a
fixed seed. Correct variants that read the contract differently from the mock
must pass with no violation at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.runner import Report, run
from conformance.settings import Settings
from tests.conformance.servers import AppSlot, serve
from tests.conformance.targets import (
    CRAFTKIT_VARIANTS,
    FIRMA_BASE_PATHS,
    FIRMA_VARIANTS,
    craftkit_app,
    firma_app,
    load_fixture,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.loopback

FIXTURES = {"craftkit": ROOT / "fixtures/craftkit.yaml", "firma": ROOT / "fixtures/firma.yaml"}
APPS = {"craftkit": craftkit_app, "firma": firma_app}
SEED = 20261122


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with serve(slot) as url:
        yield slot, url


def check(
    target: tuple[AppSlot, str],
    api: str,
    *,
    faults: frozenset[str] = frozenset(),
    variant: str | None = None,
    probe: bool = False,
    timeout: float = 5.0,
    phases: tuple[str, ...] = ("contract", "state"),
    max_time: float = 600.0,  # issue #10: bounded rows
) -> Report:
    slot, url = target
    fixture = load_fixture(FIXTURES[api], environ={})  # as the harness reads it (Settings.environ)
    slot.app = APPS[api](fixture, faults, variant)  # a fresh world per row
    base = url + (FIRMA_BASE_PATHS[0] if api == "firma" else "")
    settings = Settings(
        api=api,
        base_url=base,
        fixtures=Path(FIXTURES[api]),
        seed=SEED,
        profile="fast",
        rate_limit_probe=probe,
        timeout=timeout,
        phases=phases,
        max_time=max_time,
    )
    return run(settings)


def fault(api: str, name: str, code: str, **options: object) -> object:
    """A catalogue row. ``phases=STATE`` skips Schemathesis for a fault only the state
    phase can see (a row then costs about a third as much)."""
    return pytest.param(api, name, code, options, id=f"{api}-{name}")


STATE = ("state",)


CATALOGUE = [
    fault("craftkit", "terminal_cancellable", "terminal_conflict"),
    fault("craftkit", "recancel_accepted", "repeat_conflict"),
    fault("craftkit", "ignores_auth", "auth_required"),
    fault("craftkit", "tenant_leak", "tenant_isolation"),
    fault("craftkit", "wrong_id_echoed", "cancel_in_flight"),
    fault("craftkit", "status_not_cancelled", "cancel_in_flight"),
    fault("craftkit", "wrong_error_code", "error_envelope"),
    fault("craftkit", "error_text_plain", "error_envelope"),
    fault("craftkit", "long_reason_accepted", "invalid_body_rejected"),
    fault("craftkit", "rejected_changes_state", "rejected_changes_nothing"),
    fault("craftkit", "cascade", "no_cascade", phases=STATE),
    fault("craftkit", "unknown_500", "not_a_server_error"),
    fault("craftkit", "unknown_403", "unknown_not_found"),
    fault("craftkit", "schema_break", "response_conformance"),
    fault("craftkit", "name_changed", "unchanging_fields"),
    fault("craftkit", "no_allow_header", "unsupported_method"),
    fault("craftkit", "test_keys_refused", "keys_authenticate"),
    fault("craftkit", "empty_body_refused", "cancel_in_flight"),
    fault("craftkit", "provider_error_changes_state", "terminal_conflict"),
    fault("craftkit", "racy_cancel", "concurrent_acts"),
    fault("firma", "bearer_refused", "auth_forms"),
    fault("firma", "rerevoke_accepted", "repeat_conflict"),
    fault("firma", "workspace_leak", "tenant_isolation"),
    fault("firma", "wrong_error_reason", "error_envelope"),
    fault("firma", "revoked_false", "revoke_active"),
    fault("firma", "no_rate_limit", "rate_limit", probe=True),
    fault("firma", "no_retry_after", "rate_limit", probe=True),
    fault("firma", "only_success_counted", "rate_limit", probe=True),
    fault("firma", "hang", "transport", timeout=0.5),
    fault("firma", "non_json_200", "response_conformance"),
    fault("firma", "cascade", "no_cascade"),
    fault("firma", "firma_wrong_id_echoed", "revoke_active"),
    fault("firma", "second_key_refused", "keys_authenticate"),
    fault("firma", "bad_uuid_404", "invalid_body_rejected"),
    fault("firma", "missing_jwt_id_500", "not_a_server_error"),
    fault("firma", "no_ratelimit_headers", "rate_limit_headers"),
    fault("firma", "racy_revoke", "concurrent_acts"),
    # -- bounded against anything: each row also bounded by the harness's own --max-time
    # (a row that needed it would fail with max_time_exceeded), never a wall-clock assert
    fault("firma", "locked_for_an_hour", "retry_after_excessive", max_time=30.0),
    fault("craftkit", "slow_endless_body", "transport", timeout=0.5, max_time=30.0),
    fault("craftkit", "huge_body", "response_too_large", max_time=30.0),
    fault("craftkit", "gzip_bomb", "response_too_large", max_time=30.0),
]


@pytest.mark.parametrize(("api", "name", "code", "options"), CATALOGUE)
def test_each_planted_fault_is_flagged_by_its_check(
    target: tuple[AppSlot, str], api: str, name: str, code: str, options: dict[str, object]
) -> None:
    report = check(target, api, faults=frozenset({name}), **options)  # type: ignore[arg-type]
    assert report.exit_code == 1
    assert code in report.codes(), (
        f"{name} should be flagged as {code}; got {sorted(report.codes())}"
    )
    assert "max_time_exceeded" not in report.codes() or code == "max_time_exceeded", (
        "the row needed more than its --max-time: the harness was not bounded"
    )
    flagged = next(v for v in report.violations if v.code == code)
    assert flagged.curl.startswith("curl ") or flagged.phase == "contract", flagged
    assert "[Filtered]" not in flagged.curl, "a reproduction carries the key it needs"


@pytest.mark.parametrize(
    ("api", "variant"),
    [pytest.param("craftkit", v, id=f"craftkit-{v}") for v in CRAFTKIT_VARIANTS]
    + [pytest.param("firma", v, id=f"firma-{v}") for v in FIRMA_VARIANTS],
)
def test_correct_variants_pass(target: tuple[AppSlot, str], api: str, variant: str) -> None:
    report = check(target, api, variant=variant, probe=api == "firma")
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)


@pytest.mark.parametrize("api", ["craftkit", "firma"])
def test_the_reference_target_passes(target: tuple[AppSlot, str], api: str) -> None:
    report = check(target, api, probe=api == "firma")
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)


def test_a_run_is_deterministic_for_a_seed(target: tuple[AppSlot, str]) -> None:
    first = check(target, "craftkit", faults=frozenset({"cascade", "wrong_error_code"}))
    second = check(target, "craftkit", faults=frozenset({"cascade", "wrong_error_code"}))
    assert {"no_cascade", "error_envelope"} <= first.codes(), "the comparison is not vacuous"
    assert [(v.code, v.detail) for v in first.violations] == [
        (v.code, v.detail) for v in second.violations
    ]


@pytest.mark.parametrize(
    ("phases", "cut_in"), [(("contract", "state"), "contract"), (STATE, "state")]
)
def test_a_run_past_max_time_stops_and_fails(
    target: tuple[AppSlot, str], phases: tuple[str, ...], cut_in: str
) -> None:
    """--max-time: the run stops where it is, keeps what it found, and fails (exit 1)
    with max_time_exceeded naming what did not run, never passing silently."""
    report = check(target, "firma", variant="slow", max_time=0.5, phases=phases)
    assert report.codes() == {"max_time_exceeded"}, report.codes()
    assert report.exit_code == 1
    (cut,) = report.violations
    assert cut.phase == cut_in, cut.detail
    assert ("not run: state" in cut.detail) == (cut_in == "contract"), cut.detail
