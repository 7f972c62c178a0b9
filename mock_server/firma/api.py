"""The HTTP side of Firma's revoke: key, quota, body, then the domain's transition.

Every Firma answer carries the caller's ``X-RateLimit-*`` headers (docs/behaviour.md),
and a 429 alone ``Retry-After``; every authenticated POST counts as one write, whatever
it then answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from mock_server._http import (
    ABSENT,
    BadBody,
    header_values,
    json_response,
    raw_header_values,
    read_json,
)
from mock_server.clock import Clock, isoformat
from mock_server.contract import Contract
from mock_server.firma import jwts, ratelimit
from mock_server.firma.envelope import FirmaError, error_response
from mock_server.firma.ratelimit import Quota, RateLimiter
from mock_server.firma.world import FirmaWorld
from mock_server.ids import canonical_uuid
from mock_server.issues import flatten
from mock_server.served import KEPT_HEADERS, Handler, OwnRoute, because
from mock_server.state.base import Record
from mock_server.state.journal import Because
from mock_server.state.sessions import SessionStore as Store

__all__ = ["ALREADY_REVOKED", "REVOKE", "REVOKE_BODY", "FirmaApi", "revoked_body"]

REVOKE = "POST /jwt/revoke-signing-request"
REVOKE_BODY = (
    "/paths/~1jwt~1revoke-signing-request/post/requestBody/content/application~1json/schema"
)

ALREADY_REVOKED = (400, "JWT has already been revoked")
"""What a revoke of a revoked JWT answers: status and message."""


def revoked_body(outcome: jwts.Revoked) -> dict[str, object]:
    """The body of a revoke's 200."""
    return {
        "message": "JWT revoked successfully",
        "jwt_id": outcome.jwt_id,
        "revoked": True,
        "revoked_at": outcome.revoked_at,
    }


def _presented_key(request: Request) -> str | None:
    """The API key in ``Authorization``, with or without the optional ``Bearer`` prefix."""
    values = header_values(request, b"authorization")
    if len(values) != 1:
        return None
    value = values[0].strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


_NO_KEY = Because("key", "no API key in Authorization")
_BAD_KEY = Because("key", "the API key is not one of the fixture's keys")


class FirmaApi:
    """Firma's operations over a session's store, seeded from a :class:`FirmaWorld`."""

    name = "firma"

    def __init__(
        self, contract: Contract, world: FirmaWorld, *, clock: Clock, max_body_bytes: int
    ) -> None:
        self.contract = contract
        self.world = world
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.limiter = RateLimiter(world.write_per_minute, clock)
        self._revoke_body = contract.validator(REVOKE_BODY)
        self._revoke_accepts = contract.accepts(REVOKE_BODY)
        self._workspaces: dict[bytes, tuple[str, str]] = {}
        """Authorization headers that named a key, as sent: the key, its workspace (as
        CraftkitApi keeps its projects)."""
        self.operations: Mapping[str, Handler] = {REVOKE: self.revoke_signing_request}
        self.own_routes: tuple[OwnRoute, ...] = ()

    def describe(self) -> str:
        active = sum(1 for j in self.world.jwts if j["revoked_at"] is None)
        return (
            f"{self.world.source}: {len(self.world.workspaces)} workspaces, "
            f"{len(self.world.keys)} keys, {len(self.world.jwts)} JWTs ({active} active), "
            f"{self.world.write_per_minute} writes/minute per key"
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
        return error_response(
            status,
            message,
            headers={**headers, **(await self.answer_headers(request, store, status))},
        )

    async def answer_headers(
        self, request: Request, store: Store | None, status: int
    ) -> dict[str, str]:
        """The caller's quota, peeked (a refused or forced answer counts no write); a
        fresh window's without a store (a bad session name, the store unreachable). A
        forced 429's are the key's as it would stand past its quota in that window:
        none left, ``Retry-After`` the seconds until ``X-RateLimit-Reset``."""
        key = _presented_key(request) if store is not None else None
        quota = await self.limiter.peek(store, key if key in self.world.keys else None)
        if status == 429:
            return quota.spent().limited_headers()
        return quota.headers()

    async def forced_body(
        self,
        operation: str,
        request: Request,
        store: Store,
        status: int,
        body: object,
        headers: Mapping[str, str],
    ) -> object:
        if operation != REVOKE:
            return body
        if status == 429 and isinstance(body, dict):  # the spec's example says 45
            details = body.get("details")
            details = details if isinstance(details, dict) else {}
            return {**body, "details": {**details, "retry_after": int(headers["Retry-After"])}}
        if status != 200:
            return body
        try:
            payload = await read_json(request, limit=self.max_body_bytes)
        except BadBody:
            payload = ABSENT
        raw = payload.get("jwt_id") if isinstance(payload, dict) else None
        jwt_id = canonical_uuid(raw) if isinstance(raw, str) else None
        return jwts.forced_revoke(jwt_id, isoformat(self.clock()), body)

    def reads(self, operation: str, request: Request) -> list[tuple[str, str, str]]:
        return []  # the JWT is named in the body, read after the request began

    def counts(self, operation: str, request: Request) -> list[tuple[str, str, str, float]]:
        if operation != REVOKE:
            return []
        key, workspace = self._keyed(request)  # a revoke counts a write by a known key first
        if key is None or workspace is None:
            return []
        return [(self.name, ratelimit.COLLECTION, key, ratelimit.WINDOW_SECONDS)]

    async def revoke_signing_request(self, request: Request, store: Store) -> Response:
        key, workspace = self._keyed(request)
        if key is None or workspace is None:
            because(request, _NO_KEY if key is None else _BAD_KEY)
            quota = await self.limiter.peek(store, None)
            return error_response(401, "Invalid API key", headers=quota.headers())
        quota = await self.limiter.write(store, key)
        if quota.exceeded:
            because(request, quota)
            return error_response(
                429,
                "Too many requests. Please wait before retrying.",
                {"retry_after": quota.retry_after},
                quota.limited_headers(),
            )
        try:
            jwt_id = await self._jwt_id(request)
            now = self.clock()  # read once: decide may run more than once
            outcome = await store.transition(
                jwts.COLLECTION,
                jwt_id,
                lambda record: jwts.revoke(record, workspace=workspace, now=now),
            )
        except FirmaError as refused:
            because(request, refused)
            return error_response(refused.status, refused.message, refused.details, quota.headers())
        if isinstance(outcome, jwts.NotFound):
            if outcome.owner is not None:
                rule = f"the JWT is workspace {outcome.owner}'s, not the key's: unknown to it"
            else:
                rule = "no such JWT in this session"
            because(request, Because("unknown", rule, {"record": jwt_id}))
        else:
            because(request, outcome)
        return self._answer(outcome, quota)

    def _keyed(self, request: Request) -> tuple[str | None, str | None]:
        """The key the request presents (:func:`_presented_key`) and its workspace, if any."""
        raw = raw_header_values(request, b"authorization")
        known = self._workspaces.get(raw[0]) if len(raw) == 1 else None
        if known is not None:
            return known
        key = _presented_key(request)
        workspace = self.world.keys.get(key) if key else None
        if key is not None and workspace is not None and len(self._workspaces) < KEPT_HEADERS:
            self._workspaces[raw[0]] = (key, workspace)
        return key, workspace

    def _answer(self, outcome: jwts.RevokeOutcome, quota: Quota) -> Response:
        headers = quota.raw_headers()
        match outcome:
            case jwts.Revoked():
                return json_response(200, revoked_body(outcome), headers)
            case jwts.AlreadyRevoked():
                return error_response(*ALREADY_REVOKED, headers=headers)
            case jwts.NotFound():
                return error_response(404, "JWT not found", headers=headers)

    async def _jwt_id(self, request: Request) -> str:
        """The canonical ``jwt_id`` of the body, validated against the spec, or a 400."""
        try:
            payload = await read_json(request, limit=self.max_body_bytes)
        except BadBody as bad:
            raise FirmaError(400, bad.message) from bad
        if payload is ABSENT:
            raise FirmaError(400, "Invalid JWT ID", {"jwt_id": ["Required"]})
        errors = (
            [] if self._revoke_accepts(payload) else list(self._revoke_body.iter_errors(payload))
        )
        if errors:
            flat = flatten(errors)
            details: dict[str, object] = dict(flat["fieldErrors"])
            if flat["formErrors"]:
                details["_errors"] = flat["formErrors"]
            raise FirmaError(400, "Invalid JWT ID", details)
        jwt_id = canonical_uuid(payload["jwt_id"])
        assert jwt_id is not None, "the body's schema refuses a jwt_id that is not a uuid string"
        return jwt_id
