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
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
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
RACE_WINDOW_SECONDS = 0.05

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
        }.get(variant or "", JsonWriter())

    # -- HTTP ----------------------------------------------------------------

    async def cancel(self, request: Request) -> Response:
        """``cancelSignature``: key (401), body (400), id (404), then the state rule."""
        raw_id = request.path_params["id"]
        try:
            project = self._project(request)
            try:
                await self._check_body(request)
            except _Refusal:
                if "rejected_changes_state" in self.faults:
                    await self._quietly_cancel(raw_id, project)  # planted
                raise
            body = await self._cancel(self._signature_id(raw_id), project)
        except _Refusal as refusal:
            return self.error(refusal)
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
        if scheme.lower() != "bearer" or not token:
            raise _Refusal(401, "unauthorized", self.messages["missing"])
        refused_test_key = "test_keys_refused" in self.faults and token.startswith("ck_test_")
        if not token.startswith(KEY_PREFIXES) or token not in self.keys or refused_test_key:
            raise _Refusal(401, "unauthorized", self.messages["bad_key"])
        return self.keys[token]

    async def _check_body(self, request: Request) -> None:
        """The optional ``{"reason"?: string(<=500)}``, with Zod ``flatten()`` issues."""
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
        if "reason" not in payload:
            return
        reason = payload["reason"]
        if not isinstance(reason, str):
            raise self._invalid([], {"reason": [f"Expected string, received {_zod_type(reason)}"]})
        if len(reason) > MAX_REASON and "long_reason_accepted" not in self.faults:
            message = f"String must contain at most {MAX_REASON} character(s)"
            raise self._invalid([], {"reason": [message]})

    def _invalid(self, form: list[str], fields: dict[str, list[str]]) -> _Refusal:
        issues = {"formErrors": form, "fieldErrors": fields}
        return _Refusal(400, "invalid_request", self.messages["shape"], issues)

    def _signature_id(self, raw_id: str) -> str:
        key = canonical_uuid(raw_id)
        if key is None and self.variant == "strict":
            # docs/behaviour.md: a non-uuid id may be 400 or 404; the spec declares format: uuid.
            issues = {"formErrors": [], "fieldErrors": {"id": ["Invalid uuid"]}}
            raise _Refusal(400, "invalid_request", "Invalid signature request id.", issues)
        return key or ""

    # -- the domain rule -----------------------------------------------------

    async def _cancel(self, key: str, project: str) -> dict[str, Any]:
        """Cancel one in-flight request atomically; the public body, or a refusal."""
        if "racy_cancel" in self.faults:
            record = self._owned(key, project)
            self._check_cancellable(record)
            await asyncio.sleep(RACE_WINDOW_SECONDS)  # planted: a gap between check and write
            return self._apply(record)
        with self.lock:
            record = self._owned(key, project)
            self._check_cancellable(record)
            return self._apply(record)

    async def _quietly_cancel(self, raw_id: str, project: str) -> None:
        try:
            await self._cancel(canonical_uuid(raw_id) or "", project)
        except _Refusal:
            pass

    def _owned(self, key: str, project: str) -> dict[str, Any]:
        record = self.records.get(key)
        if record is not None and (record["project"] == project or "tenant_leak" in self.faults):
            return record
        if "unknown_500" in self.faults:
            raise _Refusal(500, "internal_error", "Internal server error.")  # planted
        if "unknown_403" in self.faults:
            raise _Refusal(403, "forbidden", "Forbidden.")  # planted
        raise _Refusal(404, "not_found", self.messages["not_found"])

    def _check_cancellable(self, record: dict[str, Any]) -> None:
        status = record["status"]
        if status not in IN_FLIGHT:
            again = status == "cancelled" and "recancel_accepted" in self.faults
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
        if "status_not_cancelled" in self.faults:
            body["status"] = old_status  # planted
        if "wrong_id_echoed" in self.faults:
            body["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, body["id"]))  # planted
        if "schema_break" in self.faults:
            del body["renderId"]  # planted
        return body


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
