"""An independent Craftkit target: ``POST /v1/signatures/{id}/cancel`` per docs/behaviour.md.

Correct by default; each name in ``faults`` plants one contract violation
(:data:`CRAFTKIT_FAULTS`), and ``variant`` picks a different but still correct
reading of the contract (:data:`CRAFTKIT_VARIANTS`). The harness's tests run
against it over a real socket; it shares no code with ``mock_server``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import threading
import time
import unicodedata
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
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

__all__ = ["CRAFTKIT_FAULTS", "CRAFTKIT_VARIANTS", "craftkit_app"]

CRAFTKIT_FAULTS = MappingProxyType(
    {
        "terminal_cancellable": "completed/declined/expired/failed requests cancel with 200",
        "recancel_accepted": "an already cancelled request cancels again with 200",
        "ignores_auth": "any Authorization, or none, is accepted (as the first project)",
        "tenant_leak": "a key of another project can cancel the request",
        "wrong_id_echoed": "the 200 body carries a different uuid as id",
        "status_not_cancelled": "the 200 body keeps the old status (the state does change)",
        "wrong_error_code": "409 answers say code invalid_request instead of conflict",
        "error_text_plain": "every error answer is sent as text/plain",
        "long_reason_accepted": "a reason over 500 characters is accepted and cancels",
        "rejected_changes_state": "a cancel refused with 400 (bad body) still cancels",
        "cascade": "cancelling one request cancels the project's other in-flight ones",
        "unknown_500": "an unknown / other project's / non-uuid id answers 500",
        "unknown_403": "an unknown / other project's / non-uuid id answers 403 forbidden",
        "schema_break": "the 200 body omits the required renderId",
        "name_changed": "a cancel rewrites the request's name",
        "no_allow_header": "405 answers carry no Allow header",
        "test_keys_refused": "ck_test_ keys get 401",
        "empty_body_refused": "a cancel without a body is refused with 400 (reason is optional)",
        "provider_error_changes_state": "the 502 provider error still cancels the request",
        "racy_cancel": "check and write are not atomic: concurrent cancels all get 200",
        # -- issue #10, auth and tenancy
        "keys_case_insensitive": "keys are compared ignoring letter case (after the prefix)",
        "key_prefix_accepted": "a prefix of a listed key (8 characters or more) is accepted",
        "bearer_case_sensitive": "only `Bearer` is a bearer scheme; `bearer` and `BEARER` get 401",
        "extra_keys_unscoped": "a project's keys after its first reach no request (404)",
        "id_before_key": "a non-uuid id is a 404 before the key is checked",
        "body_before_key": "the body is checked before the key: bad body and bad key give 400",
        "state_before_tenant": "another project's terminal/locked/failing request answers "
        "409/502 (state checked before the project)",
        "foreign_404_differs": "another project's request is a 404 saying it belongs to "
        "another project",
        "losers_get_502": "concurrent cancels: one 200, the others 502 instead of 409",
        "lock_per_key": "cancels are atomic per API key only: two keys cancel concurrently",
        "extra_keys_skip_state": "with a project's keys after its first, terminal requests "
        "cancel again (200)",
        # issue #10, valid requests and what a response means
        "charset_refused": "a Content-Type with parameters (`; charset=utf-8`) is refused with 400",
        "extra_key_refused": "a body key other than reason is refused with 400",
        "reason_utf16_counted": "maxLength counted in UTF-16 code units (JavaScript's length)",
        "reason_bytes_counted": "maxLength counted in UTF-8 bytes",
        "reason_graphemes_counted": "maxLength counted without combining marks (501 accepted)",
        "null_reason_accepted": "reason: null is taken for no reason and cancels",
        "case_sensitive_id": "the path id is looked up as written: upper case is 404",
        "options_500": "OPTIONS on the cancel path answers 500",
        "recipients_declined": "a cancel marks every recipient who has not signed as declined",
        "completed_at_future": "a cancel sets completedAt a day ahead",
        "completed_before_created": "a cancel sets completedAt an hour before createdAt",
        "late_failure": "the cancel of the last in-flight request answers 500",
        # -- answers a client must bound (issue #10, probe): each on every 404
        "slow_endless_body": "404 bodies trickle a byte every 50 ms and never end",
        "huge_body": "404 bodies are 16 MiB, streamed without Content-Length",
        "gzip_bomb": "404 bodies are gzip that inflates to 64 MiB",
    }
)
"""Planted faults: name -> what the target then does wrong."""

CRAFTKIT_VARIANTS = MappingProxyType(
    {
        "strict": "non-uuid id -> 400; charset in Content-Type; extra `object` field; "
        "sets completedAt; other error wording",
        "chunked": "bodies streamed without Content-Length, indented, with extra headers",
        "sparse": "timestamps with milliseconds (createdAt, a completedAt it sets); recipients "
        "without their null optional fields; extra body fields and headers; the id echoed as "
        "the request wrote it; OPTIONS answered 204 with Allow",
        # -- issue #10, probe
        "gzip": "answers gzip-compressed when the client accepts it (Content-Encoding: gzip)",
    }
)
"""Correct variants: name -> how it differs from the mock while keeping the contract."""

IN_FLIGHT = frozenset({"sent", "viewed"})
HUGE_BYTES = 16 << 20  # huge_body
BOMB_BYTES = 64 << 20  # gzip_bomb, inflated
TRICKLE_SECONDS = 0.05  # slow_endless_body
KEY_PREFIXES = ("ck_live_", "ck_test_")
MAX_REASON = 500
FIXTURE_ONLY_KEYS = ("project", "mock")  # the tenant and mock hints are never in a response
RACE_WINDOW_SECONDS = 0.15

_MESSAGES = {
    None: {
        "missing": "Missing Bearer token.",
        "bad_key": "Invalid API key.",
        "shape": "Request body did not match expected shape.",
        "not_found": "Signature request not found.",
        "terminal": "Signature request is already {status} and cannot be cancelled.",
        "locked": "Signature request can no longer be cancelled upstream.",
        "provider": "Failed to cancel the signing request with the signature service.",
    },
    "strict": {
        "missing": "Authorization: Bearer <api key> required.",
        "bad_key": "API key not recognised.",
        "shape": "Invalid request body.",
        "not_found": "No signature request with this id.",
        "terminal": "Cannot cancel a {status} signature request.",
        "locked": "The signature service has locked this request.",
        "provider": "Signature service unavailable.",
    },
}


def _zod_type(value: Any) -> str:
    """The type name Zod prints in ``Expected string, received <type>``."""
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(
        type(value), "unknown"
    )


class _Refusal(Exception):
    """An error answer: status and the envelope's ``code``, ``message``, ``issues``."""

    def __init__(
        self, status: int, code: str, message: str, issues: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.issues = status, code, message, issues


class _Craftkit:
    """One Craftkit world in memory; every state change happens under ``lock``."""

    def __init__(
        self, fixture: dict[str, Any], faults: frozenset[str], variant: str | None
    ) -> None:
        world = expand(fixture)
        self.faults = faults
        self.variant = variant
        self.messages = _MESSAGES.get(variant, _MESSAGES[None])
        self.keys: dict[str, str] = {
            key: p["id"] for p in world.get("projects", []) for key in p["api_keys"]
        }
        self.default_project: str = next(iter(self.keys.values()), "")
        self.first_keys = {p["api_keys"][0] for p in world.get("projects", []) if p["api_keys"]}
        self.busy = False  # losers_get_502: a cancel is in progress
        self.skip_state = False  # extra_keys_skip_state: set per request
        self.key_locks: dict[str, asyncio.Lock] = {}  # lock_per_key
        self.records: dict[str, dict[str, Any]] = {
            str(r["id"]).lower(): r for r in world.get("signature_requests", [])
        }
        self.lock = threading.Lock()
        self.clock: Callable[[], float] = time.time
        self.write = {
            "strict": JsonWriter(media_type="application/json; charset=utf-8"),
            "chunked": JsonWriter(
                streamed=True,
                indent=2,
                extra_headers={"Cache-Control": "no-store", "X-Request-Id": "req_target"},
            ),
            "sparse": JsonWriter(extra_headers={"X-Request-Id": "req_sparse", "Vary": "Origin"}),
        }.get(variant or "", JsonWriter())

    # -- HTTP ----------------------------------------------------------------

    async def cancel(self, request: Request) -> Response:
        """``cancelSignature``: key (401), body (400), id (404), then the state rule."""
        raw_id = request.path_params["id"]
        try:
            if "id_before_key" in self.faults and canonical_uuid(raw_id) is None:
                raise _Refusal(404, "not_found", self.messages["not_found"])  # planted
            if "body_before_key" in self.faults:
                await self._check_body(request)  # planted: before the key
            project = self._project(request)
            try:
                if "body_before_key" not in self.faults:
                    await self._check_body(request)
            except _Refusal:
                if "rejected_changes_state" in self.faults:
                    await self._quietly_cancel(raw_id, project)  # planted
                raise
            self.skip_state = (  # planted, when set
                "extra_keys_skip_state" in self.faults
                and self._planted_key_match(_token(request)) not in self.first_keys
            )
            body = await self._cancel(self._signature_id(raw_id), project, _token(request))
        except _Refusal as refusal:
            return self.error(refusal)
        if self.variant == "sparse":
            body["id"] = raw_id  # the id as the request wrote it: the same uuid
        return self.write(200, body)

    def error(self, refusal: _Refusal, headers: dict[str, str] | None = None) -> Response:
        """The shared application error envelope (spec ``components/schemas/Error``)."""
        if refusal.status == 404 and self.faults & _UNBOUNDED.keys():
            return _UNBOUNDED[min(self.faults & _UNBOUNDED.keys())]()  # planted
        inner: dict[str, Any] = {"code": refusal.code, "message": refusal.message}
        if refusal.issues is not None:
            inner["issues"] = refusal.issues
        plain = "error_text_plain" in self.faults  # planted
        return self.write(
            refusal.status, {"error": inner}, headers, media_type="text/plain" if plain else None
        )

    async def routing_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's 404 (no route) and 405 (route, wrong method) in the API's envelope."""
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and request.method == "OPTIONS":
            if "options_500" in self.faults:
                return self.error(_Refusal(500, "internal_error", "Internal server error."))
            if self.variant == "sparse":  # OPTIONS may be answered: it says what is allowed
                return Response(status_code=204, headers={"Allow": "POST, OPTIONS"})
        if "no_allow_header" in self.faults:
            headers.pop("Allow", None)  # planted
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return self.error(_Refusal(exc.status_code, code, str(exc.detail)), headers)

    def _project(self, request: Request) -> str:
        values = request.headers.getlist("authorization")
        scheme, _, token = (values[0] if len(values) == 1 else "").strip().partition(" ")
        token = token.strip()
        if "ignores_auth" in self.faults:
            return self.keys.get(token, self.default_project)  # planted
        if "bearer_case_sensitive" in self.faults:
            scheme = scheme.replace("Bearer", "bearer", 1) if scheme == "Bearer" else ""  # planted
        if scheme.lower() != "bearer" or not token:
            raise _Refusal(401, "unauthorized", self.messages["missing"])
        token = self._planted_key_match(token)
        refused_test_key = "test_keys_refused" in self.faults and token.startswith("ck_test_")
        if not token.startswith(KEY_PREFIXES) or token not in self.keys or refused_test_key:
            raise _Refusal(401, "unauthorized", self.messages["bad_key"])
        if "extra_keys_unscoped" in self.faults and token not in self.first_keys:
            return ""  # planted: authenticated, but no project's requests
        return self.keys[token]

    def _planted_key_match(self, token: str) -> str:
        """The listed key a planted loose comparison takes ``token`` for (else ``token``)."""
        for key in self.keys:
            if "keys_case_insensitive" in self.faults and token.lower() == key.lower():
                return key if token.startswith(KEY_PREFIXES) else token
            if "key_prefix_accepted" in self.faults and len(token) >= 8 and key.startswith(token):
                return key
        return token

    async def _check_body(self, request: Request) -> None:
        """The optional ``{"reason"?: string(<=500)}``, with Zod ``flatten()`` issues."""
        content_type = request.headers.get("content-type", "")
        if "charset_refused" in self.faults and ";" in content_type:
            raise self._invalid(["Content-Type must be application/json."], {})  # planted
        try:
            payload = await read_json(request)
        except BadBody as bad:
            raise self._invalid([bad.message], {}) from bad
        if payload is ABSENT:
            if "empty_body_refused" in self.faults:
                raise self._invalid(["Required"], {})  # planted
            return
        if not isinstance(payload, dict):
            raise self._invalid([f"Expected object, received {_zod_type(payload)}"], {})
        if "extra_key_refused" in self.faults and set(payload) - {"reason"}:
            raise self._invalid(["Unrecognized key(s) in object"], {})  # planted
        if "reason" not in payload:
            return
        reason = payload["reason"]
        if reason is None and "null_reason_accepted" in self.faults:
            return  # planted
        if not isinstance(reason, str):
            raise self._invalid([], {"reason": [f"Expected string, received {_zod_type(reason)}"]})
        if self._length(reason) > MAX_REASON and "long_reason_accepted" not in self.faults:
            message = f"String must contain at most {MAX_REASON} character(s)"
            raise self._invalid([], {"reason": [message]})

    def _length(self, text: str) -> int:
        """What maxLength counts: characters (code points), unless a fault counts otherwise."""
        if "reason_utf16_counted" in self.faults:
            return len(text.encode("utf-16-le")) // 2  # planted
        if "reason_bytes_counted" in self.faults:
            return len(text.encode("utf-8"))  # planted
        if "reason_graphemes_counted" in self.faults:
            return sum(1 for c in text if not unicodedata.combining(c))  # planted
        return len(text)

    def _invalid(self, form: list[str], fields: dict[str, list[str]]) -> _Refusal:
        issues = {"formErrors": form, "fieldErrors": fields}
        return _Refusal(400, "invalid_request", self.messages["shape"], issues)

    def _signature_id(self, raw_id: str) -> str:
        key = canonical_uuid(raw_id)
        if key is not None and "case_sensitive_id" in self.faults:
            key = raw_id  # planted: looked up as written
        if key is None and self.variant == "strict":
            # docs/behaviour.md: a non-uuid id may be 400 or 404; the spec declares format: uuid.
            issues = {"formErrors": [], "fieldErrors": {"id": ["Invalid uuid"]}}
            raise _Refusal(400, "invalid_request", "Invalid signature request id.", issues)
        return key or ""

    # -- the domain rule -----------------------------------------------------

    async def _cancel(self, key: str, project: str, token: str = "") -> dict[str, Any]:
        """Cancel one in-flight request atomically; the public body, or a refusal."""
        if "lock_per_key" in self.faults:
            async with self.key_locks.setdefault(token, asyncio.Lock()):  # planted
                record = self._owned(key, project)
                self._check_cancellable(record)
                await asyncio.sleep(RACE_WINDOW_SECONDS)
                return self._apply(record)
        if "losers_get_502" in self.faults:
            self._check_cancellable(self._owned(key, project))
            if self.busy:  # planted: a second cancel while one is in progress
                raise _Refusal(502, "signature_provider_error", self.messages["provider"])
            self.busy = True
            try:
                await asyncio.sleep(RACE_WINDOW_SECONDS)
                with self.lock:
                    record = self._owned(key, project)
                    self._check_cancellable(record)
                    return self._apply(record)
            finally:
                self.busy = False
        if "racy_cancel" in self.faults:
            record = self._owned(key, project)
            self._check_cancellable(record)
            await asyncio.sleep(RACE_WINDOW_SECONDS)  # planted: a gap between check and write
            return self._apply(record)
        with self.lock:
            record = self._owned(key, project)
            self._check_cancellable(record)
            if "late_failure" in self.faults and not self._others_in_flight(record):
                raise _Refusal(500, "internal_error", "Internal server error.")  # planted
            return self._apply(record)

    def _others_in_flight(self, record: dict[str, Any]) -> bool:
        """Another request of any project could still be cancelled."""
        return any(
            other is not record and other["status"] in IN_FLIGHT and not other.get("mock")
            for other in self.records.values()
        )

    async def _quietly_cancel(self, raw_id: str, project: str) -> None:
        try:
            await self._cancel(canonical_uuid(raw_id) or "", project)
        except _Refusal:
            pass

    def _owned(self, key: str, project: str) -> dict[str, Any]:
        record = self.records.get(key)
        if record is not None and (record["project"] == project or "tenant_leak" in self.faults):
            return record
        if record is not None and "state_before_tenant" in self.faults:
            self._check_cancellable(record)  # planted: 409/502 tells another project it exists
        if record is not None and "foreign_404_differs" in self.faults:
            message = "Signature request belongs to another project."  # planted
            raise _Refusal(404, "not_found", message)
        if "unknown_500" in self.faults:
            raise _Refusal(500, "internal_error", "Internal server error.")  # planted
        if "unknown_403" in self.faults:
            raise _Refusal(403, "forbidden", "Forbidden.")  # planted
        raise _Refusal(404, "not_found", self.messages["not_found"])

    def _check_cancellable(self, record: dict[str, Any]) -> None:
        status = record["status"]
        if status not in IN_FLIGHT:
            again = status == "cancelled" and "recancel_accepted" in self.faults
            again = again or self.skip_state
            other = status != "cancelled" and "terminal_cancellable" in self.faults
            if not (again or other):  # planted, when either is set
                code = "invalid_request" if "wrong_error_code" in self.faults else "conflict"
                raise _Refusal(409, code, self.messages["terminal"].format(status=status))
            return
        on_cancel = (record.get("mock") or {}).get("on_cancel")
        if on_cancel == "upstream_locked":
            raise _Refusal(409, "conflict", self.messages["locked"])
        if on_cancel == "provider_error":
            if "provider_error_changes_state" in self.faults:
                record["status"] = "cancelled"  # planted
            raise _Refusal(502, "signature_provider_error", self.messages["provider"])

    def _apply(self, record: dict[str, Any]) -> dict[str, Any]:
        old_status = record["status"]
        record["status"] = "cancelled"
        if self.variant == "strict":
            record["completedAt"] = isoformat(self.clock())  # a cancel may set it
        if self.variant == "sparse":
            record["completedAt"] = isoformat(self.clock(), milliseconds=True)
        if "completed_at_future" in self.faults:
            record["completedAt"] = isoformat(self.clock() + 86_400)  # planted
        if "completed_before_created" in self.faults:
            created = datetime.fromisoformat(record["createdAt"]).timestamp()
            record["completedAt"] = isoformat(created - 3_600)  # planted
        if "recipients_declined" in self.faults:
            for recipient in record.get("recipients", []):  # planted
                if not recipient.get("signedAt"):
                    recipient["declinedAt"] = isoformat(self.clock())
        if "name_changed" in self.faults:
            record["name"] = f"{record['name']} (cancelled)"  # planted
        if "cascade" in self.faults:
            for other in self.records.values():  # planted
                if other["project"] == record["project"] and other["status"] in IN_FLIGHT:
                    other["status"] = "cancelled"
        return self._public(record, old_status)

    def _public(self, record: dict[str, Any], old_status: str) -> dict[str, Any]:
        body = {k: copy.deepcopy(v) for k, v in record.items() if k not in FIXTURE_ONLY_KEYS}
        if self.variant == "strict":
            body = {"object": "signature_request", **body}
        if self.variant == "sparse":
            body = _sparse(body)
        if "status_not_cancelled" in self.faults:
            body["status"] = old_status  # planted
        if "wrong_id_echoed" in self.faults:
            body["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, body["id"]))  # planted
        if "schema_break" in self.faults:
            del body["renderId"]  # planted
        return body


def _token(request: Request) -> str:
    """The key in ``Authorization`` without its scheme (for per-key locks)."""
    return request.headers.get("authorization", "").strip().partition(" ")[2].strip()


def _sparse(body: dict[str, Any]) -> dict[str, Any]:
    """The same record written leanly: milliseconds, no null optional recipient fields."""
    created = str(body["createdAt"])
    if created.endswith("Z") and "." not in created:
        body["createdAt"] = created[:-1] + ".000Z"
    body["recipients"] = [
        {k: v for k, v in r.items() if v is not None or k not in _OPTIONAL_RECIPIENT_FIELDS}
        for r in body.get("recipients", [])
    ]
    return {"object": "signature_request", **body, "metadata": {"source": "sparse"}}


_OPTIONAL_RECIPIENT_FIELDS = ("lastName", "order", "signedAt", "declinedAt")  # not required


# -- answers a client must bound (issue #10, probe) ----------------------------

_HEAD = b'{"error": {"code": "not_found", "message": "'


async def _trickle() -> AsyncIterator[bytes]:
    """A body that never ends (Starlette stops it when the client goes away)."""
    yield _HEAD
    while True:
        await asyncio.sleep(TRICKLE_SECONDS)
        yield b"."


async def _huge() -> AsyncIterator[bytes]:
    yield _HEAD
    chunk = b"x" * (1 << 16)
    for _ in range(HUGE_BYTES // len(chunk)):
        yield chunk
    yield b'"}}'


@functools.cache
def _bomb() -> bytes:
    """``BOMB_BYTES`` of zeros, gzip-compressed once (about 64 KiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(BOMB_BYTES >> 20)) + packer.flush()


_UNBOUNDED: dict[str, Callable[[], Response]] = {
    "slow_endless_body": lambda: StreamingResponse(_trickle(), 404, media_type="application/json"),
    "huge_body": lambda: StreamingResponse(_huge(), 404, media_type="application/json"),
    "gzip_bomb": lambda: Response(
        _bomb(), 404, headers={"Content-Encoding": "gzip"}, media_type="application/json"
    ),
}


def craftkit_app(
    fixture: dict[str, Any], faults: frozenset[str] = frozenset(), variant: str | None = None
) -> Starlette:
    """A Craftkit target over ``fixture`` (a parsed fixture file), optionally faulty.

    >>> from tests.conformance._http import load_fixture
    >>> app = craftkit_app(load_fixture("fixtures/craftkit.yaml", {}), frozenset({"cascade"}))
    """
    faults = frozenset(faults)
    check_choices("craftkit", faults, variant, CRAFTKIT_FAULTS, CRAFTKIT_VARIANTS)
    target = _Craftkit(fixture, faults, variant)
    gzipped = [Middleware(GZipMiddleware, minimum_size=0)] if variant == "gzip" else []
    return Starlette(
        routes=[Route("/v1/signatures/{id}/cancel", target.cancel, methods=["POST"])],
        exception_handlers={HTTPException: target.routing_error},
        middleware=gzipped,
    )
