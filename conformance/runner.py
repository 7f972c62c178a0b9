"""One harness run: read the fixture, reach the target, run the phases, gather the report.

Example (against a running mock)::

    report = run(Settings(api="firma", base_url="http://127.0.0.1:8000/api/v1",
                          fixtures=Path("fixtures/firma.yaml")))
    report.exit_code  # 0: no violation, 1: violations

A run is bounded (issue #10): every request by ``--timeout`` (body included), a
whole run by ``--max-time``. A run that reaches ``--max-time`` stops where it is,
keeps what it found, and reports ``max_time_exceeded`` (exit 1): a cut-short run
never passes silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance._version import version
from conformance.apis import APIS
from conformance.checks import checks_for, title_of
from conformance.client import (
    MAX_WAIT,
    SYSTEM_CLOCK,
    UNRESPONSIVE_AFTER,
    Budget,
    Client,
    Clock,
    Exchange,
    OutOfTime,
    TargetUnresponsive,
)
from conformance.errors import TargetUnreachable, UsageError
from conformance.failures import Violation, merge
from conformance.phases.ratelimit import ProbeOptions, reserve_for_probe, run_probe
from conformance.phases.schemathesis import run_contract
from conformance.phases.state import StateRun
from conformance.preconditions import check_base_url, check_fixture
from conformance.responses import ResponseValidator
from conformance.settings import Settings
from conformance.world import read_world

__all__ = ["PhaseResult", "Report", "run"]

log = logging.getLogger("conformance")

PROGRESS_EVERY = 25  # requests between progress lines


@dataclass(frozen=True)
class PhaseResult:
    name: str
    requests: int
    seconds: float
    violations: int


@dataclass
class Report:
    """Everything a run found; ``exit_code`` is what CI gates on (0 clean, 1 violations)."""

    settings: Settings
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    seconds: float = 0.0
    checks: dict[str, list[str]] = field(
        default_factory=dict
    )  # phase -> codes of the checks that ran

    @property
    def exit_code(self) -> int:
        return 1 if self.violations else 0

    def codes(self) -> set[str]:
        return {v.code for v in self.violations}

    # -- reports (issue #10)

    @property
    def verdict(self) -> str:
        """One line first in every report: "FAIL: 8 problems in 3 checks" or "PASS: ..."."""
        if not self.violations:
            ran = len({code for codes in self.checks.values() for code in codes})
            requests = sum(p.requests for p in self.phases)
            return f"PASS: no violations, {ran} checks, {requests} requests"
        problems, checks = len(self.violations), len(self.codes())
        occurrences = sum(v.occurrences for v in self.violations)
        return (
            f"FAIL: {problems} problem{'s' * (problems != 1)} in {checks} "
            f"check{'s' * (checks != 1)}"
            + (f" ({occurrences} occurrences)" if occurrences > problems else "")
        )

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "conformance_version": version(),
            "api": s.api,
            "base_url": s.base_url,
            "fixtures": str(s.fixtures),
            "spec": str(s.spec_path),
            "seed": s.seed,
            "max_examples": s.examples,
            "profile": s.profile,
            "exit_code": self.exit_code,
            "verdict": self.verdict,
            "rerun": s.rerun(),
            "checks": self.checks,
            "seconds": round(self.seconds, 2),
            "phases": [p.__dict__ for p in self.phases],
            "violations": [v.to_json() for v in self.violations],
            "notes": self.notes,
        }


def run(
    settings: Settings,
    *,
    on_progress: Callable[[str], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Report:
    """Check one target; raise ``HarnessError`` (exit 2) for bad input or an unreachable target.

    ``clock`` is where the state phase reads the time and waits (rate windows);
    tests share one with the target they serve, so that waiting costs no real time.
    """
    progress = on_progress or (lambda text: log.info("%s", text))
    started = time.monotonic()
    budget = Budget(settings.max_time)
    world = read_world(settings.fixtures_path, api=settings.api, environ=settings.environ)
    validator = _validator(settings)  # exit 2 for a --spec openapi-core refuses, before a request
    api = APIS[settings.api]
    report = Report(settings)
    counter = _Counter(progress)
    client = Client(
        settings.base_url,
        timeout=settings.timeout,
        secrets=world.key_names,
        on_exchange=counter,
        clock=clock,
        budget=budget,
    )
    cut: list[str] = []  # the phase --max-time stopped, if it did
    try:
        try:
            _preflight(client, settings)
            check_base_url(client, world, api, spec=settings.spec_path)  # exit 2: only 404s
        except OutOfTime:  # spent before a phase began (a slow target, a busy machine)
            cut.append("preconditions")
        except TargetUnresponsive as exc:  # before any check: exit 2, as a refused connection
            raise _unresponsive(settings, exc) from exc
        if "contract" in settings.phases and not cut:
            progress(
                f"contract: Schemathesis, all checks, {settings.examples} examples per operation"
            )
            t0 = time.monotonic()
            contract = run_contract(
                world,
                api,
                spec=settings.spec_path,
                base_url=settings.base_url,
                seed=settings.seed,
                max_examples=settings.examples,
                timeout=settings.timeout,
                on_progress=progress,
                budget=budget,
            )
            report.violations += contract.violations
            report.notes += contract.notes
            report.checks["contract"] = contract.checks
            report.phases.append(
                PhaseResult(
                    "contract", contract.requests, time.monotonic() - t0, len(contract.violations)
                )
            )
            if budget.spent:
                cut.append("contract")
        if "state" in settings.phases and not cut:
            examples, steps = settings.state_runs
            progress(f"state: scenario, then {examples} Hypothesis runs of up to {steps} steps")
            t0, sent = time.monotonic(), client.sent
            state = StateRun(world, api, client, validator, seed=settings.seed)
            probe = ProbeOptions(
                wait=settings.rate_limit_wait,
                progress=progress,
                reserved=reserve_for_probe(state) if settings.rate_limit_probe else None,
            )
            state.guarded(state.scenario)
            check_fixture(state.model, api, fixtures=str(settings.fixtures))  # exit 2: stale
            state.guarded(state.variations)  # issue #10: valid requests
            state.guarded(lambda: state.explore(seed=settings.seed, examples=examples, steps=steps))
            check_fixture(state.model, api, fixtures=str(settings.fixtures))
            state.guarded(state.spend_the_rest)  # issue #10: every open resource, once
            if settings.rate_limit_probe:
                progress("state: rate-limit probe")
                run_probe(state, probe)
            _report_refused_waits(state)
            if budget.spent:
                cut.append("state")
            merged = merge(state.violations)
            report.violations += merged
            report.notes += state.notes
            report.checks["state"] = checks_for(api.name, probe=settings.rate_limit_probe)
            report.phases.append(
                PhaseResult("state", client.sent - sent, time.monotonic() - t0, len(merged))
            )
    finally:
        client.close()
    report.seconds = time.monotonic() - started
    if cut:
        report.violations.append(_cut_short(settings, cut[0], report))
    return report


def _validator(settings: Settings) -> ResponseValidator:
    """The answers' validator; a ``--spec`` it cannot read is a usage error (exit 2).

    ``Settings`` already refused a file that is not the API's OpenAPI 3 document; this is
    what openapi-core finds beyond (a required field missing, an unresolved parameter).
    """
    try:
        return ResponseValidator.from_path(settings.spec_path, base_url=settings.base_url)
    except Exception as exc:
        if settings.spec is None:
            raise  # the bundled spec: a bug in the harness (exit 3)
        problem = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UsageError(
            f"--spec: {settings.spec}: not a valid OpenAPI document: {problem}; pass the "
            f"{settings.api} OpenAPI document, or leave --spec out for the bundled one"
        ) from exc


def _report_refused_waits(state: StateRun) -> None:
    """Each 429 whose Retry-After the client would not wait for (more than ``MAX_WAIT``)."""
    for exchange, wait in state.client.refused_waits:
        state.report(
            "retry_after_excessive",
            exchange,
            f"Situation: a 429 to {exchange.method} {exchange.url}\n"
            f"Expected: Retry-After of at most {MAX_WAIT:.0f} s\n"
            f"Received: Retry-After: {wait:.0f}; the harness did not wait, the step was skipped",
        )


def _cut_short(settings: Settings, phase: str, report: Report) -> Violation:
    """``max_time_exceeded``: what ran, what did not, what to do."""
    skipped = [p for p in settings.phases if p not in {r.name for r in report.phases}]
    ran = ", ".join(f"{p.name} ({p.requests} requests)" for p in report.phases) or "nothing"
    return Violation(
        "max_time_exceeded",
        title_of("max_time_exceeded"),
        f"Situation: the {phase} phase reached --max-time {settings.max_time:g} s\n"
        "Expected: the whole run within --max-time\n"
        f"Received: stopped during {phase}; ran: {ran}"
        + (f"; not run: {', '.join(skipped)}" if skipped else "")
        + "\nHint: the target answers slowly or rate-limits (see the other violations and "
        "notes); raise --max-time if it is slow by design",
        "(the run)",
        "",
        phase,
    )


def _preflight(client: Client, settings: Settings) -> None:
    """Refuse to start against a target that is not there (exit 2), before any check.

    Only the status line is read (a streamed request closed unread), so a target
    whose bodies never end cannot hold the run here.
    """
    try:
        with httpx.stream("OPTIONS", settings.base_url, timeout=settings.timeout):
            pass
    except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise TargetUnreachable(
            f"{settings.base_url}: cannot connect ({exc}); is the target running, and is "
            "--base-url its API root?"
        ) from exc
    except httpx.HTTPError:
        pass  # it answered badly or slowly: that is for the checks to report


def _unresponsive(settings: Settings, exc: TargetUnresponsive) -> TargetUnreachable:
    """The first requests got no answer the harness could read (exit 2: nothing checked).

    A port that accepts connections but does not speak HTTP (another service, a TLS port
    named with http://) closes them, resets them or stays silent; a target that refuses
    connections is :func:`_preflight`'s. A target answering only 429 is said as such.
    """
    if exc.exchange is not None and exc.exchange.response is not None:
        return TargetUnreachable(
            f"{settings.base_url}: {exc} before any check, so nothing was checked; wait for "
            "its rate limit to reset, or give the run keys of its own"
        )
    return TargetUnreachable(
        f"{settings.base_url}: no answer the harness could read ({str(exc).rstrip('.')}; "
        f"{UNRESPONSIVE_AFTER} requests in a row), so nothing was checked; is --base-url the "
        "target's HTTP port (not another service's; https:// for a TLS port), and does the "
        f"target answer within --timeout ({settings.timeout:g} s)?"
    )


class _Counter:
    def __init__(self, progress: Callable[[str], None]) -> None:
        self.progress, self.count = progress, 0

    def __call__(self, exchange: Exchange) -> None:
        self.count += 1
        if self.count % PROGRESS_EVERY == 0:
            self.progress(f"state: {self.count} requests sent")
