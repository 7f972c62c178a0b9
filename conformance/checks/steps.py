"""Checks that act on the target and report what they find (kinds ``run``, ``resource``,
``refusal``): the rules a schema alone cannot see. ``phases/state.py`` drives them,
in a fixed scenario first, then in random interleavings.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from conformance.apis import BadRequest, act
from conformance.checks import check, declare
from conformance.client import Exchange
from conformance.world import Resource, State

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__ = ["CONCURRENT"]


@check("run")
def keys_authenticate(run: StateRun) -> None:
    """A key the fixture lists is refused (401)."""
    unknown = run.unknown_id()
    for tenant in run.world.tenants:
        for key in tenant.keys:
            accepted: list[str] = []
            refused: list[tuple[str, Exchange]] = []
            for form, authorization in run.api.key_forms(key):
                exchange, status = run.act_on_unknown(authorization, unknown, judge_401=False)
                if status == 401:
                    refused.append((form, exchange))
                    run.access.failed.add(authorization)  # acts rotate over the others
                elif status is not None:
                    accepted.append(form)
            for form, exchange in refused:
                code = "auth_forms" if accepted else "keys_authenticate"
                run.report(
                    code,
                    exchange,
                    f"Key of {tenant.id} sent as {form}\n"
                    "Expected: accepted (the id is unknown, so 404)\nReceived: 401",
                )


@check("run")
def unknown_not_found(run: StateRun) -> None:
    """An id the target does not hold is not answered with 404 (or a documented 400)."""
    key = run.world.tenants[0].keys[0]
    authorization = run.api.key_forms(key)[0][1]
    run.act_on_unknown(authorization)
    non_id, statuses = run.api.non_id()
    exchange = act(run.api, run.client, non_id, authorization=authorization)
    run.expect("unknown_not_found", exchange, statuses, "an id that is not a uuid")


@check("resource")
def terminal_conflict(run: StateRun, resource: Resource) -> None:
    """A resource the fixture lists as terminal, revoked or locked is not refused."""
    expected = (
        frozenset({502})
        if resource.state is State.FAILING
        else frozenset({run.api.conflict_status})
    )
    exchange = run.act_as_owner(resource)
    status = run.expect(
        "terminal_conflict",
        exchange,
        expected,
        f"{resource.id} is {_fixture_state(resource)} in the fixture",
        why=_mock_only(resource, expected),
    )
    if status is not None and 200 <= status < 300:
        run.model.consume(resource)  # whatever it was, it is now done


@check("resource")
def repeat_conflict(run: StateRun, resource: Resource) -> None:
    """A second cancel or revoke of the same resource is accepted."""
    exchange = run.act_as_owner(resource)
    run.expect(
        "repeat_conflict",
        exchange,
        frozenset({run.api.conflict_status}),
        f"{resource.id} was already done in this run",
    )


@check("refusal")
def auth_required(run: StateRun, resource: Resource, bad: BadRequest) -> None:
    """A request without a valid key is not refused with 401."""
    run.refuse("auth_required", resource, bad)


@check("refusal")
def invalid_body_rejected(run: StateRun, resource: Resource, bad: BadRequest) -> None:
    """An invalid body is not refused with 400."""
    run.refuse("invalid_body_rejected", resource, bad)


@check("resource")
def tenant_isolation(run: StateRun, resource: Resource) -> None:
    """Another tenant's key reaches a resource (expected 404)."""
    foreign = run.access.foreign(resource.tenant)  # each other tenant's key and form, in turn
    if foreign is None:
        run.note("tenant_isolation: the fixture lists one tenant; add a second to check isolation")
        return
    label, authorization = foreign
    run.refuse(
        "tenant_isolation",
        resource,
        BadRequest(f"{label} (another tenant)", frozenset({404}), authorization=authorization),
    )


CONCURRENT = 5


@check("resource")
def concurrent_acts(run: StateRun, resource: Resource) -> None:
    """Concurrent cancels or revokes of one resource do not give exactly one success."""
    # Several keys of the tenant and several Authorization forms at once (issue #10): a
    # lock taken per key or per form is no lock.
    authorizations = run.access.take(resource.tenant, CONCURRENT)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        exchanges = list(
            pool.map(lambda a: run.act_as_owner(resource, authorization=a), authorizations)
        )
    run.model.consume(resource)
    statuses = [run.observe(exchange) for exchange in exchanges]
    if None in statuses:
        return  # inconclusive: transport or rate limit already said why
    run.model.saw_first_act(resource, *(s for s in statuses if s is not None))
    wins = sum(1 for s in statuses if s is not None and 200 <= s < 300)
    if wins:
        run.model.successes += 1
    received = sorted(s for s in statuses if s is not None)
    if wins != 1:
        run.report(
            "concurrent_acts",
            exchanges[0],
            f"Situation: {CONCURRENT} concurrent requests on open {resource.id}\n"
            f"Expected: exactly one 2xx, the rest {run.api.conflict_status}\n"
            f"Received: {received}",
            answer=False,  # which answer came first varies from run to run
        )
    losers = [
        (exchange, status)
        for exchange, status in zip(exchanges, statuses, strict=True)
        if status is not None and not 200 <= status < 300
    ]
    wrong = [(e, s) for e, s in losers if s != run.api.conflict_status]
    if wins and wrong:
        run.report(
            "concurrent_losers",
            wrong[0][0],
            f"Situation: {CONCURRENT} concurrent requests on open {resource.id}, "
            f"{len(set(authorizations))} keys and forms of {resource.tenant}; {wins} succeeded\n"
            f"Expected: every other one {run.api.conflict_status}, as for a repeat\n"
            f"Received: {received}",
            answer=False,  # which loser's answer comes first varies from run to run
        )


declare(
    "concurrent_losers",
    "A concurrent cancel or revoke that lost the race is not answered as a repeat would be.",
    "resource",
)


declare(
    "auth_forms",
    "A listed key works in one documented Authorization form but is refused in another.",
    "run",
    apis=("firma",),  # Craftkit documents one form, Bearer
)


def _fixture_state(resource: Resource) -> str:
    record: Any = resource.record
    return str(
        record.get("status") or ("revoked" if record.get("revoked_at") else resource.state.value)
    )


# -- reports: keys only the mock honours, explained where they drive an expectation


def _mock_only(resource: Resource, expected: frozenset[int]) -> str:
    """Why a ``mock.on_cancel`` record is expected to refuse: only the mock honours it."""
    mock: Any = resource.record.get("mock")
    on_cancel = mock.get("on_cancel") if isinstance(mock, dict) else None
    if resource.state not in (State.LOCKED, State.FAILING) or on_cancel is None:
        return ""
    wanted = " or ".join(str(s) for s in sorted(expected))
    return (
        f"expected {wanted} because the fixture says mock.on_cancel: {on_cancel}, which only "
        "the mock honours; remove it for a real target"
    )
