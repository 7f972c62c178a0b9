"""An independent Firma target: ``POST /jwt/revoke-signing-request`` per docs/behaviour.md.

Served under both base paths of the spec's ``servers``. Correct by default;
each name in ``faults`` plants one violation (:data:`FIRMA_FAULTS`), and
``variant`` picks a different, still correct reading (:data:`FIRMA_VARIANTS`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.conformance._http import (
    ABSENT,
    BadBody,
    JsonWriter,
    canonical_uuid,
    check_choices,
    expand,
    isoformat,
    read_json,
)

__all__ = ["FIRMA_BASE_PATHS", "FIRMA_FAULTS", "FIRMA_VARIANTS", "firma_app"]

FIRMA_FAULTS = MappingProxyType(
    {
        "bearer_refused": "only the raw key works; `Bearer <key>` gets 401",
        "rerevoke_accepted": "an already revoked JWT revokes again with 200",
        "workspace_leak": "a key of another workspace can revoke the JWT",
        "wrong_error_reason": 'the 404 body says "error": "NotFound"',
        "revoked_false": 'the 200 body says "revoked": false',
        "no_rate_limit": "never answers 429 (the headers still count down)",
        "no_retry_after": "429 answers lack the Retry-After header",
        "hang": "revoke requests sleep for an hour before answering",
        "non_json_200": "the 200 body is text/plain",
        "cascade": "revoking one JWT revokes the workspace's other active JWTs",
        "firma_wrong_id_echoed": "the 200 body's jwt_id is another uuid",
        "second_key_refused": "only the first key of each workspace authenticates",
        "rate_limited_revokes": "a 429-refused revoke still revokes the JWT",
        "only_success_counted": "only 200 answers count as writes; refusals are free",
        "rate_limit_shared": "all keys share one window instead of one per key",
        "bad_uuid_404": "a jwt_id that is not a uuid answers 404 instead of 400",
        "missing_jwt_id_500": "a body without jwt_id answers 500",
        "no_ratelimit_headers": "200 answers lack the X-RateLimit-* headers",
        "racy_revoke": "check and write are not atomic: concurrent revokes all get 200",
        # -- issue #10, auth and tenancy
        "key_suffix_accepted": "a suffix of a listed key (8 characters or more) is accepted",
        "key_extension_accepted": "a listed key followed by anything is accepted",
        "second_key_other_workspace": "a workspace's second key acts for the next workspace",
        "body_before_key": "the body is read before the key: bad body and bad key give 400",
        "craftkit_envelope_for_ck_keys": "a 401 for a `ck_` key is in Craftkit's envelope",
        "revoked_before_workspace": "another workspace's revoked JWT answers 400 already revoked",
        "losers_get_404": "concurrent revokes: one 200, the others 404 instead of 400",
        "lock_per_key": "revokes are atomic per API key only: two keys revoke concurrently",
        "second_server_leak": "under /api/v1 a key of another workspace can revoke the JWT",
        "separate_worlds": "/api/v1 holds its own copy of the JWTs: revoked in one, active in "
        "the other",
        "bearer_rerevokes": "with `Bearer`, an already revoked JWT revokes again (200)",
        # issue #10, valid requests and what a response means
        "media_type_case_sensitive": "Content-Type Application/JSON is refused with 400",
        "extra_key_refused": "a body key other than jwt_id is refused with 400",
        "case_sensitive_jwt_id": "jwt_id is looked up as written: upper case is 404",
        "lenient_uuid": "jwt_id read by a lenient uuid parser: 32 hex digits or a urn:uuid: revoke",
        "delete_revokes": "DELETE on the revoke path revokes too (it should be 405)",
        "revoked_at_example": "revoked_at is always the spec example's 2024-03-20T16:45:00Z",
        "late_failure": "the revoke of the last active JWT answers 500",
        # -- rate limits as the contract describes them, and bounded waits (issue #10, probe)
        "remaining_stuck": "X-RateLimit-Remaining always announces the whole quota",
        "remaining_negative": "X-RateLimit-Remaining goes below 0 past the quota",
        "limit_misannounced": "X-RateLimit-Limit and -Remaining announce twice the quota enforced",
        "rate_limit_per_workspace": "the keys of a workspace share one window",
        "reset_in_milliseconds": "X-RateLimit-Reset is in Unix milliseconds",
        "reset_relative": "X-RateLimit-Reset is the seconds until the reset, not a Unix time",
        "retry_after_hour": "a 429 says Retry-After: 3600 (and details.retry_after)",
        "late_reset": "a window restarts three windows after it opened, though Reset announces one",
        "rate_limit_plain": "429 answers are text/plain, a proxy's page",
        "locked_for_an_hour": "every write answers 429 with Retry-After: 3600, Reset an hour ahead",
    }
)
"""Planted faults: name -> what the target then does wrong."""

FIRMA_VARIANTS = MappingProxyType(
    {
        "terse": "other messages; bad bodies get `details`; X-RateLimit-* only on 200/429; "
        "extra 200 field; millisecond timestamps",
        "chunked": "bodies streamed without Content-Length, indented, with extra headers",
        # -- issue #10, auth and tenancy
        "bearer_exact_case": "only `Bearer ` exactly is the optional prefix (`bearer k` is a "
        "key of its own, so refused)",
        "one_server": "serves only /functions/v1/signing-request-api; /api/v1 is a 404",
        "sparse": "200 without revoked_at, with extra fields and headers; jwt_id echoed as the "
        "request wrote it; OPTIONS answered 200 with Allow",
        # -- rate limits (issue #10, probe)
        "sliding": "a sliding one-minute window per key (429s not counted); Reset is when the "
        "oldest write leaves it",
        "slow": "answers naming an unknown JWT come 150 ms late (a slow lookup that misses)",
    }
)
"""Correct variants: name -> how it differs from the mock while keeping the contract."""

FIRMA_BASE_PATHS = ("/functions/v1/signing-request-api", "/api/v1")
REVOKE_PATH = "/jwt/revoke-signing-request"
WINDOW_SECONDS = 60
DEFAULT_WRITES_PER_MINUTE = 120  # the spec's description of write operations
HANG_SECONDS = 3600.0
RACE_WINDOW_SECONDS = 0.15
SLOW_SECONDS = 0.15  # the slow variant's delay
HOUR = 3600  # retry_after_hour, locked_for_an_hour
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Rate Limit Exceeded",
    500: "Internal Server Error",
}
_MESSAGES = {
    None: {
        "invalid": "Invalid JWT ID",
        "not_found": "JWT not found",
        "too_many": "Too many requests. Please wait before retrying.",
        "route": "The requested resource was not found",
    },
    "terse": {
        "invalid": "Invalid request body",
        "not_found": "No such JWT",
        "too_many": "Slow down",
        "route": "No route",
    },
}


@dataclass(frozen=True)
class _Quota:
    """One key's standing in its fixed window."""

    limit: int
    used: int
    reset: int
    retry_after: int

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self, faults: frozenset[str] = frozenset()) -> dict[str, str]:
        limit = self.limit * 2 if "limit_misannounced" in faults else self.limit  # planted
        remaining = limit - self.used
        if "remaining_stuck" in faults:
            remaining = limit  # planted
        elif "remaining_negative" not in faults:
            remaining = max(remaining, 0)  # else planted: below 0
        reset = self.reset
        if "reset_in_milliseconds" in faults:
            reset *= 1000  # planted
        elif "reset_relative" in faults:
            reset = self.retry_after  # planted
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }


class _Windows:
    """Fixed windows per key, each opened by the key's first write (one minute, unless a
    test shortens ``window``); ``lasts`` > 1 plants ``late_reset``."""

    def __init__(
        self,
        limit: int,
        clock: Callable[[], float],
        window: float = WINDOW_SECONDS,
        lasts: float = 1.0,
    ) -> None:
        self.limit, self.clock = limit, clock
        self.window, self.lasts = window, lasts
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def count(self, key: str | None, writes: int = 1) -> _Quota:
        """Add ``writes`` to ``key``'s window (0: just look) and return its standing."""
        now = self.clock()
        with self._lock:
            start, used = self._windows.get(key or "", (now, 0))
            if now >= start + self.window * self.lasts:
                start, used = now, 0
            if key is not None and writes:
                self._windows[key] = (start, used + writes)
                used += writes
        reset = start + self.window
        return _Quota(self.limit, used, math.ceil(reset), max(math.ceil(reset - now), 1))


class _SlidingWindows:
    """The ``sliding`` variant: per key, the accepted writes of the last ``window`` seconds.

    A write is refused (429) while ``limit`` of them are in the window, and not logged;
    ``X-RateLimit-Reset`` is when the oldest leaves the window (a write is allowed again).
    """

    def __init__(self, limit: int, clock: Callable[[], float], window: float) -> None:
        self.limit, self.clock, self.window = limit, clock, window
        self._lock = threading.Lock()
        self._logs: dict[str, collections.deque[float]] = {}

    def count(self, key: str | None, writes: int = 1) -> _Quota:
        now = self.clock()
        with self._lock:
            log = self._logs.setdefault(key or "", collections.deque())
            while log and log[0] <= now - self.window:
                log.popleft()
            used = len(log)
            if key is not None and writes:
                if used < self.limit:
                    log.append(now)
                    used += 1
                else:
                    used = self.limit + 1  # refused: not logged
            reset = (log[0] if log else now) + self.window
        return _Quota(self.limit, used, math.ceil(reset), max(math.ceil(reset - now), 1))


class _Refusal(Exception):
    """An error answer: status, the reason phrase in ``error``, ``message``, ``details``."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


class _Firma:
    """One Firma world in memory; every state change happens under ``lock``."""

    def __init__(
        self,
        fixture: dict[str, Any],
        faults: frozenset[str],
        variant: str | None,
        clock: Callable[[], float],
        window: float = WINDOW_SECONDS,
    ) -> None:
        world = expand(fixture)
        self.faults, self.variant, self.clock = faults, variant, clock
        self.messages = _MESSAGES.get(variant, _MESSAGES[None])
        keys_of = {w["id"]: list(w["api_keys"]) for w in world.get("workspaces", [])}
        if "second_key_refused" in faults:
            keys_of = {w: keys[:1] for w, keys in keys_of.items()}  # planted
        if "second_key_other_workspace" in faults:  # planted
            names = list(keys_of)
            moved = {name: keys_of[name][1:2] for name in names}
            for number, name in enumerate(names):
                keys_of[name] = [k for k in keys_of[name] if k not in moved[name]]
                keys_of[name] += moved[names[number - 1]]
        self.keys: dict[str, str] = {key: w for w, keys in keys_of.items() for key in keys}
        self.jwts: dict[str, dict[str, Any]] = {
            str(j["jwt_id"]).lower(): j for j in world.get("jwts", [])
        }
        limit = (world.get("rate_limits") or {}).get("write_per_minute", DEFAULT_WRITES_PER_MINUTE)
        self.windows: _Windows | _SlidingWindows = (
            _SlidingWindows(int(limit), clock, window)
            if variant == "sliding"
            else _Windows(int(limit), clock, window, 3.0 if "late_reset" in faults else 1.0)
        )
        self.lock = threading.Lock()
        self.busy = False  # losers_get_404: a revoke is in progress
        self.key_locks: dict[str, asyncio.Lock] = {}  # lock_per_key
        self.leaky = "workspace_leak" in faults  # planted, when set
        self.rerevoking = {"rerevoke_accepted"}  # bearer_rerevokes: set per request
        self.write = (
            JsonWriter(streamed=True, indent=2, extra_headers={"X-Request-Id": "req_target"})
            if variant == "chunked"
            else JsonWriter(extra_headers={"X-Request-Id": "req_sparse", "Vary": "Origin"})
            if variant == "sparse"
            else JsonWriter()
        )

    # -- HTTP ----------------------------------------------------------------

    async def revoke(self, request: Request) -> Response:
        """Revoke: key (401), quota (429, counted whatever follows), body (400), then the rule."""
        if "hang" in self.faults:
            await self._hang(request)  # planted
        self.rerevoking = {"rerevoke_accepted"}
        if request.headers.get("authorization", "").startswith("Bearer "):
            self.rerevoking = {"rerevoke_accepted", "bearer_rerevokes"}  # planted, when set
        jwt_id: str | None = None
        if "body_before_key" in self.faults:
            try:
                jwt_id = await self._jwt_id(request)  # planted: before the key
            except _Refusal as refusal:
                return self.error(refusal, self.windows.count(None, 0))
        key = self._planted_key_match(self._key(request))
        workspace = self.keys.get(key or "")
        if key is None or workspace is None:
            if "craftkit_envelope_for_ck_keys" in self.faults and (key or "").startswith("ck_"):
                body: dict[str, Any] = {
                    "error": {"code": "unauthorized", "message": "Invalid API key."}
                }
                return self.write(401, body)  # planted
            return self.error(_Refusal(401, "Invalid API key"), self.windows.count(None, 0))
        if "locked_for_an_hour" in self.faults:  # planted
            now = math.ceil(self.clock())
            locked = _Quota(self.windows.limit, self.windows.limit + 1, now + HOUR, HOUR)
            hour = _Refusal(429, self.messages["too_many"], {"retry_after": HOUR})
            return self.error(hour, locked)
        quota = self.windows.count(self._window(key), 0 if self._counts_on_success else 1)
        try:
            if quota.exceeded and "no_rate_limit" not in self.faults:
                if "rate_limited_revokes" in self.faults:
                    with contextlib.suppress(_Refusal):  # planted
                        await self._revoke(await self._jwt_id(request), workspace)
                details = {"retry_after": quota.retry_after}
                raise _Refusal(429, self.messages["too_many"], details)
            if jwt_id is None:
                jwt_id = await self._jwt_id(request)
            body = await self._revoke(jwt_id, workspace, key)
        except _Refusal as refusal:
            return self.error(refusal, quota)
        if self.variant == "sparse":
            body = {
                "message": body["message"],
                "jwt_id": request.state.jwt_id_sent,  # the same uuid, as the request wrote it
                "revoked": body["revoked"],
                "object": "jwt_revocation",
            }
        if self._counts_on_success:
            quota = self.windows.count(self._window(key))  # planted: only now is it counted
        return self._revoked(body, quota)

    async def _hang(self, request: Request) -> None:
        """Sleep for ``HANG_SECONDS``, but stop once the client gave up.

        A hung target must not outlive the test: the server cancels requests
        at shutdown anyway, and returning early keeps its log free of that.
        """
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline and not await request.is_disconnected():
            await asyncio.sleep(0.05)

    @property
    def _counts_on_success(self) -> bool:
        return "only_success_counted" in self.faults

    def _planted_key_match(self, key: str | None) -> str | None:
        """The listed key a planted loose comparison takes ``key`` for (else ``key``)."""
        for listed in self.keys:
            if key is None:
                break
            if "key_suffix_accepted" in self.faults and len(key) >= 8 and listed.endswith(key):
                return listed
            if "key_extension_accepted" in self.faults and key.startswith(listed):
                return listed
        return key

    def _window(self, key: str) -> str:
        if "rate_limit_per_workspace" in self.faults:
            return self.keys[key]  # planted
        return "*" if "rate_limit_shared" in self.faults else key  # planted, when set

    def _revoked(self, body: dict[str, Any], quota: _Quota) -> Response:
        headers = {} if "no_ratelimit_headers" in self.faults else quota.headers(self.faults)
        if "non_json_200" in self.faults:
            return PlainTextResponse(body["message"], headers=headers)  # planted
        return self.write(200, body, headers)

    def error(self, refusal: _Refusal, quota: _Quota) -> Response:
        """Firma's ``{"error": <reason phrase>, "message", "details"?}`` envelope."""
        reason = _REASONS.get(refusal.status, "Error")
        if refusal.status == 404 and "wrong_error_reason" in self.faults:
            reason = "NotFound"  # planted
        body: dict[str, Any] = {"error": reason, "message": refusal.message}
        if refusal.details is not None:
            body["details"] = refusal.details
        headers: dict[str, str] = {}
        # The spec declares X-RateLimit-* on 200 and 429 only; the mock sends them on all.
        if self.variant != "terse" or refusal.status == 429:
            headers = quota.headers(self.faults)
        if refusal.status == 429 and "no_retry_after" not in self.faults:
            headers["Retry-After"] = str(quota.retry_after)
        if refusal.status == 429 and "retry_after_hour" in self.faults:
            headers["Retry-After"] = str(HOUR)  # planted
            body["details"] = {"retry_after": HOUR}
        if refusal.status == 429 and "rate_limit_plain" in self.faults:
            return PlainTextResponse("Too Many Requests", 429, headers=headers)  # planted
        return self.write(refusal.status, body, headers)

    async def routing_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's 404 (no route) and 405 (route, wrong method) in Firma's envelope."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405 and request.method == "OPTIONS" and self.variant == "sparse":
            return Response(status_code=200, headers={"Allow": "POST, OPTIONS"})
        key = self._key(request)
        quota = self.windows.count(key if key in self.keys else None, 0)
        message = self.messages["route"] if exc.status_code == 404 else str(exc.detail)
        response = self.error(_Refusal(exc.status_code, message), quota)
        response.headers.update(exc.headers or {})
        return response

    def _key(self, request: Request) -> str | None:
        """The key in the single ``Authorization`` header; the ``Bearer`` prefix is optional."""
        values = request.headers.getlist("authorization")
        if len(values) != 1:
            return None
        value = values[0].strip()
        scheme, _, rest = value.partition(" ")
        if scheme == "Bearer" or (
            scheme.lower() == "bearer" and self.variant != "bearer_exact_case"
        ):
            if "bearer_refused" in self.faults:
                return None  # planted
            value = rest.strip()
        return value or None

    async def _jwt_id(self, request: Request) -> str:
        """The body's ``jwt_id`` (required, uuid) in canonical form, or a 400."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip()
        if "media_type_case_sensitive" in self.faults and media_type != "application/json":
            raise self._invalid({"_errors": ["Content-Type must be application/json"]})  # planted
        try:
            payload = await read_json(request)
        except BadBody as bad:
            raise self._invalid({"_errors": [bad.message]}) from bad
        if payload is ABSENT or not isinstance(payload, dict):
            raise self._invalid({"_errors": ["Expected object"]})
        if "extra_key_refused" in self.faults and set(payload) - {"jwt_id"}:
            raise self._invalid({"_errors": ["Unrecognized key(s) in object"]})  # planted
        if "jwt_id" not in payload:
            if "missing_jwt_id_500" in self.faults:
                raise _Refusal(500, "jwt_id is undefined")  # planted
            raise self._invalid({"jwt_id": ["Required"]})
        request.state.jwt_id_sent = payload["jwt_id"]
        key = canonical_uuid(payload["jwt_id"])
        if key is not None and "case_sensitive_jwt_id" in self.faults:
            key = payload["jwt_id"]  # planted: looked up as written
        if key is None and "lenient_uuid" in self.faults and isinstance(payload["jwt_id"], str):
            with contextlib.suppress(ValueError):
                key = str(uuid.UUID(payload["jwt_id"]))  # planted: hex, braces, urn:uuid: pass
        if key is None:
            if "bad_uuid_404" in self.faults and isinstance(payload["jwt_id"], str):
                raise _Refusal(404, self.messages["not_found"])  # planted
            raise self._invalid({"jwt_id": ["Invalid uuid"]})
        return key

    def _invalid(self, details: dict[str, list[str]]) -> _Refusal:
        # "Invalid JWT ID" or field `details`; the terse variant always gives both.
        return _Refusal(400, self.messages["invalid"], details)

    # -- the domain rule -----------------------------------------------------

    async def _revoke(self, jwt_id: str, workspace: str, key: str = "") -> dict[str, Any]:
        """Revoke one active JWT atomically; the 200 body, or a refusal."""
        if self.variant == "slow" and jwt_id not in self.jwts:
            await asyncio.sleep(SLOW_SECONDS)
        if "lock_per_key" in self.faults:
            async with self.key_locks.setdefault(key, asyncio.Lock()):  # planted
                record = self._revocable(jwt_id, workspace)
                await asyncio.sleep(RACE_WINDOW_SECONDS)
                return self._apply(record)
        if "losers_get_404" in self.faults:
            self._revocable(jwt_id, workspace)
            if self.busy:  # planted: a second revoke while one is in progress
                raise _Refusal(404, self.messages["not_found"])
            self.busy = True
            try:
                await asyncio.sleep(RACE_WINDOW_SECONDS)
                with self.lock:
                    return self._apply(self._revocable(jwt_id, workspace))
            finally:
                self.busy = False
        if "racy_revoke" in self.faults:
            record = self._revocable(jwt_id, workspace)
            await asyncio.sleep(RACE_WINDOW_SECONDS)  # planted: a gap between check and write
            return self._apply(record)
        with self.lock:
            record = self._revocable(jwt_id, workspace)
            if "late_failure" in self.faults and not any(
                other is not record and other["revoked_at"] is None for other in self.jwts.values()
            ):
                raise _Refusal(500, "Internal error")  # planted
            return self._apply(record)

    def _revocable(self, jwt_id: str, workspace: str) -> dict[str, Any]:
        record = self.jwts.get(jwt_id)
        leaked = self.leaky  # planted, when set
        if "revoked_before_workspace" in self.faults and record and record["revoked_at"]:
            raise _Refusal(400, "JWT has already been revoked")  # planted: before the workspace
        if record is None or (record["workspace"] != workspace and not leaked):
            raise _Refusal(404, self.messages["not_found"])
        if record["revoked_at"] is not None and not (self.faults & self.rerevoking):
            raise _Refusal(400, "JWT has already been revoked")
        return record

    def _apply(self, record: dict[str, Any]) -> dict[str, Any]:
        revoked_at = isoformat(self.clock(), milliseconds=self.variant == "terse")
        if "revoked_at_example" in self.faults:
            revoked_at = "2024-03-20T16:45:00Z"  # planted
        record["revoked_at"] = revoked_at
        if "cascade" in self.faults:
            for other in self.jwts.values():  # planted
                if other["workspace"] == record["workspace"] and other["revoked_at"] is None:
                    other["revoked_at"] = revoked_at
        jwt_id = str(record["jwt_id"]).lower()
        if "firma_wrong_id_echoed" in self.faults:
            jwt_id = str(uuid.uuid5(uuid.NAMESPACE_URL, jwt_id))  # planted
        body: dict[str, Any] = {
            "message": "JWT revoked successfully",
            "jwt_id": jwt_id,
            "revoked": "revoked_false" not in self.faults,  # planted, when set
            "revoked_at": revoked_at,
        }
        if self.variant == "terse" and record.get("signing_request_id"):
            body["signing_request_id"] = record["signing_request_id"]  # extra fields are allowed
        return body


def firma_app(
    fixture: dict[str, Any],
    faults: frozenset[str] = frozenset(),
    variant: str | None = None,
    *,
    clock: Callable[[], float] = time.time,
    window: float = WINDOW_SECONDS,
) -> Starlette:
    """A Firma target over ``fixture`` (a parsed fixture file), optionally faulty.

    ``clock`` gives Unix seconds; tests move it to roll the rate-limit window, and
    shorten ``window`` (seconds) to keep the rate-limit probe's wait short.

    >>> from tests.conformance._http import load_fixture
    >>> app = firma_app(load_fixture("fixtures/firma.yaml", {}), frozenset({"hang"}))
    """
    faults = frozenset(faults)
    check_choices("firma", faults, variant, FIRMA_FAULTS, FIRMA_VARIANTS)
    target = _Firma(fixture, faults, variant, clock, window)
    # Issue #10: each base path may have its own target (planted faults); one world unless
    # separate_worlds.
    second = target
    if faults & {"second_server_leak", "separate_worlds"}:
        second = _Firma(fixture, faults, variant, clock, window)
        second.leaky = second.leaky or "second_server_leak" in faults
        second.windows = target.windows
        if "separate_worlds" not in faults:
            second.jwts, second.lock = target.jwts, target.lock
    served = FIRMA_BASE_PATHS[:1] if variant == "one_server" else FIRMA_BASE_PATHS
    methods = ["POST", "DELETE"] if "delete_revokes" in faults else ["POST"]  # planted, when set
    routes = [
        Route(base + REVOKE_PATH, (target if n == 0 else second).revoke, methods=methods)
        for n, base in enumerate(served)
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: target.routing_error})
