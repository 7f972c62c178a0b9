"""What differs between the two APIs, for the state checks: one ``Api`` object each.

The state checks (``state.py``) are written once, against this seam: how to
act on a resource (cancel, revoke), how each listed key may be presented,
which requests must be refused, what a success must say, and the error
envelope each status must carry (docs/behaviour.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from conformance.client import Client, Exchange
from conformance.failures import check, only_for
from conformance.world import Resource

__all__ = ["APIS", "DEFAULT_BODY", "Api", "BadRequest", "Craftkit", "Firma", "act"]

_NOT_A_UUID = "not-a-uuid"
DEFAULT_BODY: Any = object()  # act(): send the API's usual body for the target


@dataclass(frozen=True)
class BadRequest:
    """A request the contract refuses: its label, its headers and body, and the allowed statuses."""

    label: str
    statuses: frozenset[int]
    authorization: str | None = None  # None: send the owner's key
    drop_authorization: bool = False
    body: bytes | None = None  # raw bytes sent as application/json
    json_body: Any = DEFAULT_BODY


class Api(Protocol):
    name: str
    operation: str
    success_code: str  # the check a wrong success answer violates
    conflict_status: int  # a repeated or terminal act
    unknown_statuses: frozenset[int]  # an id the target does not hold

    body_optional: bool  # the spec lets a request carry no body at all

    def path(self, target_id: str) -> str: ...
    def default_body(self, target_id: str) -> Any: ...
    def key_forms(self, key: str) -> list[tuple[str, str]]: ...
    def header_problems(self, exchange: Exchange) -> list[str]: ...
    def bad_credentials(self) -> list[BadRequest]: ...
    def bad_bodies(self, target_id: str) -> list[BadRequest]: ...
    def non_id(self) -> tuple[str, frozenset[int]]: ...
    def success_problems(self, resource: Resource, body: Any) -> list[tuple[str, str]]: ...
    def envelope_problems(self, status: int, body: Any) -> list[str]: ...


class Craftkit:
    """``POST /v1/signatures/{id}/cancel``: Bearer keys, ``{"error": {"code", ...}}`` errors."""

    name = "craftkit"
    operation = "POST /v1/signatures/{id}/cancel"
    success_code = "cancel_in_flight"
    conflict_status = 409
    unknown_statuses = frozenset({404})
    _CODES: Mapping[int, str] = {
        400: "invalid_request",
        401: "unauthorized",
        404: "not_found",
        409: "conflict",
        502: "signature_provider_error",
    }

    body_optional = True  # requestBody is not required; reason is optional

    def path(self, target_id: str) -> str:
        return f"/v1/signatures/{target_id}/cancel"

    def default_body(self, target_id: str) -> Any:
        return {"reason": "Conformance check"}

    def key_forms(self, key: str) -> list[tuple[str, str]]:
        return [("Bearer", f"Bearer {key}")]

    def header_problems(self, exchange: Exchange) -> list[str]:
        return []

    def bad_credentials(self) -> list[BadRequest]:
        only_401 = frozenset({401})
        return [
            BadRequest("no Authorization header", only_401, drop_authorization=True),
            BadRequest(
                "unknown key", only_401, authorization="Bearer ck_live_conformance_unknown_key"
            ),
            BadRequest(
                "key without ck_live_/ck_test_ prefix",
                only_401,
                authorization="Bearer sk_live_conformance_0001",
            ),
            BadRequest("Basic instead of Bearer", only_401, authorization="Basic Y2tfbGl2ZTp4"),
        ]

    def bad_bodies(self, target_id: str) -> list[BadRequest]:
        only_400 = frozenset({400})
        return [
            BadRequest("reason of 501 characters", only_400, json_body={"reason": "x" * 501}),
            BadRequest("reason not a string", only_400, json_body={"reason": 42}),
            BadRequest("body not JSON", only_400, body=b"reason=please"),
            BadRequest("body a JSON array", only_400, json_body=["reason"]),
        ]

    def non_id(self) -> tuple[str, frozenset[int]]:
        return _NOT_A_UUID, frozenset({400, 404})  # both documented: either is accepted

    def success_problems(self, resource: Resource, body: Any) -> list[tuple[str, str]]:
        return [("cancel_in_flight", p) for p in cancel_in_flight(resource, body)] + [
            ("unchanging_fields", p) for p in unchanging_fields(resource, body)
        ]

    def envelope_problems(self, status: int, body: Any) -> list[str]:
        code = self._CODES.get(status)
        if code is None:
            return []
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return [
                f'Expected: {{"error": {{"code": "{code}", "message": ...}}}}\n'
                f"Received: {_short(body)}"
            ]
        problems = []
        if error.get("code") != code:
            problems.append(
                f"Expected: error.code {code!r} for {status}\nReceived: {error.get('code')!r}"
            )
        if not isinstance(error.get("message"), str):
            problems.append(
                f"Expected: error.message, a string\nReceived: {_short(error.get('message'))}"
            )
        return problems


class Firma:
    """``POST /jwt/revoke-signing-request``: raw or Bearer keys, ``{"error": "<Reason>"}``."""

    name = "firma"
    operation = "POST /jwt/revoke-signing-request"
    success_code = "revoke_active"
    conflict_status = 400  # "JWT has already been revoked"
    # docs/behaviour.md: 404; accept 400 where the contract is ambiguous (issue #3).
    unknown_statuses = frozenset({404, 400})
    _REASONS: Mapping[int, str] = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        429: "Rate Limit Exceeded",
    }

    body_optional = False

    def path(self, target_id: str) -> str:
        return "/jwt/revoke-signing-request"

    def default_body(self, target_id: str) -> Any:
        return {"jwt_id": target_id}

    def key_forms(self, key: str) -> list[tuple[str, str]]:
        return [("raw key", key), ("Bearer", f"Bearer {key}")]

    def header_problems(self, exchange: Exchange) -> list[str]:
        return rate_limit_headers(exchange)

    def bad_credentials(self) -> list[BadRequest]:
        only_401 = frozenset({401})
        return [
            BadRequest("no Authorization header", only_401, drop_authorization=True),
            BadRequest("unknown key", only_401, authorization="firma_conformance_unknown_key"),
            BadRequest(
                "unknown Bearer key", only_401, authorization="Bearer firma_conformance_unknown_key"
            ),
        ]

    def bad_bodies(self, target_id: str) -> list[BadRequest]:
        only_400 = frozenset({400})
        return [
            BadRequest("body not JSON", only_400, body=f"jwt_id={target_id}".encode()),
            BadRequest("jwt_id missing", only_400, json_body={"id": target_id}),
            BadRequest("jwt_id not a uuid", only_400, json_body={"jwt_id": target_id + "-x"}),
            BadRequest("jwt_id not a string", only_400, json_body={"jwt_id": [target_id]}),
        ]

    def non_id(self) -> tuple[str, frozenset[int]]:
        return _NOT_A_UUID, frozenset({400})

    def success_problems(self, resource: Resource, body: Any) -> list[tuple[str, str]]:
        return [("revoke_active", p) for p in revoke_active(resource, body)]

    def envelope_problems(self, status: int, body: Any) -> list[str]:
        reason = self._REASONS.get(status)
        if reason is None:
            return []
        if not isinstance(body, dict):
            return [f'Expected: {{"error": "{reason}", "message": ...}}\nReceived: {_short(body)}']
        problems = []
        if body.get("error") != reason:
            problems.append(
                f"Expected: error {reason!r} for {status}\nReceived: {_short(body.get('error'))}"
            )
        if not isinstance(body.get("message"), str):
            problems.append(f"Expected: message, a string\nReceived: {_short(body.get('message'))}")
        return problems


# docs/behaviour.md: a cancel must not change these; it may set completedAt/errorMessage.
_UNCHANGING = ("id", "renderId", "name", "expirationHours", "createdAt")


@check
def cancel_in_flight(resource: Resource, body: Any) -> list[str]:
    """Cancelling an in-flight request does not answer 200 with its id and status cancelled."""
    if not isinstance(body, dict):
        return [f"Expected: the signature request as a JSON object\nReceived: {_short(body)}"]
    problems = []
    if body.get("id") != resource.id:
        problems.append(f"Expected: id {resource.id}\nReceived: id {body.get('id')!r}")
    if body.get("status") != "cancelled":
        problems.append(f"Expected: status 'cancelled'\nReceived: status {body.get('status')!r}")
    return problems


@check
def unchanging_fields(resource: Resource, body: Any) -> list[str]:
    """A cancel changes a field the contract says it must keep (id, name, recipients, ...)."""
    if not isinstance(body, dict):
        return []
    record = resource.record
    problems = [
        f"{name} changed on cancel\nExpected: {record[name]!r}\nReceived: {body[name]!r}"
        for name in _UNCHANGING
        if name in record and name in body and body[name] != record[name]
    ]
    if isinstance(record.get("recipients"), list) and "recipients" in body:
        before, after = _recipients(record["recipients"]), _recipients(body["recipients"])
        if before != after:
            problems.append(
                f"recipients changed on cancel (id, email, designation)\nExpected: {before}\n"
                f"Received: {after}"
            )
    return problems


@check
def revoke_active(resource: Resource, body: Any) -> list[str]:
    """Revoking an active JWT does not answer 200 with its jwt_id and revoked: true."""
    if not isinstance(body, dict):
        return [f"Expected: a JSON object with jwt_id and revoked\nReceived: {_short(body)}"]
    problems = []
    if body.get("jwt_id") != resource.id:
        problems.append(f"Expected: jwt_id {resource.id}\nReceived: jwt_id {body.get('jwt_id')!r}")
    if body.get("revoked") is not True:
        problems.append(f"Expected: revoked true\nReceived: revoked {body.get('revoked')!r}")
    return problems


_RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@check
def rate_limit_headers(exchange: Exchange) -> list[str]:
    """A Firma 200 or 429 lacks an integer X-RateLimit-Limit, -Remaining or -Reset."""
    response = exchange.response
    # The contract declares them on 200 and 429 only (docs/behaviour.md): demand nothing elsewhere.
    if response is None or response.status_code not in (200, 429):
        return []
    missing = [h for h in _RATE_HEADERS if not response.headers.get(h, "").strip().isdigit()]
    if not missing:
        return []
    return [
        f"Expected: integer {', '.join(missing)} on {response.status_code}\nReceived: "
        + ", ".join(f"{h}: {response.headers.get(h)!r}" for h in missing)
    ]


only_for("craftkit", cancel_in_flight, unchanging_fields)
only_for("firma", revoke_active, rate_limit_headers)

APIS: Mapping[str, Api] = {"craftkit": Craftkit(), "firma": Firma()}


def act(
    api: Api,
    client: Client,
    target_id: str,
    *,
    authorization: str | None,
    body: Any = DEFAULT_BODY,
    content: bytes | None = None,
) -> Exchange:
    """Cancel or revoke ``target_id``: JSON ``body`` (None: no body at all), or raw ``content``.

    For example, ``act(APIS["firma"], client, jwt_id, authorization="firma_acme_0001")``
    revokes ``jwt_id`` with the key written the way Firma's docs show it.
    """
    headers = {} if authorization is None else {"Authorization": authorization}
    if content is not None:
        headers["Content-Type"] = "application/json"  # bytes that claim to be JSON
        return client.send("POST", api.path(target_id), headers=headers, content=content)
    if body is DEFAULT_BODY:
        body = api.default_body(target_id)
    return client.send("POST", api.path(target_id), headers=headers, json_body=body)


def _recipients(value: Any) -> list[tuple[Any, Any, Any]]:
    if not isinstance(value, list):
        return []
    return [
        (r.get("id"), r.get("email"), r.get("designation")) for r in value if isinstance(r, dict)
    ]


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
