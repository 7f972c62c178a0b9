"""The harness against planted faults: each is flagged, by the check that names it.

Every row is an independent implementation (``targets.py``) with one fault,
served on a real loopback socket; the harness runs its ``fast`` profile with a
fixed seed. Correct variants that read the contract differently from the mock
must pass with no violation at all.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from conformance.client import Clock
from conformance.runner import Report, run
from conformance.settings import Settings
from tests.conformance.servers import AppSlot
from tests.conformance.targets import (
    CRAFTKIT_VARIANTS,
    FIRMA_BASE_PATHS,
    FIRMA_VARIANTS,
    craftkit_app,
    firma_app,
    load_fixture,
)
from tests.conftest import FIXTURES

pytestmark = pytest.mark.loopback

APPS = {"craftkit": craftkit_app, "firma": firma_app}
SEED = 20261122


class FastClock:
    """Real time plus every wait the harness asked for, skipped: one clock for a target
    and the harness, so that waiting for a rate window costs no real time."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.offset += max(seconds, 0.0)


def check(
    target: tuple[AppSlot, str],
    api: str,
    *,
    faults: frozenset[str] = frozenset(),
    variant: str | None = None,
    probe: bool = False,
    timeout: float = 5.0,
    phases: tuple[str, ...] = ("contract", "state"),
    # -- rate limits and bounds (issue #10, probe)
    fast_clock: bool = False,
    window: float | None = None,
    write_per_minute: int | None = None,
    max_time: float = 600.0,
) -> Report:
    """One run. ``fast_clock`` shares a :class:`FastClock` between the target and the
    harness; ``window`` shortens the Firma target's rate windows (seconds);
    ``write_per_minute`` runs both over a fixture with that quota."""
    slot, url = target
    fixture = load_fixture(FIXTURES[api], environ={})  # as the harness reads it (Settings.environ)
    path, scratch = Path(FIXTURES[api]), None
    if write_per_minute is not None:
        fixture["rate_limits"] = {"write_per_minute": write_per_minute}
        scratch = Path(tempfile.mkdtemp(prefix="catalogue-"))
        path = scratch / f"{api}.yaml"
        path.write_text(yaml.safe_dump(fixture), encoding="utf-8")
    clock = FastClock() if fast_clock else None
    timing: dict[str, object] = {}
    if clock is not None:
        timing["clock"] = clock.now
    if window is not None:
        timing["window"] = window
    slot.app = APPS[api](fixture, faults, variant, **timing)
    base = url + (FIRMA_BASE_PATHS[0] if api == "firma" else "")
    settings = Settings(
        api=api,
        base_url=base,
        fixtures=path,
        seed=SEED,
        profile="fast",
        rate_limit_probe=probe,
        timeout=timeout,
        phases=phases,
        max_time=max_time,
    )
    try:
        if clock is None:
            return run(settings)
        return run(settings, clock=Clock(now=clock.now, sleep=clock.sleep))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def fault(api: str, name: str, code: str, **options: object) -> object:
    """A catalogue row. ``phases=STATE`` skips Schemathesis for a fault only the state
    phase can see (a row then costs about a third as much)."""
    return pytest.param(api, name, code, options, id=f"{api}-{name}")


STATE = ("state",)
# The rate-limit probe, fast: state phase only, the target's windows two seconds long on
# a clock shared with the harness (its waits cost nothing).
PROBE: dict[str, object] = {"probe": True, "phases": STATE, "fast_clock": True, "window": 2.0}


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
    fault("firma", "no_rate_limit", "rate_limit", **PROBE),
    fault("firma", "no_retry_after", "rate_limit", **PROBE),
    fault("firma", "only_success_counted", "rate_limit", **PROBE),
    fault("firma", "hang", "transport", timeout=0.5),
    fault("firma", "non_json_200", "response_conformance"),
    fault("firma", "cascade", "no_cascade"),
    fault("firma", "firma_wrong_id_echoed", "revoke_active"),
    fault("firma", "second_key_refused", "keys_authenticate"),
    fault("firma", "bad_uuid_404", "invalid_body_rejected"),
    fault("firma", "missing_jwt_id_500", "not_a_server_error"),
    fault("firma", "no_ratelimit_headers", "rate_limit_headers"),
    fault("firma", "racy_revoke", "concurrent_acts"),
    # -- issue #10, auth and tenancy: every key exactly, in every form; tenancy in every
    # state; concurrency across keys and forms; every server of the spec
    fault("craftkit", "keys_case_insensitive", "key_exactness", phases=STATE),
    fault("craftkit", "key_prefix_accepted", "key_exactness", phases=STATE),
    fault("craftkit", "bearer_case_sensitive", "bearer_scheme_case", phases=STATE),
    fault("craftkit", "extra_keys_unscoped", "keys_reach_tenant", phases=STATE),
    fault("craftkit", "extra_keys_skip_state", "terminal_conflict", phases=STATE),
    fault("craftkit", "id_before_key", "refusal_envelope", phases=STATE),
    fault("craftkit", "body_before_key", "refusal_envelope", phases=STATE),
    fault("craftkit", "state_before_tenant", "foreign_any_state", phases=STATE),
    fault("craftkit", "foreign_404_differs", "foreign_any_state", phases=STATE),
    fault("craftkit", "losers_get_502", "concurrent_losers", phases=STATE),
    fault("craftkit", "lock_per_key", "concurrent_acts", phases=STATE),
    fault("firma", "key_suffix_accepted", "key_exactness", phases=STATE),
    fault("firma", "key_extension_accepted", "key_exactness", phases=STATE),
    fault("firma", "second_key_other_workspace", "keys_reach_tenant", phases=STATE),
    fault("firma", "bearer_rerevokes", "terminal_conflict", phases=STATE),
    fault("firma", "body_before_key", "refusal_envelope", phases=STATE),
    fault("firma", "craftkit_envelope_for_ck_keys", "error_envelope", phases=STATE),
    fault("firma", "revoked_before_workspace", "foreign_any_state", phases=STATE),
    fault("firma", "losers_get_404", "concurrent_losers", phases=STATE),
    fault("firma", "lock_per_key", "concurrent_acts", phases=STATE),
    fault("firma", "second_server_leak", "tenant_isolation", phases=STATE),
    fault("firma", "separate_worlds", "every_server", phases=STATE),
    # ---- issue #10: valid requests are accepted, forbidden values refused
    fault("craftkit", "charset_refused", "valid_variants_accepted", phases=STATE),
    fault("craftkit", "extra_key_refused", "valid_variants_accepted", phases=STATE),
    fault("craftkit", "reason_utf16_counted", "valid_variants_accepted", phases=STATE),
    fault("craftkit", "reason_bytes_counted", "valid_variants_accepted", phases=STATE),
    fault("firma", "media_type_case_sensitive", "valid_variants_accepted", phases=STATE),
    fault("firma", "extra_key_refused", "valid_variants_accepted", phases=STATE),
    fault("craftkit", "case_sensitive_id", "upper_case_id", phases=STATE),
    fault("firma", "case_sensitive_jwt_id", "upper_case_id", phases=STATE),
    fault("craftkit", "options_500", "undeclared_method", phases=STATE),
    fault("firma", "delete_revokes", "undeclared_method", phases=STATE),
    fault("craftkit", "null_reason_accepted", "forbidden_value_refused", phases=STATE),
    fault("craftkit", "reason_graphemes_counted", "forbidden_value_refused", phases=STATE),
    fault("firma", "lenient_uuid", "forbidden_value_refused", phases=STATE),
    # ---- issue #10: what a response means
    fault("craftkit", "recipients_declined", "recipients_unchanged", phases=STATE),
    fault("craftkit", "completed_at_future", "timestamps_sane", phases=STATE),
    fault("craftkit", "completed_before_created", "timestamps_sane", phases=STATE),
    fault("firma", "revoked_at_example", "timestamps_sane", phases=STATE),
    # ---- issue #10: enough acts to see faults that show late (every open resource spent)
    fault("craftkit", "late_failure", "cancel_in_flight", phases=STATE),
    fault("firma", "late_failure", "revoke_active", phases=STATE),
    # -- rate limits as the Firma contract describes them (issue #10, probe)
    fault("firma", "rate_limited_revokes", "rejected_changes_nothing", **PROBE),
    fault("firma", "rate_limit_shared", "rate_limit_per_key", **PROBE),
    fault("firma", "rate_limit_per_workspace", "rate_limit_per_key", **PROBE),
    fault("firma", "remaining_stuck", "rate_limit_remaining", **PROBE),
    fault("firma", "remaining_negative", "rate_limit_remaining", **PROBE),
    fault("firma", "limit_misannounced", "rate_limit_limit", **PROBE),
    fault("firma", "reset_in_milliseconds", "rate_limit_reset", **PROBE),
    fault("firma", "reset_relative", "rate_limit_reset", **PROBE),
    fault("firma", "retry_after_hour", "rate_limit_retry_after", **PROBE),
    fault("firma", "late_reset", "rate_limit_recovers", **PROBE),
    fault("firma", "rate_limit_plain", "error_envelope", **PROBE),
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


# Firma runs with the rate-limit probe, on a shared fast clock (no real waits).
PROBING: dict[str, dict[str, object]] = {
    "craftkit": {},
    "firma": {"probe": True, "fast_clock": True, "window": 2.0},
}
VARIANT_OPTIONS: dict[tuple[str, str], dict[str, object]] = {
    # Ten-second windows, so that the burst (about two seconds) fits in one but may meet a
    # restart, as a minute does on a real target; the state phase alone is enough.
    ("firma", "slow"): {"phases": STATE, "window": 10.0},
}


@pytest.mark.parametrize(
    ("api", "variant"),
    [pytest.param("craftkit", v, id=f"craftkit-{v}") for v in CRAFTKIT_VARIANTS]
    + [pytest.param("firma", v, id=f"firma-{v}") for v in FIRMA_VARIANTS],
)
def test_correct_variants_pass(target: tuple[AppSlot, str], api: str, variant: str) -> None:
    options = {**PROBING[api], **VARIANT_OPTIONS.get((api, variant), {})}
    report = check(target, api, variant=variant, **options)  # type: ignore[arg-type]
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)


@pytest.mark.parametrize("api", ["craftkit", "firma"])
def test_the_reference_target_passes(target: tuple[AppSlot, str], api: str) -> None:
    report = check(target, api, **PROBING[api])  # type: ignore[arg-type]
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)


def test_a_run_is_deterministic_for_a_seed(target: tuple[AppSlot, str]) -> None:
    first = check(target, "craftkit", faults=frozenset({"cascade", "wrong_error_code"}))
    second = check(target, "craftkit", faults=frozenset({"cascade", "wrong_error_code"}))
    assert {"no_cascade", "error_envelope"} <= first.codes(), "the comparison is not vacuous"
    assert [(v.code, v.detail) for v in first.violations] == [
        (v.code, v.detail) for v in second.violations
    ]


# ---------------------------------------------------------------- issue #10, every server


@pytest.mark.parametrize("variant", [None, "bearer_exact_case"])
def test_the_other_firma_server_as_base_url_passes(
    target: tuple[AppSlot, str], variant: str | None
) -> None:
    """--base-url at /api/v1: the spec's other server, /functions/v1/..., is derived and checked."""
    slot, url = target
    slot.app = firma_app(load_fixture(FIXTURES["firma"], environ={}), frozenset(), variant)
    settings = Settings(
        api="firma",
        base_url=url + FIRMA_BASE_PATHS[1],
        fixtures=Path(FIXTURES["firma"]),
        seed=SEED,
        profile="fast",
        phases=STATE,
    )
    report = run(settings)
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)
    assert any(
        note.startswith("servers of the spec checked: /api/v1 (--base-url), " + FIRMA_BASE_PATHS[0])
        for note in report.notes
    ), report.notes


def test_a_server_the_target_does_not_serve_is_named_in_a_note(
    target: tuple[AppSlot, str],
) -> None:
    report = check(target, "firma", variant="one_server", phases=STATE)
    assert report.violations == []
    assert any("not served, so not checked: /api/v1" in note for note in report.notes), report.notes


# ---- issue #10: enough acts to see faults that show late


@pytest.mark.parametrize("profile", ["fast", "default"])
@pytest.mark.parametrize(("api", "open_resources"), [("craftkit", 10), ("firma", 9)])
def test_a_run_spends_every_open_resource_and_says_so(
    target: tuple[AppSlot, str], api: str, open_resources: int, profile: str
) -> None:
    slot, url = target
    slot.app = APPS[api](load_fixture(FIXTURES[api], environ={}), frozenset(), None)
    base = url + (FIRMA_BASE_PATHS[0] if api == "firma" else "")
    settings = Settings(
        api=api, base_url=base, fixtures=FIXTURES[api], seed=SEED, profile=profile, phases=STATE
    )
    report = run(settings)
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)
    spent = f"spent {open_resources} of {open_resources} open resources the fixture lists"
    assert any(note.startswith(spent) for note in report.notes), report.notes
    # The bundled fixtures list enough for every check (docs/fixtures.md: seven, nine).
    skipped = [note for note in report.notes if "no open resource left" in note]
    assert skipped == [], skipped


# -- rate limits: allowed variations with a small quota (issue #10, probe) ------------


@pytest.mark.parametrize("variant", [None, "terse", "sliding", "slow"])
def test_a_small_quota_passes_the_probe(target: tuple[AppSlot, str], variant: str | None) -> None:
    """A fixture's small ``rate_limits.write_per_minute``: the state phase waits for windows
    (on the shared clock), the probe bursts past the quota and sees it come back."""
    report = check(target, "firma", variant=variant, write_per_minute=5, **PROBE)  # type: ignore[arg-type]
    assert report.violations == [], "\n".join(f"{v.code}: {v.detail}" for v in report.violations)
    assert any("429 after" in note for note in report.notes), report.notes


@pytest.mark.parametrize(
    ("phases", "max_time", "cut_in"),
    [
        (("contract", "state"), 0.5, "contract"),
        # The state phase takes many seconds on the slow target; this budget leaves the
        # reading of the files and the preconditions (two slow answers) time enough on a
        # busy machine (0.5 s did not always: then the cut came before the phase, below).
        (STATE, 2.0, "state"),
        (("contract", "state"), 1e-3, "preconditions"),
    ],
)
def test_a_run_past_max_time_stops_and_fails(
    target: tuple[AppSlot, str], phases: tuple[str, ...], max_time: float, cut_in: str
) -> None:
    """--max-time: the run stops where it is, keeps what it found, and fails (exit 1)
    with max_time_exceeded naming what did not run, never passing silently; also when it
    is spent before a phase began (it escaped the run as an error: exit 3)."""
    report = check(target, "firma", variant="slow", max_time=max_time, phases=phases)
    assert report.codes() == {"max_time_exceeded"}, report.codes()
    assert report.exit_code == 1
    (cut,) = report.violations
    assert cut.phase == cut_in, cut.detail
    assert ("not run: state" in cut.detail) == (cut_in == "contract"), cut.detail
    if cut_in == "preconditions":
        assert "ran: nothing; not run: contract, state" in cut.detail, cut.detail
