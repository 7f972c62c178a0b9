"""A Craftkit fixture file checked and turned into the world the mock serves.

Format (docs/fixtures.md): ``projects`` with their API keys, and
``signature_requests`` that are ``SignatureRequest`` bodies plus ``project``
and an optional ``mock`` block. A record needs only ``id``, ``project`` and
``status``: what else the spec requires and the file leaves out is made up the
way the control plane makes a new request, then moved to its status by the
domain rules (a ``completed`` one has every signature, ``completedAt`` and its
URLs), deterministically (same file, same world). Every record is then
validated against the spec's own schema (OAS 3.1), so a fixture can never make
the mock answer off-contract, and against what its status implies
(``signatures.STATUS_RULES``), so it never serves a state the domain rules
cannot reach.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from mock_server.clock import isoformat
from mock_server.contract import Contract
from mock_server.craftkit import signatures
from mock_server.craftkit.signatures import (
    EXTRA_KEYS,
    NULL,
    SET,
    SIGNING,
    STATUS_RULES,
    TERMINAL,
    public_body,
)
from mock_server.fixtures import FixtureFile, Problems, did_you_mean, unsendable_key
from mock_server.ids import canonical_uuid
from mock_server.state.base import Decision, Record

__all__ = [
    "KEY_PREFIXES",
    "SIGNATURE_REQUEST",
    "CraftkitWorld",
    "check_drafted",
    "check_record",
    "complete_record",
    "load_world",
    "status_contradictions",
]

SIGNATURE_REQUEST = "/components/schemas/SignatureRequest"
KEY_PREFIXES = ("ck_live_", "ck_test_")

GIVEN = ("id", "project", "status")
"""What a fixture record must give; the rest can be generated."""
GENERATED_FROM = "2026-11-01T09:00:00.000Z"
"""``createdAt`` of a record that gives none; its events follow an hour apart."""
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "esign-contract-mock:craftkit")
"""Namespace of generated uuids (uuid5 of the record's id: the same on every start)."""
_STEPS = {
    "sent": (),
    "viewed": ("viewed",),
    "completed": ("viewed", "signed"),  # signed again until every Signer and Approver has
    "declined": ("viewed", "declined"),
    "expired": ("expired",),
    "failed": ("failed",),
    "cancelled": ("cancel",),
}
"""How the signature service takes a new (``sent``) request to each status."""

_MOCK_BLOCK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"on_cancel": {"enum": ["provider_error", "upstream_locked"]}},
}
"""A record's optional ``mock`` block: what the simulated signature service does."""

_FORMAT = Draft202012Validator(
    {
        "type": "object",
        "required": ["api", "projects", "signature_requests"],
        "additionalProperties": False,
        "properties": {
            "api": {"const": "craftkit"},
            "projects": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["id", "api_keys"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "api_keys": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "minLength": 1},
                        },
                    },
                },
            },
            "signature_requests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["project"],
                    "properties": {
                        "project": {"type": "string"},
                        "mock": _MOCK_BLOCK,
                    },
                },
            },
        },
    }
)


_MOCK = Draft202012Validator(_MOCK_BLOCK)


@dataclass(frozen=True)
class CraftkitWorld:
    """Tenants, keys and signature requests, as a fixture file declares them."""

    source: str
    keys: Mapping[str, str]
    """API key -> project id."""
    projects: tuple[str, ...]
    signature_requests: tuple[Record, ...]
    """Fixture records: the response body plus ``project`` and ``mock``."""
    notes: tuple[str, ...] = ()
    """Start-up log lines: what was generated for the records that left it out."""

    def seed(self) -> dict[str, list[tuple[str, Record]]]:
        """Rows for a store, keyed by canonical uuid."""
        rows = [(str(canonical_uuid(r["id"])), r) for r in self.signature_requests]
        return {"signature_requests": rows}

    def new_request(
        self, fields: Mapping[str, Any], *, now: str, base_url: str
    ) -> tuple[Record, str | None]:
        """The record the control plane creates from ``fields``, and why its recipients
        cannot reach its status (``None`` when they can).

        What ``fields`` leave out is made up as for a fixture record
        (:func:`complete_record`), with the control plane's defaults: a new ``id``, the
        first project, ``status: sent`` and ``createdAt: now``. A request given another
        status is moved to it by the domain rules at its ``createdAt`` (every event at
        that instant), its URLs on ``base_url``. The result is not checked here:
        :func:`check_drafted` says what is wrong with it.

        >>> world = CraftkitWorld("f.yaml", {}, ("proj_acme",), ())
        >>> now = "2026-11-22T10:00:00.000Z"
        >>> record, _ = world.new_request({"name": "NDA"}, now=now, base_url="http://m")
        >>> record["project"], record["status"], record["recipients"][0]["designation"]
        ('proj_acme', 'sent', 'Signer')
        >>> record, _ = world.new_request({"status": "completed"}, now=now, base_url="http://m")
        >>> record["completedAt"] == record["recipients"][0]["signedAt"] == now
        True

        A uuid given in any case is kept in lower case, the case the vendor routes echo
        (docs/behaviour.md), as the control plane keeps a Firma ``jwt_id``:

        >>> given = {"id": "0C3F5A8E-2B7D-4C1E-9A6F-1D2E3F4A5B6C"}
        >>> world.new_request(given, now=now, base_url="http://m")[0]["id"]
        '0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c'
        """
        given = dict(fields)
        named = given.get("id")
        canonical = canonical_uuid(named) if isinstance(named, str) else None
        if canonical is not None:
            given["id"] = canonical
        elif "id" not in given:
            given["id"] = str(uuid.uuid4())
        given.setdefault("project", self.projects[0])
        given.setdefault("status", "sent")  # (complete_record generates no GIVEN field)
        given.setdefault("createdAt", now)
        record, _, unreachable = complete_record(given, service_url=base_url, spacing=0.0)
        return record, unreachable


def _new_request(fields: Mapping[str, Any], *, project: str, now: str, render_id: str) -> Record:
    request_id = str(fields.get("id") or uuid.uuid4())
    recipients = fields.get("recipients", [{}])
    if isinstance(recipients, list):
        recipients = [
            _new_recipient(r, n, request_id) if isinstance(r, dict) else r
            for n, r in enumerate(recipients, start=1)
        ]
    return {
        "id": request_id,
        "project": project,
        "renderId": render_id,
        "name": "Untitled agreement",
        "status": "sent",
        "expirationHours": 72,
        "signedDownloadUrl": None,
        "certificateUrl": None,
        "errorMessage": None,
        "createdAt": now,
        "completedAt": None,
        **fields,
        "recipients": recipients,
    }


def _new_recipient(fields: Mapping[str, Any], n: int, request_id: str) -> dict[str, Any]:
    email = fields.get("email", f"signer{n}@example.com")
    local = str(email).split("@", 1)[0]
    return {
        "id": f"rcp_{request_id[:8]}_{n}",
        "firstName": local.replace(".", " ").title() or f"Signer {n}",
        "lastName": None,
        "email": email,
        "designation": "Signer",
        "order": n,
        "signedAt": None,
        "declinedAt": None,
        **fields,
    }


def complete_record(
    record: Record, *, service_url: str, spacing: float = 3600.0
) -> tuple[Record, list[str], str | None]:
    """``record`` with what it leaves out made up, coherent with its status.

    A new request is drafted (its recipients' signatures cleared), moved to
    ``record["status"]`` by the domain rules, one event ``spacing`` seconds (an
    hour) after its ``createdAt`` and after each other, and every field ``record`` gives is
    laid back over it. Ids are uuid5s of the record's id, so the same file gives
    the same record on every start. Returns the record, the names of the fields
    generated (``recipients[].signedAt`` for a recipient's), and a problem when
    its recipients cannot reach its status. A record that leaves nothing out
    comes back as it is.

    >>> record, generated, _ = complete_record(
    ...     {"id": "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c", "project": "p", "status": "completed"},
    ...     service_url="https://api.craftkit.dev",
    ... )
    >>> record["completedAt"], record["recipients"][0]["signedAt"]
    ('2026-11-01T11:00:00.000Z', '2026-11-01T11:00:00.000Z')
    >>> generated[:3]
    ['renderId', 'name', 'expirationHours']
    """
    request_id = str(record.get("id", ""))
    given_recipients = record.get("recipients")
    if not isinstance(given_recipients, list) or not all(
        isinstance(r, dict) for r in given_recipients
    ):
        given_recipients = None  # absent, or check_record says what is wrong with them
    unsigned = [
        {k: v for k, v in r.items() if k not in ("signedAt", "declinedAt")}
        for r in ([{}] if given_recipients is None else given_recipients)  # [] is a list too
    ]
    start = _instant(record.get("createdAt", GENERATED_FROM))
    draft = _new_request(
        {"id": request_id, "recipients": unsigned},
        project=str(record.get("project")),
        now=isoformat(start),
        render_id=str(uuid.uuid5(_IDS, f"{canonical_uuid(request_id) or request_id}/renderId")),
    )
    made, problem = draft, None
    status = record.get("status")
    if isinstance(status, str) and status in _STEPS:
        advanced = _advance(draft, status, start, service_url, spacing)
        made, problem = (draft, advanced) if isinstance(advanced, str) else (advanced, None)

    generated: list[str] = []
    completed: Record = {}
    for name, value in made.items():
        if name in record:
            completed[name] = record[name]
        elif name not in GIVEN:
            completed[name] = value
            generated.append(name)
    if given_recipients is not None:
        completed["recipients"] = [
            _lay_over(given, drafted, generated)
            for given, drafted in zip(given_recipients, made["recipients"], strict=True)
        ]
    if not generated:
        return record, [], None
    completed.update((name, value) for name, value in record.items() if name not in completed)
    return completed, generated, problem


def _lay_over(given: Record, drafted: Record, generated: list[str]) -> Record:
    """A recipient as ``given``, with the fields it leaves out taken from ``drafted``."""
    recipient = {name: given.get(name, value) for name, value in drafted.items()}
    for name in drafted:
        if name not in given and f"recipients[].{name}" not in generated:
            generated.append(f"recipients[].{name}")
    recipient.update((name, value) for name, value in given.items() if name not in recipient)
    return recipient


def _advance(
    draft: Record, status: str, start: float, service_url: str, spacing: float
) -> Record | str:
    """``draft`` (sent) taken to ``status`` by the domain rules, its events ``spacing``
    seconds apart, or why it cannot be."""
    record, steps, hours = draft, list(_STEPS[status]), 0
    while steps:
        step = steps.pop(0)
        hours += 1
        decision: Decision[Any]
        if step == "cancel":
            decision = signatures.cancel(record, project=record["project"])
        else:
            decision = signatures.apply_event(
                record,
                step,
                recipient_id=None,
                message=None,
                now=isoformat(start + spacing * hours),
                base_url=service_url,
            )
        if decision.replacement is None:
            reason = getattr(decision.outcome, "message", type(decision.outcome).__name__)
            return f"cannot generate a {status} request: {str(reason).rstrip('.')}"
        record = decision.replacement
        if step == "signed" and record["status"] != "completed":
            steps.append("signed")  # the next Signer or Approver in order
    return record


def _instant(value: Any) -> float:
    """Seconds since the epoch of the RFC 3339 ``value``, else of :data:`GENERATED_FROM`."""
    for text in (value, GENERATED_FROM):
        try:
            moment = datetime.fromisoformat(str(text))
        except ValueError:
            continue
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise AssertionError("GENERATED_FROM is RFC 3339")  # pragma: no cover


def _service_url(contract: Contract) -> str:
    """Where generated ``signedDownloadUrl`` and ``certificateUrl`` point: the spec's server."""
    for server in contract.document.get("servers") or []:
        url = str(server.get("url", ""))
        if urlsplit(url).scheme in ("http", "https"):
            return url.rstrip("/")
    return "https://api.craftkit.dev"


def check_record(
    problems: Problems, contract: Contract, record: Record, where: str, projects: Iterable[str]
) -> None:
    """One signature request: the spec's ``SignatureRequest`` plus an existing ``project``."""
    body = public_body(record)
    if not contract.accepts(SIGNATURE_REQUEST)(body):  # compiled: most records pass
        problems.schema_errors(contract.validator(SIGNATURE_REQUEST).iter_errors(body), where)
    problems.unknown_fields(contract, contract.schema(SIGNATURE_REQUEST), record, where, EXTRA_KEYS)
    if "mock" in record:
        mock_errors = list(_MOCK.iter_errors(record["mock"]))
        problems.schema_errors(mock_errors, f"{where}.mock")
        simulated = (record["mock"] or {}).get("on_cancel") if not mock_errors else None
        if simulated is not None and record.get("status") in TERMINAL:
            # A terminal request answers 409 before the signature service is asked, so the
            # block could never act, and the harness would expect its answer (docs/fixtures.md).
            problems.add(
                f"{where}.mock.on_cancel",
                f"{simulated!r} applies to sent or viewed requests only; this one is "
                f"{record['status']} and answers 409 (remove the mock block, or set status "
                "to sent or viewed)",
            )
    project = record.get("project")
    if not isinstance(project, str) or project not in projects:
        problems.add(
            f"{where}.project", f"unknown project {project!r}{did_you_mean(str(project), projects)}"
        )


def check_drafted(
    problems: Problems,
    contract: Contract,
    record: Record,
    unreachable: str | None,
    where: str,
    projects: Iterable[str],
) -> None:
    """A record :func:`complete_record` made (a fixture's, or the control plane's through
    :meth:`CraftkitWorld.new_request`): ``unreachable``, the status its recipients cannot
    reach if any, :func:`check_record`, and, for a record valid so far, what its status
    contradicts (:func:`status_contradictions`)."""
    found = len(problems.lines)
    if unreachable is not None:
        problems.add(f"{where}.recipients", f"{unreachable} (list a Signer or Approver)")
    check_record(problems, contract, record, where, projects)
    if len(problems.lines) == found:  # a valid record, in a state the domain reaches
        for place, contradiction in status_contradictions(record):
            problems.add(f"{where}{place}", contradiction)


_NULL_UNTIL = {
    "completedAt": ("null until it is completed", "completed"),
    "signedDownloadUrl": ("null until it is completed: the signed PDF", "completed"),
    "certificateUrl": ("null until it is completed: its completion certificate", "completed"),
    "errorMessage": ("null unless it failed", "failed"),
}
"""Why a field is null in a status that has none, and the status that has one."""
_SET_FOR = {
    "completedAt": "when its last Signer or Approver signed",
    "signedDownloadUrl": "the signed PDF",
    "certificateUrl": "its completion certificate",
    "errorMessage": "what failed",
}
"""What a field holds in a status that has one."""


def status_contradictions(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields ``record`` gives that its ``status`` contradicts (``STATUS_RULES``: a
    state the domain rules never reach), each as (``.field`` or ``.recipients[n].field``,
    what is wrong and the fix). A field it leaves out contradicts nothing.

    >>> [(place, why)] = status_contradictions({"status": "sent", "completedAt": "2026-11-02"})
    >>> place, why.partition(";")[0]
    ('.completedAt', 'a sent request has none (null until it is completed)')
    >>> status_contradictions({"status": "cancelled", "completedAt": "2026-11-02T10:15:00Z"})
    []
    """
    status = record.get("status")
    if not isinstance(status, str) or status not in STATUS_RULES:
        return []
    rules = STATUS_RULES[status]
    request = f"{'an' if status[0] in 'aeiou' else 'a'} {status} request"  # "an expired ..."
    found: list[tuple[str, str]] = []
    for name, rule in rules.items():
        if name not in record:  # left out, or a recipients[] rule
            continue
        if rule == NULL and record[name] is not None:
            why, then = _NULL_UNTIL[name]
            found.append(
                (
                    f".{name}",
                    f"{request} has none ({why}); remove it, or set status: {then}",
                )
            )
        elif rule == SET and record[name] is None:
            found.append(
                (
                    f".{name}",
                    f"null, but {request} has one ({_SET_FOR[name]}); write it, or "
                    "leave the field out",
                )
            )
    recipients = record.get("recipients")
    if isinstance(recipients, list):
        found += _recipient_contradictions(recipients, status, request, rules)
    return found


def _recipient_contradictions(
    recipients: list[Any], status: str, request: str, rules: Mapping[str, str]
) -> list[tuple[str, str]]:
    """What :func:`status_contradictions` finds in ``recipients``."""
    found: list[tuple[str, str]] = []
    signing: list[tuple[int, Mapping[str, Any]]] = []  # Signers and Approvers, by index
    for n, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            continue
        designation = recipient.get("designation", "Signer")  # generated when left out
        if designation == "CC":
            for name, act in (("signedAt", "signs"), ("declinedAt", "declines")):
                if recipient.get(name) is not None:
                    found.append(
                        (
                            f".recipients[{n}].{name}",
                            f"a CC only receives copies and never {act}; remove it, or make "
                            "the recipient a Signer or Approver",
                        )
                    )
        elif isinstance(designation, str) and designation in SIGNING:
            signing.append((n, recipient))
            if recipient.get("signedAt") is not None and recipient.get("declinedAt") is not None:
                found.append(
                    (
                        f".recipients[{n}].declinedAt",
                        "the recipient signed too (signedAt), and a recipient signs or declines, "
                        "not both; remove one",
                    )
                )
    signed = [n for n, r in signing if r.get("signedAt") is not None]
    declined = [n for n, r in signing if r.get("declinedAt") is not None]
    signatures, declines = rules["recipients[].signedAt"], rules["recipients[].declinedAt"]
    if signatures == "none":
        found += [
            (
                f".recipients[{n}].signedAt",
                f"{request} has no signature yet (the first makes it viewed); remove "
                "it, or set status: viewed",
            )
            for n in signed
        ]
    elif signatures == "not all" and signing and len(signed) == len(signing):
        found.append(
            (
                ".recipients",
                "every Signer and Approver has signed (signedAt), and the last signature "
                f"completes a request, so it is not {status}; set status: completed, or null "
                "one signedAt",
            )
        )
    elif signatures == "all":
        if not signing:
            found.append(
                (
                    ".recipients",
                    f"{request} has a Signer or Approver, and every one signed; list one",
                )
            )
        found += [
            (
                f".recipients[{n}].signedAt",
                f"null, but every Signer and Approver of {request} signed; write when "
                "they signed, or leave the field out",
            )
            for n, r in signing
            if "signedAt" in r and r["signedAt"] is None
        ]
    if declines == "none":
        found += [
            (
                f".recipients[{n}].declinedAt",
                f"{request} has no decline (a decline makes it declined); remove it, "
                "or set status: declined",
            )
            for n in declined
        ]
    elif declines == "one" and len(declined) > 1:
        found += [
            (
                f".recipients[{n}].declinedAt",
                f"recipients[{declined[0]}] declined already, and a request is declined once; "
                "remove this one",
            )
            for n in declined[1:]
        ]
    elif declines == "one" and not declined and all("declinedAt" in r for _, r in signing):
        found.append(
            (
                ".recipients",
                f"no Signer or Approver declined (declinedAt), but {request} has the "
                "one who did; write when they declined"
                if signing
                else f"{request} has the Signer or Approver who declined; list them",
            )
        )
    return found


def load_world(fixture: FixtureFile, contract: Contract) -> CraftkitWorld:
    """Check ``fixture`` against the format and the spec.

    Raises ``FixtureError`` listing every problem found, not just the first.
    """
    problems = Problems(fixture.shown)
    data: dict[str, Any] = fixture.data
    problems.schema_errors(_FORMAT.iter_errors(data), "", data=data)
    problems.raise_if_any()

    keys: dict[str, str] = {}
    projects: list[str] = []
    for index, project in enumerate(data["projects"]):
        where = f"projects[{index}] (id {project['id']})"
        if project["id"] in projects:
            problems.add(f"{where}.id", "duplicate project id (each project once)")
        projects.append(project["id"])
        for k, key in enumerate(project["api_keys"]):
            if not key.startswith(KEY_PREFIXES):
                problems.add(
                    f"{where}.api_keys[{k}]",
                    f"{key!r} must start with ck_live_ or ck_test_ (Craftkit refuses other keys)",
                )
            elif (unsendable := unsendable_key(key)) is not None:
                problems.add(f"{where}.api_keys[{k}]", unsendable)
            elif key in keys:
                problems.add(
                    f"{where}.api_keys[{k}]",
                    f"{key!r} already belongs to project {keys[key]} (a key has one project)",
                )
            keys[key] = project["id"]

    seen: dict[str, int] = {}
    records: list[Record] = []
    generated: dict[str, None] = {}  # the fields generated for any record, in order
    completed = 0  # records with a generated field
    url = _service_url(contract)
    for index, given in enumerate(data["signature_requests"]):
        named = isinstance(given.get("id"), str) and given["id"]
        where = f"signature_requests[{index}]" + (f" (id {given['id']})" if named else "")
        record, made_up, unreachable = complete_record(given, service_url=url)
        generated.update(dict.fromkeys(made_up))
        completed += bool(made_up)
        records.append(record)
        check_drafted(problems, contract, record, unreachable, where, projects)
        key = canonical_uuid(str(record.get("id", "")))
        if key is not None:
            if key in seen:
                problems.add(f"{where}.id", f"duplicate id (also signature_requests[{seen[key]}])")
            seen[key] = index
    problems.raise_if_any()
    return CraftkitWorld(
        source=fixture.shown,
        keys=keys,
        projects=tuple(projects),
        signature_requests=tuple(records),
        notes=_generated_note(fixture.shown, contract, list(generated), completed, len(records)),
    )


def _generated_note(
    source: str, contract: Contract, generated: Sequence[str], completed: int, total: int
) -> tuple[str, ...]:
    """The start-up log line saying what was generated, fields in the spec's order."""
    if not generated:
        return ()
    schema = contract.deref(contract.schema(SIGNATURE_REQUEST))
    recipient = contract.deref(schema["properties"]["recipients"]["items"])
    order = [*schema["properties"], *(f"recipients[].{name}" for name in recipient["properties"])]
    names = sorted(generated, key=lambda name: order.index(name) if name in order else len(order))
    return (
        f"{source}: generated {', '.join(names)} for {completed} of {total} signature "
        "requests (the spec requires them; give them in the file to choose)",
    )
