"""The state phase: the checks a schema alone cannot see, over the fixture's resources.

A deterministic scenario first exercises every rule once (each key, each
refused request, a cancel or revoke, a repeat, a second resource); then a
Hypothesis state machine interleaves the same steps at random, drawing from
what is left. The target cannot be reset, so the harness keeps a ``Model`` of
what each resource should now be and spends each open resource at most once.

The APIs have no read operation: state is observed through later answers. A
resource that should still be open but answers "already done" was changed by
something earlier: a refused request against it (``rejected_changes_nothing``)
or an act on another resource (``no_cascade``).

Between the scenario and the state machine, ``variations`` sends valid requests
written other ways, forbidden values and undeclared methods (``checks/variants.py``);
after it, ``spend_the_rest`` acts once on every open resource still unspent, so that a
fault that shows only after many acts shows, and notes how many were spent.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from hypothesis import HealthCheck, Phase
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

import conformance.checks.outcomes  # noqa: F401  (registers the outcome checks)
from conformance.apis import DEFAULT_BODY, Api, BadRequest, act
from conformance.checks import of_kind, title_of
from conformance.checks.access import (
    Access,
    bearer_scheme_case,
    every_server,
    foreign_any_state,
    key_exactness,
    keys_reach_tenant,
    refusal_envelope,
)
from conformance.checks.answers import transport
from conformance.checks.bounds import response_too_large
from conformance.checks.steps import (
    auth_required,
    concurrent_acts,
    invalid_body_rejected,
    keys_authenticate,
    repeat_conflict,
    tenant_isolation,
    terminal_conflict,
    unknown_not_found,
)
from conformance.checks.variants import (
    forbidden_value_refused,
    undeclared_method,
    upper_case_id,
    valid_variants_accepted,
)
from conformance.checks.verdicts import no_cascade, rejected_changes_nothing
from conformance.client import Client, Exchange, OutOfTime, TargetUnresponsive
from conformance.failures import Violation, excerpt, ids_in, parse_detail
from conformance.responses import ResponseValidator
from conformance.world import Resource, State, World

__all__ = ["UNKNOWN", "Model", "StateRun"]

UNKNOWN = "an id the target does not hold"
"""The situation every answer about an unknown id is judged in."""

log = logging.getLogger("conformance")

# ---------------------------------------------------------------- the model and the run


@dataclass
class Model:
    """What each fixture resource should be now, as this run has changed it."""

    world: World
    state: dict[str, State] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # named by a request the target refused
    spent: set[str] = field(default_factory=set)  # acted on, outcome known or not: never drawn
    successes: int = 0
    # resource id -> (first answer to acting on it, 2xx answers before): preconditions.py
    first_acts: dict[str, tuple[int, int]] = field(default_factory=dict)
    acted: int = 0  # 2xx answers this run has had, expected or not
    started: datetime = field(default_factory=lambda: datetime.now(UTC))  # timestamps_sane

    def __post_init__(self) -> None:
        self.state = {r.id: r.state for r in self.world.resources}

    def open(self) -> list[Resource]:
        return [
            r
            for r in self.world.resources
            if self.state[r.id] is State.OPEN and r.id not in self.spent
        ]

    def done(self) -> list[Resource]:
        """Resources this run closed: acting again must be refused."""
        return [
            r
            for r in self.world.resources
            if r.state is State.OPEN and self.state[r.id] is State.CLOSED
        ]

    def fixed(self) -> list[Resource]:
        """Resources the fixture lists as terminal, revoked, locked or failing."""
        return [r for r in self.world.resources if r.state is not State.OPEN]

    def consume(self, resource: Resource) -> None:
        self.spent.add(resource.id)
        self.state[resource.id] = State.CLOSED

    # -- reports: stale fixtures (conformance/preconditions.py)

    def saw_first_act(self, resource: Resource, *statuses: int) -> None:
        """Remember the first answer to acting on a resource the fixture lists as open
        (of concurrent answers: a success if any, the conflict status only if all are),
        with the number of 2xx answers this run had before it (what could have closed it)."""
        if resource.state is not State.OPEN or resource.id in self.first_acts or not statuses:
            return
        wins = [s for s in statuses if 200 <= s < 300]
        status = wins[0] if wins else statuses[0] if len(set(statuses)) == 1 else -1
        self.first_acts[resource.id] = (status, self.acted)


class StateRun:
    """The state checks' shared context: target, model, and the violations found."""

    def __init__(
        self, world: World, api: Api, client: Client, validator: ResponseValidator, *, seed: int
    ) -> None:
        self.world, self.api, self.client, self.validator = world, api, client, validator
        self.model = Model(world)
        self.random = random.Random(seed)
        self.violations: list[Violation] = []
        self.notes: list[str] = []
        self.stopped = False
        self._answer_checks = [
            c
            for c in of_kind("answer", api.name)
            if c.code not in ("transport", "response_too_large")
        ]
        self._outcome_checks = of_kind("outcome", api.name)
        self.access = Access(api, world)  # issue #10: every key in every form, in turn

    # -- reporting

    def report(
        self,
        code: str,
        exchange: Exchange,
        detail: str,
        *,
        ids: Iterable[str] | None = None,
        cause: str = "",
        answer: bool = True,
    ) -> None:
        """Record a violation of ``code`` that ``exchange`` shows.

        ``detail`` has ``Situation:``, ``Expected:`` and ``Received:`` lines (read into
        the violation's fields); ``ids`` defaults to the fixture ids (else the uuids) the
        request names; ``cause`` is what occurrences on other resources share when the
        expected value is the resource's own; ``answer=False`` leaves out the answer's
        status and body (one of several concurrent answers, which varies run to run).
        """
        response = exchange.response if answer else None
        self.violations.append(
            Violation(
                code,
                title_of(code),
                detail,
                self.api.operation,
                exchange.curl,
                body="" if response is None else excerpt(response.content),
                status=None if response is None else response.status_code,
                ids=self._ids(exchange) if ids is None else tuple(ids),
                cause=cause,
            )
        )

    def _ids(self, exchange: Exchange) -> tuple[str, ...]:
        """The fixture ids a request names (path or body), else the uuids it names."""
        text = exchange.url + " " + (exchange.body or b"").decode("utf-8", "replace")
        known = tuple(r.id for r in self.world.resources if r.id in text)
        return known or ids_in(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.info(text)

    def observe(self, exchange: Exchange) -> int | None:
        """Run the checks every answer gets; return its status, or None when inconclusive."""
        for problem in transport(self, exchange):
            self.report("transport", exchange, problem)
        for problem in response_too_large(self, exchange):  # issue #10: bounded answers
            self.report("response_too_large", exchange, problem)
        if exchange.response is None:
            return None
        if exchange.rate_limited:
            self.note(
                "the target kept answering 429 after retries; those steps were skipped, not failed"
            )
            return None
        for row in self._answer_checks:
            for problem in row(self, exchange):
                self.report(row.code, exchange, problem)
        if 200 <= exchange.response.status_code < 300:
            self.model.acted += 1  # whatever the request was, the target acted on something
        return exchange.status

    def expect(
        self,
        code: str,
        exchange: Exchange,
        statuses: Iterable[int],
        situation: str,
        *,
        why: str = "",
    ) -> int | None:
        status = self.observe(exchange)
        if status is not None:
            self.judge(code, exchange, status, statuses, situation, why=why)
        return status

    def judge(
        self,
        code: str,
        exchange: Exchange,
        status: int,
        statuses: Iterable[int],
        situation: str,
        *,
        why: str = "",
    ) -> None:
        """Report ``code`` unless an observed ``status`` is one of ``statuses``; ``why``
        says where the expectation comes from when that is not obvious (a mock-only key)."""
        allowed = sorted(statuses)
        if status not in allowed:
            wanted = " or ".join(str(s) for s in allowed)
            self.report(
                code,
                exchange,
                f"Situation: {situation}\nExpected: {wanted}\nReceived: {status}"
                + (f"\nWhy: {why}" if why else ""),
            )

    # -- steps shared by the scenario and the state machine

    def unknown_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def act_on_unknown(
        self, authorization: str, unknown: str | None = None, *, judge_401: bool = True
    ) -> tuple[Exchange, int | None]:
        """Act on an id the target does not hold and judge it ``unknown_not_found``.

        ``judge_401=False`` leaves a 401 to the caller: checks that probe a key use the
        unknown id only to learn whether the key was accepted.
        """
        exchange = act(
            self.api, self.client, unknown or self.unknown_id(), authorization=authorization
        )
        status = self.observe(exchange)
        if status is not None and (judge_401 or status != 401):
            self.judge("unknown_not_found", exchange, status, self.api.unknown_statuses, UNKNOWN)
        return exchange, status

    def act_as_owner(
        self,
        resource: Resource,
        form: int | None = None,
        *,
        bare: bool = False,
        authorization: str | None = None,
    ) -> Exchange:
        """Act as the owner: with ``authorization``, else the first key in its ``form``-th
        form (negative counts from the end), else the next of the owner's keys and forms
        that work (``Access``: every key and form acts in turn).

        ``bare`` sends no body where the contract makes it optional (Craftkit).
        """
        if authorization is None and form is not None:
            authorization = self.api.key_forms(self.world.owner_key(resource))[form][1]
        elif authorization is None:
            authorization = self.access.next(resource.tenant)
        body = None if bare and self.api.body_optional else DEFAULT_BODY
        return act(self.api, self.client, resource.id, authorization=authorization, body=body)

    def refuse(self, code: str, resource: Resource, bad: BadRequest) -> None:
        """Send a request the contract refuses; it must be refused and change nothing."""
        if bad.drop_authorization:
            authorization = None
        else:
            authorization = (
                bad.authorization or self.api.key_forms(self.world.owner_key(resource))[0][1]
            )
        exchange = act(
            self.api,
            self.client,
            resource.id,
            authorization=authorization,
            body=bad.json_body,
            content=bad.body,
        )
        status = self.expect(code, exchange, bad.statuses, f"{bad.label}, naming {resource.id}")
        if status is not None and 200 <= status < 300:
            self.model.consume(resource)  # the target acted; don't blame later answers on it
        elif self.model.state[resource.id] is State.OPEN:
            self.model.touched.add(resource.id)

    def act_on_open(
        self,
        resource: Resource,
        form: int | None = None,
        *,
        bare: bool = False,
        authorization: str | None = None,
    ) -> int | None:
        """Cancel or revoke a resource the model holds open: it must succeed, once.

        Returns the status (None when inconclusive).
        """
        exchange = self.act_as_owner(resource, form, bare=bare, authorization=authorization)
        status = self.observe(exchange)
        if status is None:
            self.model.spent.add(resource.id)  # unknown outcome: never draw it again
            return None
        self.model.saw_first_act(resource, status)
        self.model.consume(resource)
        if 200 <= status < 300:
            self.model.successes += 1
            body = exchange.json()
            for row in self._outcome_checks:
                for problem in row(resource, body):
                    # "name changed on cancel": one cause whatever the resource's own value
                    situation = parse_detail(problem)[0]
                    self.report(row.code, exchange, problem, ids=(resource.id,), cause=situation)
            return status
        if status == self.api.conflict_status and rejected_changes_nothing(self.model, resource):
            code, why = (
                "rejected_changes_nothing",
                "it was only named by requests the target refused",
            )
        elif status == self.api.conflict_status and no_cascade(self.model, resource):
            code, why = "no_cascade", "only other resources were acted on before"
        else:
            code, why = self.api.success_code, "it is open in the fixture"
        self.report(
            code,
            exchange,
            f"Situation: {resource.id} should still be open: {why}\nExpected: 200\n"
            f"Received: {status}\n"
            "Hint: if an earlier run already used it, reset the target or list fresh records",
        )
        return status

    # -- the two drivers

    def scenario(self) -> None:
        """Every rule once, in an order that makes each failure attributable."""
        keys_authenticate(self)
        # -- issue #10, auth: every key exactly, in every form, reaching its tenant
        bearer_scheme_case(self)
        key_exactness(self)
        keys_reach_tenant(self)
        # --
        unknown_not_found(self)
        for resource in self.model.fixed():
            terminal_conflict(self, resource)
            if resource.state in (State.LOCKED, State.FAILING):
                terminal_conflict(self, resource)  # and again: the refusal changed nothing
            foreign_any_state(self, resource)  # issue #10: tenancy in every state
        opened = self.model.open()
        if not opened:
            self.note(
                "the fixture lists no open resource (sent/viewed, or revoked_at: null): "
                "cancel/revoke not checked"
            )
            every_server(self)  # issue #10
            return
        first = opened[0]
        for bad in self.api.bad_credentials():
            auth_required(self, first, bad)
        for bad in self.api.bad_bodies(first.id):
            invalid_body_rejected(self, first, bad)
        refusal_envelope(self, first)  # issue #10
        tenant_isolation(self, first)
        if self.model.state[first.id] is State.OPEN:
            self.act_on_open(first, 0)
        repeat_conflict(self, first)
        foreign_any_state(self, first)  # issue #10: closed by this run
        if len(opened) > 2:
            concurrent_acts(self, opened[2])
        if len(opened) > 1:
            self.act_on_open(opened[1], form=-1, bare=True)  # the last key form, no body
        else:
            self.note(
                "the fixture lists one open resource: a cancel/revoke cascading to another was "
                "not checked"
            )
        every_server(self)  # issue #10: the spec's other servers on the target's origin

    def explore(self, *, seed: int, examples: int, steps: int) -> None:
        """Random interleavings of the same steps (Hypothesis stateful testing)."""
        run_state_machine_as_test(
            hypothesis_seed(seed)(_machine(self)),
            settings=hypothesis_settings(
                max_examples=examples,
                stateful_step_count=steps,
                phases=[Phase.generate],  # a live target cannot be replayed: no shrinking
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            ),
        )

    def guarded(self, step: Callable[[], object]) -> None:
        """Run a step unless the target stopped answering; stop everything when it does."""
        if self.stopped:
            return
        try:
            step()
        except TargetUnresponsive as exc:
            self.stopped = True
            self.note(
                f"the target stopped answering ({exc}); the remaining state checks were skipped"
            )
        except OutOfTime:
            self.stopped = True  # --max-time: the runner reports max_time_exceeded

    # ---- issue #10: valid requests written other ways, forbidden values, undeclared
    # methods (after the scenario); every open resource spent (after the random steps)

    def variations(self) -> None:
        """Valid requests written other ways, values the schema forbids, undeclared methods."""
        opened = self.model.open()
        if opened:
            for bad in self.api.forbidden_values(opened[0].id):
                forbidden_value_refused(self, opened[0], bad)
        undeclared_method(self)
        valid_variants_accepted(self)
        upper_case_id(self)

    def spend_the_rest(self) -> None:
        """Act once on every open resource still unspent, so that faults that show late show.

        Then say how many of the fixture's open resources the run spent.
        """
        left = self.model.open()
        for index, resource in enumerate(left):
            form = index % len(self.api.key_forms(self.world.owner_key(resource)))
            self.guarded(partial(self.act_on_open, resource, form, bare=index % 2 == 1))
        listed = self.world.in_state(State.OPEN)
        spent = sum(1 for r in listed if r.id in self.model.spent)
        advice = "" if left else "; list more to give the random steps more to act on"
        self.note(f"spent {spent} of {len(listed)} open resources the fixture lists{advice}")


def _machine(run: StateRun) -> type[RuleBasedStateMachine]:
    """The state machine over ``run``'s model.

    The model outlives each Hypothesis test case (a live target cannot be reset), so
    what is open or done differs between test cases that make the same choices. Hypothesis
    requires the same choices to meet the same strategies (else it stops with
    ``FlakyStrategyDefinition``: a crash of the harness). So every strategy and every
    precondition here depends on the fixture alone, never on the model: a rule draws from
    a pool the fixture fixes, and what it drew is then resolved against the model (the
    first resource from there on that is still eligible). A rule left with nothing
    eligible makes the same draws and sends nothing.
    """
    api, model, world = run.api, run.model, run.world
    listed_open = world.in_state(State.OPEN)  # what act_on_open and refused draw from
    # every key and form of a tenant (issue #10): a draw over the widest, taken modulo
    widest = max((len(run.access.of_tenant(t.id)) for t in world.tenants), default=1) or 1
    credentials = api.bad_credentials()
    bodies = len(api.bad_bodies(_PLACEHOLDER_ID))  # as many for every id

    class TargetMachine(RuleBasedStateMachine):
        @precondition(lambda self: bool(listed_open))
        @rule(data=st.data())
        def act_on_open(self, data: st.DataObject) -> None:
            drawn = data.draw(st.integers(0, len(listed_open) - 1), label="open")
            pick = data.draw(st.integers(0, widest - 1), label="authorization")
            open_now = {r.id for r in model.open()}
            resource = _at_or_after(listed_open, drawn, lambda r: r.id in open_now)
            if resource is None:
                return
            combos = run.access.usable(resource.tenant)
            run.guarded(
                lambda: run.act_on_open(resource, authorization=combos[pick % len(combos)][1])
            )

        @precondition(lambda self: bool(world.resources))
        @rule(data=st.data())
        def act_on_done(self, data: st.DataObject) -> None:
            drawn = data.draw(st.integers(0, len(world.resources) - 1), label="done")
            done = {r.id for r in model.done() + model.fixed()}
            resource = _at_or_after(world.resources, drawn, lambda r: r.id in done)
            if resource is None:
                return
            if resource.state is State.OPEN:
                run.guarded(lambda: repeat_conflict(run, resource))
            else:
                run.guarded(lambda: terminal_conflict(run, resource))

        @precondition(lambda self: bool(listed_open))
        @rule(data=st.data())
        def refused(self, data: st.DataObject) -> None:
            drawn = data.draw(st.integers(0, len(listed_open) - 1), label="named")
            kind = data.draw(st.sampled_from(["credential", "body", "tenant"]), label="kind")
            which = 0
            if kind == "credential":
                which = data.draw(st.integers(0, len(credentials) - 1), label="credential")
            elif kind == "body":
                which = data.draw(st.integers(0, bodies - 1), label="body")
            open_now = {r.id for r in model.open()}
            resource = _at_or_after(listed_open, drawn, lambda r: r.id in open_now)
            if resource is None:
                return
            if kind == "credential":
                run.guarded(lambda: auth_required(run, resource, credentials[which]))
            elif kind == "body":
                bad = api.bad_bodies(resource.id)[which]
                run.guarded(lambda: invalid_body_rejected(run, resource, bad))
            else:
                run.guarded(lambda: tenant_isolation(run, resource))

        @rule(unknown=st.uuids(version=4))
        def act_on_unknown(self, unknown: uuid.UUID) -> None:
            key = run.random.choice(run.world.keys())

            run.guarded(lambda: run.act_on_unknown(api.key_forms(key)[0][1], str(unknown)))

    return TargetMachine


_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


def _at_or_after(
    pool: Sequence[Resource], start: int, eligible: Callable[[Resource], bool]
) -> Resource | None:
    """The first resource of ``pool`` from index ``start`` on (then from its start) that
    is ``eligible``; None when none is.

    >>> from conformance.world import Resource, State
    >>> pool = [Resource(str(n), "t", State.OPEN, {}) for n in range(4)]
    >>> [_at_or_after(pool, start, lambda r: r.id in {"0", "2"}).id for start in range(4)]
    ['0', '2', '2', '0']
    >>> _at_or_after(pool, 1, lambda r: False) is None
    True
    """
    for offset in range(len(pool)):
        resource = pool[(start + offset) % len(pool)]
        if eligible(resource):
            return resource
    return None
