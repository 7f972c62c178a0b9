"""Valid requests a conforming client may send, and values the schema forbids (issue #10).

Kinds ``run`` and ``refusal``, driven by :meth:`StateRun.variations` after the
scenario. A valid request written another way (a media-type parameter, an extra
body key, multi-byte text at ``maxLength``, the id in upper case) must get the
answer the resource's state implies: each spends one open resource, at most once.
A value the schema forbids must be refused with 400 and change nothing. A method
the spec does not declare on the operation's path must get 405 with ``Allow``
(``OPTIONS`` may instead answer 2xx listing ``POST``), never a 5xx.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

from conformance.apis import DEFAULT_BODY, BadRequest, Variant
from conformance.checks import check, of_kind
from conformance.checks.answers import transport
from conformance.client import Exchange
from conformance.world import Resource, State

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__ = ["UNDECLARED_METHODS", "act_variant"]

UNDECLARED_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE")
"""Methods neither spec declares on the cancel or revoke path."""


@check("run")
def valid_variants_accepted(run: StateRun) -> None:
    """A valid request written another way (media type, extra key, multi-byte text) is refused."""
    count = len(run.api.valid_variants(""))
    for index in range(count):
        opened = run.model.open()
        if not opened:
            run.note(
                f"valid_variants_accepted: no open resource left for {count - index} of {count} "
                "variations of a valid request; list more open resources"
            )
            return
        variant = run.api.valid_variants(opened[0].id)[index]
        act_variant(run, "valid_variants_accepted", opened[0], variant)


@check("run")
def upper_case_id(run: StateRun) -> None:
    """An id written in upper case does not name the same resource (uuids are case-insensitive)."""
    fixed = [r for r in run.model.fixed() if r.state is State.CLOSED]
    if fixed:
        # A terminal resource named in upper case is still that resource: refused as done.
        other = _other_case(fixed[0].id)
        exchange = _send(run, fixed[0], Variant(f"the id as {other}", other))
        run.expect(
            "upper_case_id",
            exchange,
            frozenset({run.api.conflict_status}),
            f"{other}, the id of {fixed[0].id} (done in the fixture) in another letter case",
        )
    opened = run.model.open()
    if not opened:
        run.note("upper_case_id: no open resource left to act on by its upper-case id")
        return
    resource = opened[0]
    other = _other_case(resource.id)
    variant = Variant(f"the id in another letter case, {other}", other)
    if act_variant(run, "upper_case_id", resource, variant):
        # The act changed the resource the fixture's id names: again, as written there, is done.
        exchange = run.act_as_owner(resource)
        run.expect(
            "upper_case_id",
            exchange,
            frozenset({run.api.conflict_status}),
            f"{resource.id} was just acted on as {other}",
        )


@check("refusal")
def forbidden_value_refused(run: StateRun, resource: Resource, bad: BadRequest) -> None:
    """A value the schema forbids (null for a string, a uuid in another form) is not refused."""
    run.refuse("forbidden_value_refused", resource, bad)


@check("run")
def undeclared_method(run: StateRun) -> None:
    """A method the spec does not declare on the path is not answered 405 with Allow."""
    candidates = run.model.open() or run.model.fixed()
    named = candidates[0] if candidates else None
    target_id = named.id if named is not None else run.unknown_id()
    key = run.world.owner_key(named) if named is not None else run.world.keys()[0]
    for method in UNDECLARED_METHODS:
        headers = {"Authorization": run.api.key_forms(key)[0][1]}
        content = None
        if method in ("PUT", "PATCH", "DELETE"):  # a body, as a client reusing POST's would send
            headers["Content-Type"] = "application/json"
            content = json.dumps(run.api.default_body(target_id)).encode()
        exchange = run.client.send(
            method, run.api.path(target_id), headers=headers, content=content
        )
        # Not run.observe: the spec documents no answer to these methods to validate against.
        for problem in transport(run, exchange):
            run.report("transport", exchange, problem)
        response = exchange.response
        if response is None or exchange.rate_limited:
            continue
        status = response.status_code
        allow = _methods(response.headers.get("Allow"))
        allowed_2xx = method == "OPTIONS" and 200 <= status < 300
        if allowed_2xx:
            allow |= _methods(response.headers.get("Access-Control-Allow-Methods"))
        if not ((status == 405 or allowed_2xx) and "POST" in allow):
            wanted = "405 with Allow: POST" + (
                ", or 2xx with Allow listing POST" if method == "OPTIONS" else ""
            )
            run.report(
                "undeclared_method",
                exchange,
                f"Situation: {method} on the {run.api.operation} path\nExpected: {wanted}\n"
                f"Received: {status}, Allow: {response.headers.get('Allow')!r}",
            )
        if named is not None and run.model.state[named.id] is State.OPEN:
            if 200 <= status < 300 and method != "OPTIONS":
                run.model.consume(named)  # it may have acted: don't blame later answers on it
            else:
                run.model.touched.add(named.id)


# ---------------------------------------------------------------- shared by the checks


def act_variant(run: StateRun, code: str, resource: Resource, variant: Variant) -> bool:
    """Act on open ``resource`` with ``variant``: 2xx expected, spent either way. True on 2xx.

    Refused, the same request without the variation follows: a refusal must have changed
    nothing, and where the API refuses both ways with one status (Firma's 400), that
    plain request tells a refused variation from a resource that was no longer open.
    """
    exchange = _send(run, resource, variant)
    status = run.observe(exchange)
    situation = f"Situation: {variant.label}, naming open {resource.id}\nExpected: 200"
    if status is None:
        run.model.spent.add(resource.id)  # unknown outcome: never draw it again
        return False
    if 200 <= status < 300:
        run.model.consume(resource)
        run.model.successes += 1
        acted = replace(resource, id=variant.target_id)  # echoed ids compare with this one
        body = exchange.json()
        for row in of_kind("outcome", run.api.name):
            for problem in row(acted, body):
                run.report(row.code, exchange, problem)
        return True
    if status != run.api.conflict_status:
        run.report(code, exchange, f"{situation}\nReceived: {status}")
        run.model.touched.add(resource.id)
        run.act_on_open(resource)
        return False
    before = run.model.successes
    run.act_on_open(resource)
    if run.model.successes > before:
        run.report(
            code,
            exchange,
            f"{situation}\nReceived: {status}; the same request without this variation then "
            "succeeded",
        )
    return False


def _send(run: StateRun, resource: Resource, variant: Variant) -> Exchange:
    body = variant.body
    if body is DEFAULT_BODY:
        body = run.api.default_body(variant.target_id)
    key = run.world.owner_key(resource)
    headers = {
        "Authorization": run.api.key_forms(key)[0][1],
        "Content-Type": variant.content_type,
    }
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return run.client.send(
        "POST", run.api.path(variant.target_id), headers=headers, content=content
    )


def _other_case(target_id: str) -> str:
    """``target_id`` in upper case (in lower case if the fixture writes it in upper case)."""
    upper = target_id.upper()
    return upper if upper != target_id else target_id.lower()


def _methods(header: str | None) -> set[str]:
    return {m.strip().upper() for m in (header or "").split(",") if m.strip()}
