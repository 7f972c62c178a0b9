"""Firma's facts for the checks: raw or Bearer keys, ``{"error": "<Reason>"}`` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance._text import short
from conformance.apis.base import NOT_A_UUID, BadRequest, KeyVariant, Variant, key_variants

__all__ = ["Firma"]


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
        return NOT_A_UUID, frozenset({400})

    def envelope_problems(self, status: int, body: Any) -> list[str]:
        reason = self._REASONS.get(status)
        if reason is None:
            return []
        if not isinstance(body, dict):
            return [f'Expected: {{"error": "{reason}", "message": ...}}\nReceived: {short(body)}']
        problems = []
        if body.get("error") != reason:
            problems.append(
                f"Expected: error {reason!r} for {status}\nReceived: {short(body.get('error'))}"
            )
        if not isinstance(body.get("message"), str):
            problems.append(f"Expected: message, a string\nReceived: {short(body.get('message'))}")
        return problems

    # -- issue #10, auth and tenancy

    def scheme_variants(self, key: str) -> list[tuple[str, str]]:
        # An apiKey header, not an HTTP auth scheme: the optional prefix is Firma's own
        # convention, documented as `Bearer`; other spellings are the target's choice.
        return []

    def key_variants(self, key: str) -> list[KeyVariant]:
        return key_variants(key)

    def refusal_credentials(self) -> list[tuple[str, str | None]]:
        return [
            ("no Authorization header", None),
            ("an unknown key", "firma_conformance_unknown_key"),
            ("a Craftkit-style Bearer key", "Bearer ck_live_conformance_unknown_key"),
        ]

    # ---- issue #10, valid requests: the schema allows extra keys; jwt_id is a uuid string

    def valid_variants(self, target_id: str) -> list[Variant]:
        return [
            Variant.media_type(target_id),
            Variant(
                "a body key the schema does not declare (additionalProperties is not false)",
                target_id,
                body={"jwt_id": target_id, "reason": "conformance check"},
            ),
        ]

    def forbidden_values(self, target_id: str) -> list[BadRequest]:
        only_400 = frozenset({400})
        return [
            BadRequest("jwt_id null", only_400, json_body={"jwt_id": None}),
            BadRequest(
                "jwt_id as 32 hex digits without hyphens (not a uuid string)",
                only_400,
                json_body={"jwt_id": target_id.replace("-", "")},
            ),
            BadRequest(
                "jwt_id as a urn:uuid: URN (not a uuid string)",
                only_400,
                json_body={"jwt_id": f"urn:uuid:{target_id}"},
            ),
        ]
