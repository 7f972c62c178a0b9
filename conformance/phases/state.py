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
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

import conformance.checks.outcomes  # noqa: F401  (registers the outcome checks)
from conformance.apis import DEFAULT_BODY, Api, BadRequest, act
from conformance.checks import of_kind, title_of
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
from conformance.checks.verdicts import no_cascade, rejected_changes_nothing
from conformance.client import Client, Exchange, OutOfTime, TargetUnresponsive
from conformance.failures import Violation
from conformance.responses import ResponseValidator
from conformance.world import Resource, State, World

__all__ = ["Model", "StateRun"]

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

    # -- reporting

    def report(self, code: str, exchange: Exchange, detail: str) -> None:
        self.violations.append(
            Violation(code, title_of(code), detail, self.api.operation, exchange.curl)
        )

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
        return exchange.status

    def expect(
        self, code: str, exchange: Exchange, statuses: Iterable[int], situation: str
    ) -> int | None:
        status = self.observe(exchange)
        if status is not None:
            self.judge(code, exchange, status, statuses, situation)
        return status

    def judge(
        self, code: str, exchange: Exchange, status: int, statuses: Iterable[int], situation: str
    ) -> None:
        """Report ``code`` unless an observed ``status`` is one of ``statuses``."""
        allowed = sorted(statuses)
        if status not in allowed:
            wanted = " or ".join(str(s) for s in allowed)
            self.report(
                code, exchange, f"Situation: {situation}\nExpected: {wanted}\nReceived: {status}"
            )

    # -- steps shared by the scenario and the state machine

    def unknown_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def act_as_owner(self, resource: Resource, form: int = 0, *, bare: bool = False) -> Exchange:
        """Act with the owner's first key in its ``form``-th form (negative counts from the end).

        ``bare`` sends no body where the contract makes it optional (Craftkit).
        """
        authorization = self.api.key_forms(self.world.owner_key(resource))[form][1]
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

    def act_on_open(self, resource: Resource, form: int = 0, *, bare: bool = False) -> None:
        """Cancel or revoke a resource the model holds open: it must succeed, once."""
        exchange = self.act_as_owner(resource, form, bare=bare)
        status = self.observe(exchange)
        if status is None:
            self.model.spent.add(resource.id)  # unknown outcome: never draw it again
            return
        self.model.consume(resource)
        if 200 <= status < 300:
            self.model.successes += 1
            body = exchange.json()
            for row in self._outcome_checks:
                for problem in row(resource, body):
                    self.report(row.code, exchange, problem)
            return
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

    # -- the two drivers

    def scenario(self) -> None:
        """Every rule once, in an order that makes each failure attributable."""
        keys_authenticate(self)
        unknown_not_found(self)
        for resource in self.model.fixed():
            terminal_conflict(self, resource)
            if resource.state in (State.LOCKED, State.FAILING):
                terminal_conflict(self, resource)  # and again: the refusal changed nothing
        opened = self.model.open()
        if not opened:
            self.note(
                "the fixture lists no open resource (sent/viewed, or revoked_at: null): "
                "cancel/revoke not checked"
            )
            return
        first = opened[0]
        for bad in self.api.bad_credentials():
            auth_required(self, first, bad)
        for bad in self.api.bad_bodies(first.id):
            invalid_body_rejected(self, first, bad)
        tenant_isolation(self, first)
        if self.model.state[first.id] is State.OPEN:
            self.act_on_open(first)
        repeat_conflict(self, first)
        if len(opened) > 2:
            concurrent_acts(self, opened[2])
        if len(opened) > 1:
            self.act_on_open(opened[1], form=-1, bare=True)  # the last key form, no body
        else:
            self.note(
                "the fixture lists one open resource: a cancel/revoke cascading to another was "
                "not checked"
            )

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
        if not self.model.open():
            self.note(
                f"the fixture's open resources are all spent ({len(self.model.spent)} used); "
                "add more to explore further"
            )

    def guarded(self, step: Callable[[], None]) -> None:
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


def _machine(run: StateRun) -> type[RuleBasedStateMachine]:
    api, model = run.api, run.model

    class TargetMachine(RuleBasedStateMachine):
        @precondition(lambda self: bool(model.open()))
        @rule(data=st.data())
        def act_on_open(self, data: st.DataObject) -> None:
            resource = data.draw(st.sampled_from(model.open()), label="open")
            forms = api.key_forms(run.world.owner_key(resource))
            form = data.draw(st.integers(0, len(forms) - 1), label="form")
            run.guarded(lambda: run.act_on_open(resource, form))

        @precondition(lambda self: bool(model.done() or model.fixed()))
        @rule(data=st.data())
        def act_on_done(self, data: st.DataObject) -> None:
            resource = data.draw(st.sampled_from(model.done() + model.fixed()), label="done")
            if resource.state is State.OPEN:
                run.guarded(lambda: repeat_conflict(run, resource))
            else:
                run.guarded(lambda: terminal_conflict(run, resource))

        @precondition(lambda self: bool(model.open()))
        @rule(data=st.data())
        def refused(self, data: st.DataObject) -> None:
            resource = data.draw(st.sampled_from(model.open()), label="named")
            kind = data.draw(st.sampled_from(["credential", "body", "tenant"]), label="kind")
            if kind == "credential":
                bad = data.draw(st.sampled_from(api.bad_credentials()), label="credential")
                run.guarded(lambda: auth_required(run, resource, bad))
            elif kind == "body":
                bad = data.draw(st.sampled_from(api.bad_bodies(resource.id)), label="body")
                run.guarded(lambda: invalid_body_rejected(run, resource, bad))
            else:
                run.guarded(lambda: tenant_isolation(run, resource))

        @rule(unknown=st.uuids(version=4))
        def act_on_unknown(self, unknown: uuid.UUID) -> None:
            key = run.random.choice(run.world.keys())

            def step() -> None:
                exchange = act(
                    api, run.client, str(unknown), authorization=api.key_forms(key)[0][1]
                )
                run.expect(
                    "unknown_not_found",
                    exchange,
                    api.unknown_statuses,
                    "an id the target does not hold",
                )

            run.guarded(step)

    return TargetMachine
