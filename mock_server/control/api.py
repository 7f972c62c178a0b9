"""The control plane's operations: Connexion routes and validates ``openapi.yaml``; these answer.

Each operation acts on the caller's session (``X-Mock-Session``, resolved by
the app before Connexion sees the request). State changes go through the same
domain rules and store transitions as the vendor APIs, so a request walked
through its life here answers the vendor API exactly as a real one would.
"""

from __future__ import annotations

import logging
import re
import reprlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple, cast
from uuid import uuid4

from starlette.responses import Response
from starlette.types import ASGIApp

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    import connexion
    from connexion import ProblemException
    from connexion.datastructures import MediaTypeDict
    from connexion.exceptions import BadRequestProblem
    from connexion.json_schema import format_error_with_path
    from connexion.lifecycle import ConnexionResponse
    from connexion.middleware import MiddlewarePosition
    from connexion.middleware.exceptions import ExceptionMiddleware
    from connexion.options import SwaggerUIOptions
    from connexion.resolver import Resolver
    from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
    from jsonschema import ValidationError

from mock_server._http import PROBLEM_JSON, problem_response
from mock_server.clock import Clock, isoformat
from mock_server.contract import Contract
from mock_server.control.bodies import StrictBodies, json_answer, operations_with_bodies
from mock_server.control.events import Streams
from mock_server.control.methods import DeclaredMethods
from mock_server.craftkit import signatures
from mock_server.craftkit.api import CANCEL_REFUSED
from mock_server.craftkit.world import check_drafted
from mock_server.documented import METHODS, DocumentedOperation
from mock_server.firma import jwts
from mock_server.firma.api import ALREADY_REVOKED, revoked_body
from mock_server.fixtures import Problems, did_you_mean
from mock_server.http.context import context
from mock_server.http.refusals import Availability, unavailable
from mock_server.ids import canonical_uuid
from mock_server.live import Live
from mock_server.routes import nearest
from mock_server.serving import stopping
from mock_server.state import (
    DEFAULT_SESSION,
    Record,
    Session,
    SessionRefused,
    Sessions,
    StoreUnavailable,
    insert,
)
from mock_server.state.base import Decide, Outcome

__all__ = ["BASE_PATH", "DOCUMENT", "SESSIONLESS", "ControlPlane"]

BASE_PATH = "/__mock"
DOCUMENT = Path(__file__).with_name("openapi.yaml")
SESSIONLESS = frozenset({BASE_PATH + "/sessions"})
"""Paths whose operation reads no session, so a call creates none (``X-Mock-Session``
unread): the session layer leaves them without one."""

log = logging.getLogger("mock_server.control")


def _empty() -> Response:
    return Response(status_code=204)


def _refuse(status: int, detail: str) -> ProblemException:
    return ProblemException(status=status, title=HTTPStatus(status).phrase, detail=detail)


_FAULT_ID = re.compile(r"[1-9][0-9]{0,14}")
"""A fault id as stores write them: a positive integer, exact in a double (Redis's Lua)."""


def _refuse_as_vendor(detail: str, vendor_status: int) -> ProblemException:
    """A 409 for an action the vendor API refuses; ``vendorStatus`` is what it answers."""
    return ProblemException(
        status=409, title="Conflict", detail=detail, ext={"vendorStatus": vendor_status}
    )


def _no_record(what: str, id: str, session: Session) -> ProblemException:
    return _refuse(
        404, f"no {what} {id!r} in session {session.name!r} (GET /__mock/state lists them)"
    )


class _Draft(NamedTuple):
    """A record a create call drafted: its store key, or the problems that refuse it."""

    record: dict[str, Any]
    key: str
    problems: Sequence[str] = ()


_SHOWN = 10
"""Problems a refused batch names at most (then how many more there are)."""


def _refuse_items(status: int, lines: Sequence[str]) -> ProblemException:
    more = f"; and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else ""
    return _refuse(status, "; ".join(lines[:_SHOWN]) + more)


class _Batch(NamedTuple):
    """What one batch route creates, and how its answers and log line name it."""

    api: str
    collection: str
    field: str  # the id's field
    one: str  # "a JWT"
    done: str  # "JWTs issued"
    tallied: str  # the field the log line counts the records by


_REQUESTS = _Batch(
    "craftkit",
    signatures.COLLECTION,
    "id",
    "a signature request",
    "signature requests created",
    "status",
)
_JWTS = _Batch("firma", jwts.COLLECTION, "jwt_id", "a JWT", "JWTs issued", "workspace")


async def _store_batch(session: Session, batch: _Batch, drafts: Sequence[_Draft]) -> Response:
    """Every draft stored in one step of the store, or none (a 400 naming each item refused,
    a 409 naming each id taken); logged in one line, answered with the records."""
    _refuse_drafts(drafts, batch.field)
    taken = await session.store(batch.api).insert_all(
        batch.collection, [(draft.key, draft.record) for draft in drafts]
    )
    if taken:
        raise _refuse_taken(drafts, taken, batch.one, batch.field)
    records = [draft.record for draft in drafts]
    log.info(
        "session %r: %d %s (%s)",
        session.name,
        len(records),
        batch.done,
        _tally(record[batch.tallied] for record in records),
    )
    return json_answer(records, 201)


def _refuse_drafts(drafts: Sequence[_Draft], field: str) -> None:
    """Raise a 400 naming each item refused (index and field), and each id given twice."""
    lines = [line for draft in drafts for line in draft.problems]
    first: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        seen = first.setdefault(draft.key, index) if not draft.problems else index
        if seen != index:
            lines.append(
                f"body[{index}].{field}: {draft.key} is body[{seen}]'s too (each id once a call)"
            )
    if lines:
        raise _refuse_items(400, lines)


def _refuse_taken(
    drafts: Sequence[_Draft], taken: Sequence[str], what: str, field: str
) -> ProblemException:
    """The 409 of a batch whose ids the session has already."""
    index = {draft.key: i for i, draft in enumerate(drafts)}
    return _refuse_items(
        409,
        [
            f"body[{index[key]}].{field}: {what} {key} already exists "
            f"(leave {field} out for a new one)"
            for key in taken
        ],
    )


def _tally(values: Iterable[str]) -> str:
    """``sent: 2, viewed: 1``: how many of each, in the order first seen."""
    return ", ".join(f"{value}: {count}" for value, count in Counter(values).items())


class _NamedParameters(ParameterValidator):  # type: ignore[misc]
    """Connexion's parameter check, with a message that names the parameter, not a schema dump."""

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict[str, Any], param_name: str | None = None
    ) -> str | None:
        message: str | None = ParameterValidator.validate_parameter(
            parameter_type, value, param, param_name
        )
        if message is None or message.startswith("Missing"):
            return message
        return f"{parameter_type} parameter {param['name']}: {message.splitlines()[0]}"


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 2, 2, 3, 40
_UNITS: dict[type, str] = {list: "item", dict: "field", str: "character"}


class _ShortBodyErrors(JSONRequestBodyValidator):  # type: ignore[misc]
    """Connexion's body check, with the value a message quotes cut short: quoted whole, a
    batch of 10,001 items made a message of a megabyte."""

    def _validate(self, body: Any) -> None:
        if not self._nullable and body is None:
            raise BadRequestProblem("Request body must not be empty")
        try:
            self._validator.validate(body)
        except ValidationError as exc:
            message, value = exc.message, cast(Any, exc.instance)
            if exc.validator == "maxItems":
                message = f"{len(value)} items: at most {exc.validator_value} a call"
            elif type(value) in _UNITS and len(quoted := repr(value)) > 80:
                unit = _UNITS[type(value)]
                short = f"{_SHORT.repr(value)} ({len(value)} {unit}{'s' * (len(value) != 1)})"
                message = message.replace(quoted, short, 1)
            raise BadRequestProblem(detail=message + format_error_with_path(exc)) from None


class ControlPlane:
    """``/__mock``: one method per ``operationId`` of ``openapi.yaml``.

    Each answers an explicit response (:func:`json_answer`): Connexion cannot pick a content
    type by itself for operations that also declare problem+json answers.
    """

    def __init__(
        self,
        contract: Contract,
        *,
        clock: Clock,
        documented: Mapping[str, Mapping[str, DocumentedOperation]],
        max_body_bytes: int,
    ) -> None:
        self._clock = clock
        self._max_body_bytes = max_body_bytes
        self.contract = contract
        self._documented = documented
        self.streams = Streams(stopping=stopping)

    def asgi(self, availability: Availability) -> ASGIApp:
        """The Connexion app serving the control plane (validation on, its own Swagger UI off;
        a body over ``max_body_bytes`` is a 413), behind :class:`DeclaredMethods` (a 405's
        ``Allow`` names every method of the path).

        A store lost mid-operation is a 503 like everywhere else, said once in the log
        (``availability``); Connexion would otherwise answer it 500.
        """

        async def store_unavailable(request: Any, exc: Exception) -> ConnexionResponse:
            # Connexion's error handlers answer its own response type (a Starlette
            # Response there fails, and the client got a 500).
            assert isinstance(exc, StoreUnavailable)
            availability.lost(exc)
            message, headers = unavailable(exc)
            answer = problem_response(503, message, headers=headers)
            return ConnexionResponse(
                status_code=503,
                mimetype=PROBLEM_JSON,
                body=answer.body,
                headers={"Retry-After": headers["Retry-After"]},
            )

        app = connexion.AsyncApp(
            __name__, swagger_ui_options=SwaggerUIOptions(swagger_ui=False, serve_spec=False)
        )
        app.add_api(
            dict(self.contract.document),
            base_path=BASE_PATH,
            resolver=Resolver(function_resolver=lambda oid: getattr(self, oid)),
            strict_validation=True,
            validator_map={
                "parameter": _NamedParameters,
                "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": _ShortBodyErrors}),
            },
        )
        operations = [
            (method.upper(), f"{BASE_PATH}{path}")
            for path, item in self.contract.document["paths"].items()
            for method in item
            if method in METHODS
        ]

        async def not_found(request: Any, exc: Exception) -> ConnexionResponse:
            # No route (Connexion's bare "Not Found"): name the nearest, as the vendor
            # routes do. A record not found is a ProblemException: answered as Connexion does.
            if isinstance(exc, ProblemException):
                return cast(ConnexionResponse, ExceptionMiddleware.problem_handler(request, exc))
            path = str(request.url.path)
            shown = path if len(path) <= 120 else f"{path[:117]}..."
            detail = (
                f"no control-plane operation at {shown}; the nearest is "
                f"{nearest(path, operations)} (all of them: GET /docs/control.json)"
            )
            answer = problem_response(404, detail)
            return ConnexionResponse(status_code=404, mimetype=PROBLEM_JSON, body=answer.body)

        app.add_error_handler(StoreUnavailable, store_unavailable)
        app.add_error_handler(404, not_found)
        app.add_middleware(
            StrictBodies,
            position=MiddlewarePosition.BEFORE_VALIDATION,
            operations=operations_with_bodies(self.contract.document),
            limit=self._max_body_bytes,
        )
        return DeclaredMethods(app, document=self.contract.document, base_path=BASE_PATH)

    def _session(self) -> tuple[Live, Session]:
        # The world the request started with, even if --watch swapped it since.
        ctx = context(connexion.request.scope)
        assert ctx.live is not None and ctx.session is not None, "the session layer runs first"
        return ctx.live, ctx.session

    def _now(self) -> str:
        return isoformat(self._clock())

    @staticmethod
    def _base_url() -> str:
        """Where the URLs of a completed request point: this mock, as the client called it."""
        url = connexion.request.url
        return f"{url.scheme}://{url.netloc}"

    async def health(self) -> Response:  # pragma: no cover - MockApp answers it first
        raise AssertionError("GET /__mock/health is answered before access rules and sessions")

    async def reset(self) -> Response:
        _, session = self._session()
        await session.reset()
        log.info("session %r reset to the fixtures", session.name)
        return _empty()

    async def get_state(self) -> Response:
        _, session = self._session()
        craftkit = await session.store("craftkit").records(signatures.COLLECTION)
        firma = await session.store("firma").records(jwts.COLLECTION)
        return json_answer(
            {
                "session": session.name,
                "craftkit": {"signature_requests": craftkit},
                "firma": {"jwts": firma},
            },
            200,
        )

    @staticmethod
    def _draft_request(
        live: Live, fields: Mapping[str, Any] | None, where: str, now: str, base_url: str
    ) -> _Draft:
        """The record ``fields`` (a body, or an item of one) describe, or what is wrong with it."""
        world = live.craftkit.world
        record, unreachable = world.new_request(fields or {}, now=now, base_url=base_url)
        problems = Problems(where)
        check_drafted(problems, live.craftkit.contract, record, unreachable, "", world.projects)
        if problems.lines:
            return _Draft(record, "", problems.lines)
        return _Draft(record, record["id"])  # a uuid string (checked), in lower case (new_request)

    async def create_signature_request(self, body: dict[str, Any] | None = None) -> Response:
        live, session = self._session()
        record, key, problems = self._draft_request(
            live, body, "body", self._now(), self._base_url()
        )
        if problems:
            raise _refuse(400, "; ".join(problems))
        inserted = await session.store("craftkit").transition(
            signatures.COLLECTION, key, insert(record)
        )
        if not inserted:
            raise _refuse(
                409,
                f"body.id: a signature request {record['id']} already exists "
                "(leave id out for a new one)",
            )
        log.info(
            "session %r: signature request %s created (%s)", session.name, key, record["status"]
        )
        return json_answer(record, 201)

    async def create_signature_requests(self, body: list[dict[str, Any] | None]) -> Response:
        live, session = self._session()
        now, base_url = self._now(), self._base_url()  # one instant for the whole batch
        drafts = [
            self._draft_request(live, fields, f"body[{index}]", now, base_url)
            for index, fields in enumerate(body)
        ]
        return await _store_batch(session, _REQUESTS, drafts)

    async def apply_event(self, id: str, body: dict[str, Any]) -> Response:
        _, session = self._session()
        base_url = self._base_url()
        now = self._now()  # read once: decide may run more than once
        outcome: signatures.EventOutcome = await _by_id(
            session,
            "craftkit",
            signatures.COLLECTION,
            id,
            lambda record: signatures.apply_event(
                record,
                body["event"],
                recipient_id=body.get("recipientId"),
                message=body.get("message"),
                now=now,
                base_url=base_url,
            ),
        )
        match outcome:
            case signatures.Applied(record):
                log.info(
                    "session %r: %s %s -> %s",
                    session.name,
                    record["id"],
                    body["event"],
                    record["status"],
                )
                return json_answer(record, 200)
            case signatures.NotFound():
                raise _no_record("signature request", id, session)
            case signatures.Conflict(message):
                raise _refuse(409, message)
            case signatures.EventRefused(message):
                raise _refuse(400, message)

    @staticmethod
    def _draft_jwt(live: Live, fields: Mapping[str, Any] | None, where: str) -> _Draft:
        """The JWT ``fields`` (a body, or an item of one) describe, or what is wrong with it."""
        fields = fields or {}
        world = live.firma.world
        problems = []
        workspace = fields.get("workspace", world.workspaces[0])
        if workspace not in world.workspaces:
            problems.append(
                f"{where}.workspace: unknown workspace {workspace!r}"
                f"{did_you_mean(workspace, world.workspaces)}"
            )
        ids = {}
        for field in ("jwt_id", "signing_request_id"):
            given = fields.get(field)
            canonical = canonical_uuid(given) if given is not None else str(uuid4())
            if canonical is None:
                problems.append(
                    f"{where}.{field}: {given!r} is not a uuid "
                    "(e.g. 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c), or leave it out for a new one"
                )
            ids[field] = canonical
        record = {
            "jwt_id": ids["jwt_id"],
            "workspace": workspace,
            "signing_request_id": ids["signing_request_id"],
            "revoked_at": None,
        }
        return _Draft(record, ids["jwt_id"] or "", problems)

    async def issue_jwt(self, body: dict[str, Any] | None = None) -> Response:
        live, session = self._session()
        record, _, problems = self._draft_jwt(live, body, "body")
        if problems:
            raise _refuse(400, "; ".join(problems))
        workspace = record["workspace"]
        inserted = await session.store("firma").transition(
            jwts.COLLECTION, record["jwt_id"], insert(record)
        )
        if not inserted:
            raise _refuse(
                409,
                f"body.jwt_id: a JWT {record['jwt_id']} already exists "
                "(leave jwt_id out for a new one)",
            )
        log.info("session %r: JWT %s issued to %s", session.name, record["jwt_id"], workspace)
        return json_answer(record, 201)

    async def issue_jwts(self, body: list[dict[str, Any] | None]) -> Response:
        live, session = self._session()
        drafts = [self._draft_jwt(live, fields, f"body[{i}]") for i, fields in enumerate(body)]
        return await _store_batch(session, _JWTS, drafts)

    async def list_requests(
        self,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        since: str | None = None,
    ) -> Response:
        _, session = self._session()
        after = None
        if since is not None:
            try:
                after = datetime.fromisoformat(since.upper()).timestamp()
            except ValueError as exc:
                raise _refuse(400, f"since: {since!r} is not an RFC 3339 date-time") from exc
        entries = await session.journal(api=api, operation=operation, status=status, since=after)
        return json_answer({"requests": [entry.body for entry in entries]}, 200)

    async def stream_events(self, session: str | None = None) -> Response:
        """The session's changes and exchanges as server-sent events (``events.py``); the
        query's ``session`` (an ``EventSource`` sends no headers) wins over the header's."""
        live, chosen = self._session()
        if session is not None:
            try:
                chosen = live.sessions.session(Sessions.name_of(session))
            except SessionRefused as refused:
                raise _refuse(400, str(refused).replace("X-Mock-Session", "session")) from None
            await chosen.begin()  # as the header's session began: created, or kept alive
            context(connexion.request.scope).session = chosen  # its answer says if created
        last = connexion.request.headers.get("last-event-id")
        return self.streams.answer(chosen, last, head=connexion.request.method == "HEAD")

    async def clear_requests(self) -> Response:
        _, session = self._session()
        await session.clear_journal()
        return _empty()

    async def list_faults(self) -> Response:
        _, session = self._session()
        return json_answer({"faults": [fault.to_json() for fault in await session.faults()]}, 200)

    async def add_fault(self, body: dict[str, Any]) -> Response:
        _, session = self._session()
        api, operation = body["api"], body["operation"]
        operations = self._documented[api]
        if operation not in operations:
            raise _refuse(
                400,
                f"operation: {api} has no operation {operation!r}"
                f"{did_you_mean(operation, operations)}",
            )
        status = body.get("status")
        if status is not None and status not in operations[operation].responses:
            documented = ", ".join(str(s) for s in operations[operation].responses)
            raise _refuse(
                400, f"status: {operation} documents no {status} (documented: {documented})"
            )
        drop, delay_ms = body.get("drop", False), body.get("delay_ms", 0)
        if status is None and not drop and not delay_ms:
            raise _refuse(400, "give at least one of status, delay_ms and drop")
        if status is not None and drop:
            raise _refuse(400, "drop and status exclude each other (a dropped call gets no status)")
        fault = await session.add_fault(
            api, operation, status=status, delay_ms=delay_ms, drop=drop, times=body.get("times")
        )
        log.info("session %r: fault set %s", session.name, fault.to_json())
        return json_answer(fault.to_json(), 201)

    async def remove_fault(self, id: str) -> Response:
        _, session = self._session()
        number = int(id) if _FAULT_ID.fullmatch(id) else None  # else it names no fault
        if number is None or not await session.remove_fault(number):
            raise _refuse(
                404, f"no fault {id!r} in session {session.name!r} (GET /__mock/faults lists them)"
            )
        log.info("session %r: fault %d removed", session.name, number)
        return _empty()

    async def list_sessions(self) -> Response:
        """``default`` first, then the others by name; reads no session (``SESSIONLESS``)."""
        live = context(connexion.request.scope).live
        assert live is not None, "the session layer runs first"
        names = set(await live.sessions.names()) - {DEFAULT_SESSION}
        listed = [DEFAULT_SESSION, *sorted(names)]
        return json_answer({"sessions": [{"name": name} for name in listed]}, 200)

    async def _record_and_view(
        self,
        api: str,
        collection: str,
        id: str,
        what: str,
        vendor: Callable[[Record], dict[str, Any]],
    ) -> Response:
        """The record ``id`` names, as stored and as the vendor shows it; 404 otherwise."""
        _, session = self._session()
        key = canonical_uuid(id)
        record = await session.store(api).get(collection, key) if key else None
        if record is None:
            raise _no_record(what, id, session)
        return json_answer({"record": record, "vendor": vendor(record)}, 200)

    async def get_signature_request(self, id: str) -> Response:
        return await self._record_and_view(
            "craftkit", signatures.COLLECTION, id, "signature request", signatures.public_body
        )

    async def cancel_signature_request(self, id: str) -> Response:
        """Craftkit's cancel, by the request's own project: the same rule and transition."""
        _, session = self._session()
        outcome: signatures.CancelOutcome = await _by_id(
            session,
            "craftkit",
            signatures.COLLECTION,
            id,
            lambda record: signatures.cancel(record, project=_owner(record, "project")),
        )
        match outcome:
            case signatures.Cancelled(body, was):
                log.info("session %r: %s cancelled (was %s)", session.name, body["id"], was)
                return json_answer(body, 200)
            case signatures.NotFound():
                raise _no_record("signature request", id, session)
            case signatures.Conflict(message):
                raise _refuse_as_vendor(message, CANCEL_REFUSED[signatures.Conflict])
            case signatures.ProviderError(message):
                raise _refuse_as_vendor(
                    f"{message} (the fixture's mock.on_cancel is provider_error: Craftkit's "
                    f"cancel answers {CANCEL_REFUSED[signatures.ProviderError]})",
                    CANCEL_REFUSED[signatures.ProviderError],
                )

    async def get_jwt(self, jwt_id: str) -> Response:
        return await self._record_and_view(
            "firma", jwts.COLLECTION, jwt_id, "JWT", jwts.public_view
        )

    async def revoke_jwt(self, jwt_id: str) -> Response:
        """Firma's revoke, by the JWT's own workspace: the same rule and transition (no rate
        window counts it: no key made it)."""
        _, session = self._session()
        now = self._clock()  # read once: decide may run more than once
        outcome: jwts.RevokeOutcome = await _by_id(
            session,
            "firma",
            jwts.COLLECTION,
            jwt_id,
            lambda record: jwts.revoke(record, workspace=_owner(record, "workspace"), now=now),
        )
        match outcome:
            case jwts.Revoked():
                log.info("session %r: JWT %s revoked", session.name, outcome.jwt_id)
                return json_answer(revoked_body(outcome), 200)
            case jwts.NotFound():
                raise _no_record("JWT", jwt_id, session)
            case jwts.AlreadyRevoked():
                status, message = ALREADY_REVOKED
                raise _refuse_as_vendor(message, status)

    async def clear_faults(self) -> Response:
        _, session = self._session()
        count = await session.clear_faults()
        log.info("session %r: %d faults removed", session.name, count)
        return _empty()


async def _by_id(
    session: Session, api: str, collection: str, id: str, decide: Decide[Outcome]
) -> Outcome:
    """The transition ``decide`` of the record a path's ``id`` names: a uuid in any case
    names its canonical key; anything else names no record (``decide(None)``'s outcome)."""
    key = canonical_uuid(id)
    if key is None:
        return decide(None).outcome
    return await session.store(api).transition(collection, key, decide)


def _owner(record: Record | None, field: str) -> str:
    """The tenant (project, workspace) of ``record``: the caller a control-plane action
    acts as, so the vendor's rule decides as for that tenant's key."""
    return str((record or {}).get(field, ""))
