"""The rate-limit probe's checks (kind ``probe``: ``(run, options) -> None``), run by
``phases/ratelimit.py`` under ``--rate-limit-probe``.

Firma's contract (docs/behaviour.md, "Rate limiting"): a quota of writes per key and
per minute; ``X-RateLimit-Limit`` announces it, ``X-RateLimit-Remaining`` falls by one
per write and never below 0, ``X-RateLimit-Reset`` is the Unix time in seconds when
the window restarts; past the quota a 429 in Firma's envelope with ``Retry-After``
(whole seconds); a 429 changes nothing; each key has its own window. The probe:

1. *looks* with key B (another key of A's tenant, else of another tenant): one
   write naming an unknown id, to read B's standing;
2. *bursts* with key A: writes naming unknown ids (nothing changes), sent by a
   pool of :data:`BURST_WORKERS` at once, until the first 429 or
   2 x Limit + :data:`SLACK` writes (a window may restart once during a burst,
   so a correct target may admit up to twice its quota). Sent at once, the burst
   takes a fraction of a window even from a slow target, and every judgement below
   allows for a window that restarts in the middle of it;
3. *judges* every answer: Reset, Remaining, Limit, Retry-After (Firma only);
4. *writes with B* again: it must not be refused, nor find its quota spent by A;
5. *revokes* the active resource held back for it (:class:`ProbeOptions`) with A
   while A is limited: a 429, which must change nothing;
6. *waits* for the announced reset (``Reset`` or ``Retry-After``, whichever is
   later, plus :data:`RECOVERY_MARGIN`; never more than one window and the margin,
   nor ``--rate-limit-wait``), then revokes it again with A: 200 (the quota came
   back, and the refused revoke had not revoked it). When the wait is not allowed,
   B revokes it instead (step 5's check, without the quota's return).

Only step 2's 429 and its ``Retry-After`` apply to Craftkit (whose contract has no
rate limit; the probe runs only when its fixture sets one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conformance.apis import act
from conformance.checks import CHECKS, check, declare
from conformance.client import Exchange
from conformance.world import Resource, Tenant, World

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__ = [
    "BURST_WORKERS",
    "DEFAULT_LIMIT",
    "RECOVERY_MARGIN",
    "SLACK",
    "TOLERANCE",
    "WINDOW",
    "ProbeOptions",
]

log = logging.getLogger("conformance")

SLACK = 5  # answers past the limit before the missing 429 is a violation
DEFAULT_LIMIT = 120  # Firma's documented write quota, when the fixture sets none
WINDOW = 60.0  # Firma's limits are per minute: no window is longer
TOLERANCE = 2.0  # seconds: whole-second rounding and clock skew between harness and target
BURST_WORKERS = 16
MAX_BURST = 1000
RECOVERY_MARGIN = 1.0  # seconds past the announced reset before the write that must pass


@dataclass(frozen=True)
class ProbeOptions:
    """What the runner gives the probe: how long it may wait, where to say so, and the
    active resource it held back from the state phase (None: the fixture has too few)."""

    wait: float = WINDOW + 5
    progress: Callable[[str], None] = field(default=log.info)
    reserved: Resource | None = None


# Codes the probe reports besides its own (``rate_limit``); Firma's contract only.
_FIRMA = ("firma",)
declare(
    "rate_limit_remaining",
    "X-RateLimit-Remaining does not fall by one per write, or goes below 0.",
    "probe",
    apis=_FIRMA,
)
declare(
    "rate_limit_limit",
    "The quota enforced is not the one X-RateLimit-Limit announces.",
    "probe",
    apis=_FIRMA,
)
declare(
    "rate_limit_per_key",
    "One key's writes spend another key's quota: the window is not per key.",
    "probe",
    apis=_FIRMA,
)
declare(
    "rate_limit_reset",
    "X-RateLimit-Reset is not a Unix time in seconds within the next minute.",
    "probe",
    apis=_FIRMA,
)
declare(
    "rate_limit_retry_after",
    "A 429's Retry-After is not a positive integer consistent with X-RateLimit-Reset.",
    "probe",
    apis=_FIRMA,
)
declare(
    "rate_limit_recovers",
    "The quota does not come back after the announced reset.",
    "probe",
    apis=_FIRMA,
)


@check("probe")
def rate_limit(run: StateRun, options: ProbeOptions) -> None:
    """Writes past write_per_minute are not refused with 429 and Retry-After."""
    limit = run.world.write_per_minute
    if limit is None:
        if run.api.name != "firma":
            run.note(
                "rate-limit probe: the fixture sets no rate_limits.write_per_minute; nothing "
                "to probe"
            )
            return
        limit = DEFAULT_LIMIT
    _Probe(run, options, limit).execute()


# ---------------------------------------------------------------- one answer, read


@dataclass(frozen=True)
class _Answer:
    """An exchange of the probe, with when it arrived (the harness's clock, Unix seconds)."""

    index: int  # the order it was sent in: reports name the first offender, stably
    exchange: Exchange
    at: float

    @property
    def status(self) -> int | None:
        return self.exchange.status

    def header(self, name: str) -> str | None:
        response = self.exchange.response
        return None if response is None else response.headers.get(name)

    def number(self, name: str) -> float | None:
        """The header as a number (signed, so that a negative Remaining shows), else None."""
        try:
            return float((self.header(name) or "").strip())
        except ValueError:
            return None

    @property
    def limit(self) -> float | None:
        return self.number("X-RateLimit-Limit")

    @property
    def remaining(self) -> float | None:
        return self.number("X-RateLimit-Remaining")

    @property
    def reset(self) -> float | None:
        return self.number("X-RateLimit-Reset")

    @property
    def retry_after(self) -> float | None:
        return self.number("Retry-After")


def _n(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _keys(world: World, reserved: Resource | None) -> tuple[Tenant, str, str | None, bool]:
    """A's tenant, key A (its last), key B (its first, else another tenant's), B same tenant?"""
    if reserved is not None:
        tenant = world.tenant(reserved.tenant)
    else:
        several = [t for t in world.tenants if len(t.keys) >= 2]
        tenant = several[0] if several else world.tenants[-1]
    if len(tenant.keys) >= 2:
        return tenant, tenant.keys[-1], tenant.keys[0], True
    others = [t for t in world.tenants if t.id != tenant.id and t.keys]
    return tenant, tenant.keys[-1], others[0].keys[0] if others else None, False


# ---------------------------------------------------------------- the probe


class _Probe:
    def __init__(self, run: StateRun, options: ProbeOptions, limit: int) -> None:
        self.run, self.options, self.hint = run, options, limit
        self.full = CHECKS["rate_limit_reset"].applies_to(run.api.name)  # Firma's headers
        self.tenant, key_a, key_b, self.same_tenant = _keys(run.world, options.reserved)
        self.auth_a = run.api.key_forms(key_a)[0][1]
        self.auth_b = None if key_b is None else run.api.key_forms(key_b)[0][1]
        self.clock = run.client.clock
        self.quota = limit  # what the target announces (X-RateLimit-Limit), once it has
        self._lock = threading.Lock()

    # -- sending

    def _send(self, authorization: str, target_id: str, index: int = -1) -> _Answer:
        exchange = act(self.run.api, self.run.client, target_id, authorization=authorization)
        return _Answer(index, exchange, self.clock.now())

    def _impolite(self, authorization: str, target_id: str) -> _Answer:
        with self.run.client.impolite():
            return self._send(authorization, target_id)

    def execute(self) -> None:
        before_b = self._look_b() if self.full else None
        burst = self._burst()
        if burst is None:
            return
        answers, seconds = burst
        if all(a.status == 401 for a in answers):
            self.run.note("rate-limit probe: its key was refused (401); nothing to probe")
            return
        announced = [a.limit for a in answers if a.limit is not None and a.limit >= 1]
        self.quota = int(announced[0]) if announced else self.hint
        limited = [a for a in answers if a.status == 429]
        if self.full:
            self._judge_headers(answers)
        if not limited:
            self._no_429(answers, seconds)
            return
        admitted = len(answers) - len(limited)
        self.run.note(
            f"rate-limit probe: 429 after {admitted + 1} writes with a {self.quota}/minute key"
        )
        self._retry_after_present(limited)
        if not self.full:
            return
        self._retry_after_values(limited)
        self._per_key(before_b, admitted)
        self._refusal_and_recovery(limited[0])

    def _look_b(self) -> _Answer | None:
        """B's standing before A's burst (polite: the client waits out a B already spent)."""
        if self.auth_b is None:
            self.run.note(
                "rate-limit probe: the fixture lists one key; per-key windows not checked"
            )
            return None
        answer = self._send(self.auth_b, self.run.unknown_id())
        if self.run.observe(answer.exchange) is None:
            return None
        if answer.remaining == 0:  # B has no write left: the client waits for its window
            answer = self._send(self.auth_b, self.run.unknown_id())
            if self.run.observe(answer.exchange) is None:
                return None
        return answer

    def _burst(self) -> tuple[list[_Answer], float] | None:
        """A's writes, sent by a pool at once, until a 429 or 2 x Limit + SLACK of them."""
        cap = min(2 * self.hint + SLACK, MAX_BURST)
        ids: list[str] = []
        answers: list[_Answer] = []
        state = {"next": 0, "cap": cap, "stop": False}

        def worker() -> None:
            while True:
                with self._lock:
                    if state["stop"] or state["next"] >= state["cap"]:
                        return
                    index = int(state["next"])
                    state["next"] = index + 1
                    while len(ids) <= index:
                        ids.append(self.run.unknown_id())
                    target = ids[index]
                answer = self._send(self.auth_a, target, index)
                with self._lock:
                    answers.append(answer)
                    if answer.status in (429, None):
                        state["stop"] = True
                    announced = answer.limit
                    if announced is not None and announced >= 1:  # the target's own quota
                        state["cap"] = max(
                            int(state["cap"]), min(2 * int(announced) + SLACK, MAX_BURST)
                        )

        started = time.monotonic()
        with self.run.client.impolite(), ThreadPoolExecutor(BURST_WORKERS) as pool:
            for future in [pool.submit(worker) for _ in range(BURST_WORKERS)]:
                future.result()
        seconds = time.monotonic() - started
        answers.sort(key=lambda a: a.index)
        statuses = [self.run.observe(a.exchange) for a in answers]
        if None in statuses:
            self.run.note(
                "rate-limit probe: a write of the burst got no answer; the rate limit was not "
                "judged"
            )
            return None
        return answers, seconds

    # -- judging the burst

    def _no_429(self, answers: list[_Answer], seconds: float) -> None:
        last = answers[-1]
        # The window as the target announces it (how far ahead its resets are), at most
        # Firma's minute: a burst that outlasts it may meet a fresh quota more than once.
        ahead = [a.reset - a.at for a in answers if a.reset is not None]
        window = min(max(max(ahead, default=WINDOW), 1.0), WINDOW)
        if seconds >= window:
            self.run.note(
                f"rate-limit probe: {len(answers)} writes took {seconds:.1f} s, longer than the "
                f"target's window ({window:.0f} s): the missing 429 was not judged"
            )
            return
        statuses = sorted({str(a.status) for a in answers})
        self.run.report(
            "rate_limit",
            last.exchange,
            f"Situation: {len(answers)} writes in {seconds:.1f} s with one key of a "
            f"{self.quota}/minute quota\n"
            f"Expected: 429 with Retry-After by write {2 * self.quota + 1} (a window may "
            "restart once in between)\n"
            f"Received: {', '.join(statuses)} every time",
        )

    def _retry_after_present(self, limited: list[_Answer]) -> None:
        for answer in limited:
            if not (answer.header("Retry-After") or "").strip():
                self.run.report(
                    "rate_limit",
                    answer.exchange,
                    f"Situation: write {answer.index + 1} of the burst, past a {self.quota}/minute "
                    "quota\nExpected: 429 with Retry-After\nReceived: 429 without Retry-After",
                )
                return

    def _judge_headers(self, answers: list[_Answer]) -> None:
        """Reset, Remaining and Limit on every answer of the burst that carries them."""
        self._resets(answers)
        dated = [a for a in answers if a.remaining is not None]
        if not dated:
            return
        for answer in dated:
            remaining, limit = answer.remaining, answer.limit
            assert remaining is not None
            if remaining < 0 or (limit is not None and remaining > limit):
                self.run.report(
                    "rate_limit_remaining",
                    answer.exchange,
                    f"Situation: write {answer.index + 1} of the burst\n"
                    "Expected: X-RateLimit-Remaining between 0 and X-RateLimit-Limit\n"
                    f"Received: X-RateLimit-Remaining: {answer.header('X-RateLimit-Remaining')}, "
                    f"X-RateLimit-Limit: {answer.header('X-RateLimit-Limit')}",
                )
                break
        limits = sorted({a.limit for a in dated if a.limit is not None})
        if len(limits) > 1:
            self.run.report(
                "rate_limit_limit",
                dated[-1].exchange,
                "Situation: one key's writes in one burst\n"
                "Expected: the same X-RateLimit-Limit on every answer\n"
                f"Received: {', '.join(_n(v) for v in limits)}",
            )
        for answer in dated:
            if answer.status == 429 and answer.remaining and answer.remaining > 0:
                self.run.report(
                    "rate_limit_limit",
                    answer.exchange,
                    f"Situation: write {answer.index + 1} of the burst\n"
                    "Expected: a 429 only once no write is left (X-RateLimit-Remaining: 0)\n"
                    f"Received: 429 with X-RateLimit-Remaining: {_n(answer.remaining)} "
                    f"(X-RateLimit-Limit: {answer.header('X-RateLimit-Limit')})",
                )
                break
        self._falls_by_one([a for a in dated if a.status != 429])

    def _falls_by_one(self, admitted: list[_Answer]) -> None:
        """Admitted writes' Remaining, per window (one X-RateLimit-Reset): every value from
        the highest to the lowest (a sliding window may repeat values, never skip one)."""
        windows: dict[float | None, list[_Answer]] = {}
        for answer in admitted:
            windows.setdefault(answer.reset, []).append(answer)
        for members in windows.values():
            values = [a.remaining for a in members if a.remaining is not None]
            if len(values) < 2:
                continue
            top, bottom = max(values), min(values)
            missing = [v for v in range(int(bottom), int(top) + 1) if v not in values]
            if len(set(values)) == 1 and top > 0 and len(values) > SLACK:
                problem = f"the same {_n(top)} on {len(values)} writes"
            elif missing:
                problem = f"{', '.join(str(v) for v in missing[:5])} skipped"
            else:
                continue
            shown = ", ".join(_n(v) for v in values[:12]) + (", ..." if len(values) > 12 else "")
            self.run.report(
                "rate_limit_remaining",
                members[-1].exchange,
                f"Situation: {len(values)} accepted writes of one key in one window (one "
                "X-RateLimit-Reset)\n"
                "Expected: X-RateLimit-Remaining one lower after each write\n"
                f"Received: {problem} ({shown})",
            )
            return
        zeros = {
            reset: sum(1 for a in members if a.remaining == 0) for reset, members in windows.items()
        }
        extra = max(zeros.values(), default=0) - 1
        if extra > SLACK:
            self.run.report(
                "rate_limit_limit",
                admitted[-1].exchange,
                "Situation: one key's writes in one window (one X-RateLimit-Reset)\n"
                "Expected: a 429 for the write after X-RateLimit-Remaining: 0\n"
                f"Received: {extra} more writes accepted with X-RateLimit-Remaining: 0",
            )

    def _resets(self, answers: list[_Answer]) -> None:
        for answer in answers:
            reset = answer.reset
            if reset is None:
                continue
            if answer.at - TOLERANCE <= reset <= answer.at + WINDOW + TOLERANCE:
                continue
            why = ""
            if reset > answer.at * 100:
                why = " (milliseconds?)"
            elif reset < answer.at / 100:
                why = " (seconds until the reset, not a Unix time?)"
            self.run.report(
                "rate_limit_reset",
                answer.exchange,
                f"Situation: write {answer.index + 1} of the burst, answered at Unix time "
                f"{answer.at:.0f} (the harness's clock)\n"
                "Expected: X-RateLimit-Reset a Unix time in seconds, at most one minute ahead\n"
                f"Received: X-RateLimit-Reset: {answer.header('X-RateLimit-Reset')}{why}",
            )
            return

    def _retry_after_values(self, limited: list[_Answer]) -> None:
        for answer in limited:
            problem = self._retry_after_problem(answer)
            if problem:
                self.run.report(
                    "rate_limit_retry_after",
                    answer.exchange,
                    f"Situation: write {answer.index + 1} of the burst, refused with 429\n"
                    f"Expected: {problem[0]}\nReceived: {problem[1]}",
                )
                return

    def _retry_after_problem(self, answer: _Answer) -> tuple[str, str] | None:
        raw = (answer.header("Retry-After") or "").strip()
        if not raw:
            return None  # rate_limit says so
        if not raw.isdigit() or int(raw) < 1:
            return "Retry-After a positive integer (seconds)", f"Retry-After: {raw}"
        seconds = int(raw)
        if seconds > WINDOW + TOLERANCE:
            return (
                f"Retry-After within one window ({WINDOW:.0f} s)",
                f"Retry-After: {raw}",
            )
        reset = answer.reset
        if reset is not None and abs(seconds - (reset - answer.at)) > TOLERANCE + 1:
            return (
                "Retry-After the seconds until X-RateLimit-Reset",
                f"Retry-After: {raw}, X-RateLimit-Reset {reset - answer.at:.0f} s ahead",
            )
        body: Any = answer.exchange.json()
        details = body.get("details") if isinstance(body, dict) else None
        echoed = details.get("retry_after") if isinstance(details, dict) else None
        if isinstance(echoed, int | float) and abs(echoed - seconds) > 1:
            return (
                "details.retry_after equal to Retry-After",
                f"Retry-After: {raw}, details.retry_after: {echoed}",
            )
        return None

    # -- one window per key

    def _per_key(self, before: _Answer | None, writes: int) -> None:
        if self.auth_b is None or before is None:
            return
        after = self._impolite(self.auth_b, self.run.unknown_id())
        status = self.run.observe(after.exchange)
        if status is None:
            return
        whose = f"another key of {self.tenant.id}" if self.same_tenant else "another tenant's key"
        left = before.remaining
        if status == 429:
            if not left:  # None (no headers on its answer) or 0: its own quota may be spent
                self.run.note(
                    f"rate-limit probe: {whose} was refused too, but its answer before did not "
                    "say it had a write left: one window per key was not judged"
                )
                return
            self.run.report(
                "rate_limit_per_key",
                after.exchange,
                f"Situation: one key was just refused 429 after {writes} writes; this is "
                f"{whose}, which had {_n(left)} writes left\n"
                "Expected: its write accepted (each key has its own window)\nReceived: 429",
            )
            return
        now_left = after.remaining
        same_window = before.reset is not None and before.reset == after.reset
        if left is not None and now_left is not None and same_window and now_left < left - 1:
            self.run.report(
                "rate_limit_per_key",
                after.exchange,
                f"Situation: {whose}, before and after one key's {writes} writes, in one "
                "window (same X-RateLimit-Reset)\n"
                f"Expected: X-RateLimit-Remaining {_n(left - 1)} (its own one write)\n"
                f"Received: X-RateLimit-Remaining {_n(now_left)}",
            )

    # -- a 429 changes nothing; the quota comes back

    def _refusal_and_recovery(self, first_429: _Answer) -> None:
        reserved, model = self.options.reserved, self.run.model
        refused: _Answer | None = None
        if reserved is None:
            self.run.note(
                "rate-limit probe: no open resource was held back for it (the fixture lists "
                "too few): a 429 changing nothing was not checked"
            )
        else:
            answer = self._impolite(self.auth_a, reserved.id)
            status = self.run.observe(answer.exchange)
            if status is None:
                model.spent.add(reserved.id)
                return
            if status == 429:
                refused = answer
                model.touched.add(reserved.id)
            else:
                model.consume(reserved)
                if 200 <= status < 300:
                    model.successes += 1
                    self.run.note(
                        "rate-limit probe: the revoke sent while limited was accepted (the "
                        "window had room again); a 429 changing nothing was not checked"
                    )
                else:
                    self.run.judge(
                        self.run.api.success_code,
                        answer.exchange,
                        status,
                        {200, 429},
                        f"{reserved.id}, open in the fixture, acted on by a key just limited",
                    )
        basis = refused or first_429
        wait = self._recovery_wait(basis)
        if wait > self.options.wait:
            self.run.note(
                f"rate-limit probe: the quota's return after the reset was not checked: it is "
                f"{wait:.0f} s away, more than --rate-limit-wait {self.options.wait:g} s"
            )
            if refused is not None and reserved is not None:
                self._still_open_for_b(reserved, refused)
            return
        self.options.progress(
            f"rate-limit probe: waiting {wait:.0f} s for the key's window to reset "
            f"(at most one window and {RECOVERY_MARGIN:.0f} s)"
        )
        self.run.client.pause(wait)
        target = reserved.id if refused is not None and reserved is not None else None
        after = self._impolite(self.auth_a, target or self.run.unknown_id())
        status = self.run.observe(after.exchange)
        if status is None:
            if target is not None:
                model.spent.add(target)
            return
        if status == 429:
            self.run.report(
                "rate_limit_recovers",
                after.exchange,
                f"Situation: {wait:.0f} s after a 429 announcing X-RateLimit-Reset: "
                f"{basis.header('X-RateLimit-Reset')}, Retry-After: "
                f"{basis.header('Retry-After')}\n"
                "Expected: the key's next write accepted\nReceived: 429",
            )
            return
        if target is not None and reserved is not None:
            self._judge_refused(
                reserved, refused, after, status, "the same key, once its quota was back"
            )

    def _recovery_wait(self, basis: _Answer) -> float:
        """Seconds until the quota should be back: the later of Reset and Retry-After, plus
        the margin; never more than one window and the margin."""
        due = [] if basis.reset is None else [basis.reset]
        if basis.retry_after is not None:
            due.append(basis.at + basis.retry_after)
        until = (max(due) if due else basis.at + WINDOW) + RECOVERY_MARGIN - self.clock.now()
        return max(0.0, min(until, WINDOW + RECOVERY_MARGIN))

    def _still_open_for_b(self, reserved: Resource, refused: _Answer) -> None:
        """Without waiting: B, of the same tenant, revokes what A's 429 should not have."""
        if self.auth_b is None or not self.same_tenant:
            self.run.note(
                "rate-limit probe: no other key of the tenant: a 429 changing nothing was not "
                "checked"
            )
            return
        answer = self._send(self.auth_b, reserved.id)
        status = self.run.observe(answer.exchange)
        if status is None:
            self.run.model.spent.add(reserved.id)
            return
        self._judge_refused(reserved, refused, answer, status, f"another key of {self.tenant.id}")

    def _judge_refused(
        self,
        reserved: Resource,
        refused: _Answer | None,
        answer: _Answer,
        status: int,
        who: str,
    ) -> None:
        """``reserved`` was refused with 429: acting on it now (``who``) must succeed."""
        model, api = self.run.model, self.run.api
        model.consume(reserved)
        if 200 <= status < 300:
            model.successes += 1
            return
        if status == api.conflict_status and refused is not None:
            self.run.report(
                "rejected_changes_nothing",
                answer.exchange,
                f"Situation: {reserved.id} was open; a revoke of it was refused with 429, then "
                f"{who} revoked it\nExpected: 200 (a 429 changes nothing)\n"
                f"Received: {status}",
            )
            return
        self.run.judge(
            api.success_code,
            answer.exchange,
            status,
            {200},
            f"{reserved.id}, open in the fixture, acted on by {who}",
        )
