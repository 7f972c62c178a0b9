"""Who may act, and on what (issue #10): the checks an attacker's probes would make.

* every key the fixture lists, in every ``Authorization`` form the API allows,
  authenticates *and* reaches its tenant's resources (``keys_reach_tenant``);
* only the listed keys do: another letter case, a prefix or suffix of a key, one
  character more is a 401 (``key_exactness``); an HTTP ``Bearer`` scheme is
  case-insensitive (``bearer_scheme_case``);
* a request without a valid key is a 401 whatever else is wrong with it
  (``refusal_envelope``);
* another tenant's resource is a 404 in every state, the same 404 as an id that
  does not exist (``foreign_any_state``);
* each server the spec declares on the target's origin and the target serves is
  checked too, and they are one API (``every_server``).

:class:`Access` holds every ``Authorization`` the fixture's keys may be sent as;
the acting checks (terminal, repeat, concurrency, cancel/revoke) rotate through
those this run found working, so each key and each form acts somewhere.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance.apis import BadRequest, act
from conformance.checks import check
from conformance.checks.steps import (
    auth_required,
    invalid_body_rejected,
    keys_authenticate,
    repeat_conflict,
    tenant_isolation,
    terminal_conflict,
    unknown_not_found,
)
from conformance.world import Resource, State, Tenant, World

if TYPE_CHECKING:
    from conformance.apis import Api
    from conformance.phases.state import StateRun

__all__ = ["Access", "sibling_servers"]


class Access:
    """Every ``Authorization`` a tenant's keys may be sent as, and which ones failed.

    The order interleaves keys within each form (key 1 ``Bearer``, key 2 ``Bearer``,
    key 1 ``bearer``, ...), so that the first is the first key in the first form and
    a few consecutive ones already span several keys and forms.
    """

    def __init__(self, api: Api, world: World) -> None:
        self.api, self.world = api, world
        self.failed: set[str] = set()  # refused, or not reaching the tenant: acts skip them
        self._turns: dict[str, int] = {}
        self.unknown_answers: dict[tuple[str, str], dict[str, str] | None] = {}

    def forms(self, key: str) -> list[tuple[str, str]]:
        """(label, Authorization) for every form the API allows for ``key``."""
        return self.api.key_forms(key) + self.api.scheme_variants(key)

    def of_tenant(self, tenant_id: str) -> list[tuple[str, str]]:
        """(label, Authorization) for every key of the tenant in every form."""
        keys = self.world.tenant(tenant_id).keys
        per_key = [self.forms(key) for key in keys]
        combos = []
        for form in range(max((len(forms) for forms in per_key), default=0)):
            for number, forms in enumerate(per_key, 1):
                if form < len(forms):
                    label, authorization = forms[form]
                    combos.append((f"key {number} of {tenant_id} as {label}", authorization))
        return combos

    def usable(self, tenant_id: str) -> list[tuple[str, str]]:
        """The tenant's combinations not found failing (all of them if every one failed)."""
        combos = self.of_tenant(tenant_id)
        return [c for c in combos if c[1] not in self.failed] or combos[:1]

    def next(self, tenant_id: str) -> str:
        """The next usable ``Authorization`` of the tenant, in turn."""
        return self._turn(tenant_id, self.usable(tenant_id))[1]

    def take(self, tenant_id: str, count: int) -> list[str]:
        return [self.next(tenant_id) for _ in range(count)]

    def foreign(self, tenant_id: str) -> tuple[str, str] | None:
        """(label, Authorization) of another tenant's key, in turn; None with one tenant."""
        combos = [
            combo
            for tenant in self.world.tenants
            if tenant.id != tenant_id
            for combo in self.usable(tenant.id)
        ]
        return self._turn("\0" + tenant_id, combos) if combos else None

    def _turn(self, name: str, combos: Sequence[tuple[str, str]]) -> tuple[str, str]:
        turn = self._turns.get(name, 0)
        self._turns[name] = turn + 1
        return combos[turn % len(combos)]


# ---------------------------------------------------------------- keys


@check("run")
def key_exactness(run: StateRun) -> None:
    """A string that is not a listed key (another case, a prefix or suffix of one) is accepted."""
    unknown = run.unknown_id()
    listed = set(run.world.keys())
    sent = 0
    for tenant in run.world.tenants:
        for number, key in enumerate(tenant.keys, 1):
            secret = run.world.key_names.get(key)
            for variant in run.api.key_variants(key):
                if variant.text in listed:
                    continue
                if secret is not None and len(variant.text) >= 4:
                    run.client.hide(variant.text, variant.shell(secret.lstrip("$")))
                # One documented form per near miss, the forms in turn: the key is compared
                # after the form is read, so every form is covered without sending each.
                forms = run.api.key_forms(variant.text)
                form, authorization = forms[sent % len(forms)]
                sent += 1
                exchange = act(run.api, run.client, unknown, authorization=authorization)
                run.expect(
                    "key_exactness",
                    exchange,
                    frozenset({401}),
                    f"key {number} of {tenant.id} {variant.label}, sent as {form}: "
                    "no tenant has this key",
                )


@check("run", apis=("craftkit",))
def bearer_scheme_case(run: StateRun) -> None:
    """The Bearer scheme name is matched case-sensitively (bearer or BEARER is refused)."""
    unknown = run.unknown_id()
    for tenant in run.world.tenants:
        for number, key in enumerate(tenant.keys, 1):
            canonical = run.api.key_forms(key)[0][1]
            for form, authorization in run.api.scheme_variants(key):
                exchange, status = run.act_on_unknown(authorization, unknown, judge_401=False)
                if status != 401:
                    continue
                run.access.failed.add(authorization)
                if canonical not in run.access.failed:  # else keys_authenticate said it
                    run.report(
                        "bearer_scheme_case",
                        exchange,
                        f"Key {number} of {tenant.id} sent as {form}; it works as `Bearer`\n"
                        "Expected: accepted, as the scheme name is case-insensitive "
                        "(RFC 9110); the id is unknown, so 404\nReceived: 401",
                    )


@check("run")
def keys_reach_tenant(run: StateRun) -> None:
    """A listed key authenticates but does not reach its tenant's resources."""
    for tenant in run.world.tenants:
        combos = [c for c in run.access.of_tenant(tenant.id) if c[1] not in run.access.failed]
        resource = _reachable(run, tenant)
        if resource is None or not combos:
            if resource is None:
                run.note(
                    f"keys_reach_tenant: the fixture lists no resource of {tenant.id}; its "
                    "keys were checked for authentication only"
                )
            continue
        if run.model.state[resource.id] is State.OPEN:
            status = run.act_on_open(resource, authorization=combos[0][1])
            if status is None or not 200 <= status < 300:
                continue  # reported by act_on_open; its state is unknown now
            combos = combos[1:]
        expected = frozenset({502 if resource.state is State.FAILING else run.api.conflict_status})
        for label, authorization in combos:
            exchange = run.act_as_owner(resource, authorization=authorization)
            status = run.observe(exchange)
            if status is None or status in expected:
                continue
            situation = f"{label} names {tenant.id}'s {resource.id} ({_state_of(run, resource)})"
            if 200 <= status < 300:  # it reached the resource, and acted where it must not
                code = "repeat_conflict" if resource.state is State.OPEN else "terminal_conflict"
                run.model.consume(resource)
                run.judge(code, exchange, status, expected, situation)
                continue
            run.access.failed.add(authorization)
            run.report(
                "keys_reach_tenant",
                exchange,
                f"Situation: {situation}\nExpected: {_either(expected)}, as for the tenant's "
                f"first key\nReceived: {status}",
            )


def _reachable(run: StateRun, tenant: Tenant) -> Resource | None:
    """A resource of ``tenant`` every key may name: closed first, spending an open one last."""
    mine = [r for r in run.world.resources if r.tenant == tenant.id]
    for state in (State.CLOSED, State.LOCKED, State.FAILING):
        fixed = [r for r in mine if r.state is state and run.model.state[r.id] is not State.OPEN]
        if fixed:
            return fixed[0]
    candidates = [r for r in run.model.open() + run.model.done() if r.tenant == tenant.id]
    return candidates[0] if candidates else None


# ---------------------------------------------------------------- refusals


@check("resource")
def refusal_envelope(run: StateRun, resource: Resource) -> None:
    """A request without a valid key and with a bad id or body too is not refused with 401."""
    non_id, _ = run.api.non_id()
    for label, authorization in run.api.refusal_credentials():
        for other, target_id in (
            ("an id that is not a uuid", non_id),
            ("an id the target does not hold", run.unknown_id()),
        ):
            exchange = act(run.api, run.client, target_id, authorization=authorization)
            run.expect(
                "refusal_envelope",
                exchange,
                frozenset({401}),
                f"{label} and {other}: the key is checked first",
            )
        for bad in _two_kinds(run.api.bad_bodies(resource.id)):
            run.refuse(
                "refusal_envelope",
                resource,
                BadRequest(
                    f"{label} and {bad.label}: the key is checked first",
                    frozenset({401}),
                    authorization=authorization,
                    drop_authorization=authorization is None,
                    body=bad.body,
                    json_body=bad.json_body,
                ),
            )


def _two_kinds(bodies: list[BadRequest]) -> list[BadRequest]:
    """The first body of the wrong shape and the first that is not JSON at all."""
    shape = [b for b in bodies if b.body is None][:1]
    raw = [b for b in bodies if b.body is not None][:1]
    return shape + raw


# ---------------------------------------------------------------- tenancy


@check("resource")
def foreign_any_state(run: StateRun, resource: Resource) -> None:
    """Another tenant's resource, in some state, is not answered like an unknown id (404)."""
    foreign = run.access.foreign(resource.tenant)
    if foreign is None:
        run.note("foreign_any_state: the fixture lists one tenant; add a second to check it")
        return
    label, authorization = foreign
    exchange = act(run.api, run.client, resource.id, authorization=authorization)
    situation = (
        f"{label} (another tenant) names {resource.tenant}'s {resource.id} "
        f"({_state_of(run, resource)})"
    )
    status = run.expect("foreign_any_state", exchange, frozenset({404}), situation)
    if status is None:
        return
    if 200 <= status < 300:
        run.model.consume(resource)
        return
    if run.model.state[resource.id] is State.OPEN:
        run.model.touched.add(resource.id)
    if status != 404:
        return
    expected = _unknown_words(run, authorization)
    if expected is None:
        return  # not a 404 for an unknown id: unknown_not_found judges that
    seen = _words(exchange.json(), resource.id)
    if seen != expected:
        run.report(
            "foreign_any_state",
            exchange,
            f"Situation: {situation}: its 404 differs from the 404 for an id that does not "
            "exist, so it tells the caller the id exists\n"
            f"Expected: as for an unknown id, {_show(expected)}\nReceived: {_show(seen)}",
        )


_WORDS = frozenset({"code", "error", "message"})


def _unknown_words(run: StateRun, authorization: str) -> dict[str, str] | None:
    """What a 404 for an unknown id says to ``authorization`` (asked once per server)."""
    key = (run.client.base_url, authorization)
    if key not in run.access.unknown_answers:
        unknown_id = run.unknown_id()
        baseline = act(run.api, run.client, unknown_id, authorization=authorization)
        status = run.observe(baseline)
        words = _words(baseline.json(), unknown_id) if status == 404 else None
        if status is None:
            return None  # inconclusive: ask again next time
        run.access.unknown_answers[key] = words
    return run.access.unknown_answers[key]


def _words(body: Any, named: str, path: str = "") -> dict[str, str]:
    """The error's code and message strings, with the id the request named written {id}."""
    found: dict[str, str] = {}
    if isinstance(body, dict):
        for name, value in body.items():
            where = f"{path}.{name}" if path else str(name)
            if isinstance(value, str) and name in _WORDS:
                found[where] = re.sub(re.escape(named), "{id}", value, flags=re.IGNORECASE)
            elif isinstance(value, dict) and not path:
                found.update(_words(value, named, where))
    return found


def _show(words: dict[str, str]) -> str:
    return ", ".join(f"{k} {v!r}" for k, v in sorted(words.items())) or "no code or message"


def _state_of(run: StateRun, resource: Resource) -> str:
    if run.model.state[resource.id] is State.OPEN:
        return "open"
    if resource.state is State.OPEN:
        return "closed by this run"
    record: Any = resource.record
    fixture = record.get("status") or ("revoked" if record.get("revoked_at") else "")
    return f"{resource.state.value} ({fixture})" if fixture else resource.state.value


def _either(statuses: frozenset[int]) -> str:
    return " or ".join(str(s) for s in sorted(statuses))


# ---------------------------------------------------------------- every server


def sibling_servers(base_url: str, server_urls: Sequence[str]) -> tuple[str | None, list[str]]:
    """The spec server ``base_url`` stands for, and the URLs of its siblings on its origin.

    The siblings are the spec's other servers on the same host as the one matched,
    moved under ``base_url``'s root (what precedes the matched server's path).

    >>> servers = ["https://api.firma.dev/functions/v1/signing-request-api",
    ...            "https://api.firma.dev/api/v1", "https://sandbox.firma.dev/api/v1"]
    >>> sibling_servers("http://127.0.0.1:8000/api/v1/", servers)
    ('/api/v1', ['http://127.0.0.1:8000/functions/v1/signing-request-api'])
    >>> sibling_servers("http://gw.local/firma", servers)
    (None, [])
    """
    path = urlsplit(base_url).path.rstrip("/")
    parsed = [urlsplit(u) for u in server_urls if "{" not in u]
    matches = [s for s in parsed if path.endswith(s.path.rstrip("/"))]
    if not matches:
        return None, []
    here = max(matches, key=lambda s: len(s.path.rstrip("/")))
    here_path = here.path.rstrip("/")
    root = base_url.rstrip("/")[: len(base_url.rstrip("/")) - len(here_path)]
    siblings: list[str] = []
    for server in parsed:
        other = server.path.rstrip("/")
        url = root + other
        if server.netloc == here.netloc and other != here_path and url not in siblings:
            siblings.append(url)
    return here_path or "/", siblings


@check("run")
def every_server(run: StateRun) -> None:
    """Two servers of the spec do not share their resources: what one did, the other missed."""
    if len(run.validator.server_urls) < 2:
        return
    given, siblings = sibling_servers(run.client.base_url, run.validator.server_urls)
    if given is None:
        run.note(
            "every_server: --base-url matches none of the spec's servers; only it was "
            "checked (" + ", ".join(run.validator.server_urls) + ")"
        )
        return
    root = run.client.base_url[: len(run.client.base_url) - len(given.rstrip("/"))]
    checked, skipped = [f"{given} (--base-url)"], []
    for url in siblings:
        view = _view(run, url)
        served = _served(run, view)
        if served is not None:
            skipped.append(f"{url[len(root) :]} ({served})")
            _count(run, view)
            continue
        checked.append(url[len(root) :])
        try:
            _battery(run, view)
        finally:
            _count(run, view)
    run.note(
        "servers of the spec checked: "
        + ", ".join(checked)
        + ("; not served, so not checked: " + ", ".join(skipped) if skipped else "")
    )


def _view(run: StateRun, url: str) -> StateRun:
    """The same run (model, access, violations, notes) sending to another server."""
    view = copy.copy(run)
    view.client = run.client.at(url)
    view.validator = run.validator.at(url)
    return view


def _count(run: StateRun, view: StateRun) -> None:
    run.client.sent = view.client.sent  # the view sent after the run, never meanwhile


def _served(run: StateRun, view: StateRun) -> str | None:
    """None when ``view``'s server serves the operation; else why it counts as not served.

    Served: a request with a listed key and an invalid body, or naming a closed
    resource of its tenant, gets an answer other than 404. A path that answers 404 to
    both (in whatever envelope) does not serve the operation.
    """
    tenant = run.world.tenants[0]
    authorization = run.access.usable(tenant.id)[0][1]
    unknown = run.unknown_id()
    bad = run.api.bad_bodies(unknown)[0]
    probes = [
        act(
            run.api,
            view.client,
            unknown,
            authorization=authorization,
            body=bad.json_body,
            content=bad.body,
        )
    ]
    closed = next((r for r in run.world.in_state(State.CLOSED)), None)
    if closed is not None:
        probes.append(view.act_as_owner(closed, authorization=run.access.next(closed.tenant)))
    statuses = [p.status for p in probes]
    if all(s is None for s in statuses):
        return "no answer"
    if all(s in (None, 404) for s in statuses):
        return "404 to a bad body and to a closed resource"
    return None


def _battery(run: StateRun, view: StateRun) -> None:
    """The state checks again through ``view``, on the same model, then one world across."""
    keys_authenticate(view)
    bearer_scheme_case(view)
    key_exactness(view)
    unknown_not_found(view)
    keys_reach_tenant(view)
    for resource in run.model.fixed():
        terminal_conflict(view, resource)
        foreign_any_state(view, resource)
    done_here = run.model.done()
    opened = run.model.open()
    if not opened:
        run.note(f"every_server: no open resource left to act on through {view.client.base_url}")
    else:
        first = opened[0]
        for bad in run.api.bad_credentials():
            auth_required(view, first, bad)
        for bad in run.api.bad_bodies(first.id):
            invalid_body_rejected(view, first, bad)
        refusal_envelope(view, first)
        tenant_isolation(view, first)
        if run.model.state[first.id] is State.OPEN:
            status = view.act_on_open(first)
            if status is not None and 200 <= status < 300:
                repeat_conflict(view, first)
                foreign_any_state(view, first)
                _one_world(run, first, done_by=view)
    for resource in done_here[:1]:
        _one_world(view, resource, done_by=run)


def _one_world(run: StateRun, resource: Resource, *, done_by: StateRun) -> None:
    """``resource`` was cancelled (revoked) through ``done_by``: ``run``'s server must see it."""
    exchange = run.act_as_owner(resource)
    status = run.observe(exchange)
    if status is None or status == run.api.conflict_status:
        return
    run.report(
        "every_server",
        exchange,
        f"Situation: {resource.id} was already done through {done_by.client.base_url}; the "
        "spec's servers are one API over one set of resources\n"
        f"Expected: {run.api.conflict_status}, as through that server\nReceived: {status}",
    )
