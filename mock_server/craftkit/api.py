"""The HTTP side of Craftkit's cancel: authenticate, read the body, hand the domain a transition.

Order of checks, as the vendor's handler runs them: bearer key (401), body
(400), then the id (404: a non-uuid id can name no request), then the state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from mock_server._http import ABSENT, BadBody, json_response, raw_header_values, read_json
from mock_server.contract import Contract
from mock_server.craftkit import documents, signatures
from mock_server.craftkit.envelope import CraftkitError, error_response
from mock_server.craftkit.world import KEY_PREFIXES, CraftkitWorld
from mock_server.ids import canonical_uuid
from mock_server.issues import flatten
from mock_server.served import KEPT_HEADERS, Handler, OwnRoute, because
from mock_server.state.base import Record
from mock_server.state.journal import Because
from mock_server.state.sessions import SessionStore as Store

__all__ = ["CANCEL_BODY", "CANCEL_REFUSED", "DOCUMENT", "OWN_ROUTES", "CraftkitApi"]

CANCEL_BODY = (
    "/paths/~1v1~1signatures~1{id}~1cancel/post/requestBody/content/application~1json/schema"
)

CANCEL_REFUSED: Mapping[type[signatures.Conflict | signatures.ProviderError], int] = {
    signatures.Conflict: 409,
    signatures.ProviderError: 502,
}
"""The status a cancel refused by the domain rule answers (the control plane's cancel,
which answers 409, names it as ``vendorStatus``)."""


DOCUMENT = "GET /v1/signatures/{id}/{document}"
"""The mock's own route to a completed request's PDFs (``documents.DOCUMENTS``)."""

OWN_ROUTES = (
    OwnRoute(
        DOCUMENT,
        frozenset({"GET", "HEAD"}),
        re.compile(rf"/v1/signatures/(?P<id>[^/]+)/(?P<document>{'|'.join(documents.DOCUMENTS)})"),
    ),
)


class CraftkitApi:
    """Craftkit's operations over a session's store, seeded from a :class:`CraftkitWorld`."""

    name = "craftkit"

    def __init__(self, contract: Contract, world: CraftkitWorld, *, max_body_bytes: int) -> None:
        self.contract = contract
        self.world = world
        self.max_body_bytes = max_body_bytes
        self._cancel_body = contract.validator(CANCEL_BODY)
        self._cancel_accepts = contract.accepts(CANCEL_BODY)
        self._projects: dict[bytes, str] = {}
        """Authorization headers that named a key, as sent, and its project: a client
        sends the same one every time (read as :meth:`_project` reads it, once)."""
        self.operations: Mapping[str, Handler] = {
            "cancelSignature": self.cancel_signature,
            DOCUMENT: self.document,
        }
        self.own_routes = OWN_ROUTES

    def describe(self) -> str:
        records = self.world.signature_requests
        in_flight = sum(1 for r in records if r["status"] in signatures.IN_FLIGHT)
        return (
            f"{self.world.source}: {len(self.world.projects)} projects, "
            f"{len(self.world.keys)} keys, {len(records)} signature requests "
            f"({in_flight} in flight)"
        )

    def seed(self) -> dict[str, list[tuple[str, Record]]]:
        return self.world.seed()

    async def refusal(
        self,
        request: Request,
        store: Store | None,
        status: int,
        headers: Mapping[str, str],
        message: str | None = None,
    ) -> Response:
        return error_response(status, message, headers=headers)

    async def answer_headers(
        self, request: Request, store: Store | None, status: int
    ) -> dict[str, str]:
        return {}

    async def forced_body(
        self,
        operation: str,
        request: Request,
        store: Store,
        status: int,
        body: object,
        headers: Mapping[str, str],
    ) -> object:
        if operation != "cancelSignature" or status != 200:
            return body
        key = canonical_uuid(request.path_params.get("id", ""))
        record = await store.get(signatures.COLLECTION, key) if key is not None else None
        return signatures.forced_cancel(record, key, body)

    def reads(self, operation: str, request: Request) -> list[tuple[str, str, str]]:
        key = canonical_uuid(request.path_params.get("id", ""))
        return [(self.name, signatures.COLLECTION, key)] if key is not None else []

    def counts(self, operation: str, request: Request) -> list[tuple[str, str, str, float]]:
        return []  # Craftkit has no quota

    async def cancel_signature(self, request: Request, store: Store) -> Response:
        try:
            project = self._project(request)
            await self._cancel_payload(request)
            key = canonical_uuid(request.path_params.get("id", ""))
            outcome: signatures.CancelOutcome
            if key is None:
                outcome = signatures.NotFound()
            else:
                outcome = await store.transition(
                    signatures.COLLECTION,
                    key,
                    lambda record: signatures.cancel(record, project=project),
                )
        except CraftkitError as refused:
            because(request, refused)
            return error_response(refused.status, refused.message, refused.issues)
        if isinstance(outcome, signatures.NotFound):
            because(request, _unknown(key, request, outcome.owner))
            return error_response(404, "Signature request not found.")
        # (isinstance, not a match statement's class patterns: a quarter of their cost)
        if isinstance(outcome, signatures.Cancelled):
            because(request, outcome.reason())  # (not the outcome: it holds the body)
            return json_response(200, outcome.body)
        because(request, outcome)
        return error_response(CANCEL_REFUSED[type(outcome)], outcome.message)

    async def document(self, request: Request, store: Store) -> Response:
        """A completed request's signed document or certificate, for its project's keys:
        a PDF (docs/behaviour.md). Another project's request, one not completed, or an
        unknown id is a 404, as a cancel's would be."""
        try:
            project = self._project(request)
        except CraftkitError as refused:
            because(request, refused)
            return error_response(refused.status, refused.message, refused.issues)
        key = canonical_uuid(request.path_params.get("id", ""))
        record = await store.get(signatures.COLLECTION, key) if key is not None else None
        kind = request.path_params["document"]  # one of DOCUMENTS: the route's pattern
        document = documents.DOCUMENTS[kind]
        if record is None or record.get("project") != project or not record.get(document.field):
            owner = record.get("project") if record is not None else None
            reason: Because = _unknown(key, request, owner if owner != project else None)
            if record is not None and owner == project:
                reason = Because(
                    "state",
                    f"status is {record.get('status')}; only a completed request has documents",
                    {"record": key, "state": record.get("status")},
                )
            because(request, reason)
            return error_response(404, "Document not found.")
        done = Because("state", f"the request is completed: its {kind}", {"record": key})
        because(request, done)
        name = f"{record['id']}-{document.suffix}.pdf"
        return Response(
            document.render(record),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    def _project(self, request: Request) -> str:
        """The project whose key the request presents, or a 401."""
        raw = raw_header_values(request, b"authorization")
        if len(raw) == 1:
            known = self._projects.get(raw[0])
            if known is not None:
                return known
        elif raw:
            raise CraftkitError(401, "Send exactly one Authorization header.")
        scheme, _, token = (raw[0].decode("latin-1") if raw else "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CraftkitError(401, "Missing Bearer token.")
        project = self.world.keys.get(token) if token.startswith(KEY_PREFIXES) else None
        if project is None:
            raise CraftkitError(401, "Invalid API key.")
        if len(self._projects) < KEPT_HEADERS:
            self._projects[raw[0]] = project
        return project

    async def _cancel_payload(self, request: Request) -> None:
        """Validate the optional ``{"reason"}`` body against the spec (Zod-shaped 400s)."""
        try:
            payload = await read_json(request, limit=self.max_body_bytes)
        except BadBody as bad:
            raise CraftkitError(
                400, bad.message, {"formErrors": [bad.message], "fieldErrors": {}}
            ) from bad
        if payload is ABSENT:
            return
        if self._cancel_accepts(payload):
            return
        errors = list(self._cancel_body.iter_errors(payload))
        if errors:
            raise CraftkitError(400, "Request body did not match expected shape.", flatten(errors))


def _unknown(key: str | None, request: Request, owner: str | None) -> Because:
    """The journal ``reason`` of a 404 for the id ``key`` (``None``: not a uuid)."""
    if key is None:
        rule = f"the id {request.path_params.get('id', '')!r} is not a uuid: it names no request"
    elif owner is not None:
        rule = f"the request is project {owner}'s, not the key's: unknown to it"
    else:
        rule = "no such signature request in this session"
    return Because("unknown", rule, {"record": key})
