"""Craftkit's facts for the checks: Bearer keys, ``{"error": {"code", ...}}`` errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance._text import short
from conformance.apis.base import NOT_A_UUID, BadRequest, KeyVariant, Variant, key_variants
from conformance.world import KEY_PREFIXES as PREFIXES

__all__ = ["Craftkit"]


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
        return NOT_A_UUID, frozenset({400, 404})  # both documented: either is accepted

    def envelope_problems(self, status: int, body: Any) -> list[str]:
        code = self._CODES.get(status)
        if code is None:
            return []
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return [
                f'Expected: {{"error": {{"code": "{code}", "message": ...}}}}\n'
                f"Received: {short(body)}"
            ]
        problems = []
        if error.get("code") != code:
            problems.append(
                f"Expected: error.code {code!r} for {status}\nReceived: {error.get('code')!r}"
            )
        if not isinstance(error.get("message"), str):
            problems.append(
                f"Expected: error.message, a string\nReceived: {short(error.get('message'))}"
            )
        return problems

    # -- issue #10, auth and tenancy

    KEY_PREFIXES = PREFIXES["craftkit"]  # the fixture reader refuses a key without one

    def scheme_variants(self, key: str) -> list[tuple[str, str]]:
        # An HTTP auth scheme: its name is case-insensitive (RFC 9110, section 11.1).
        return [("bearer (lower case)", f"bearer {key}"), ("BEARER (upper case)", f"BEARER {key}")]

    def key_variants(self, key: str) -> list[KeyVariant]:
        return key_variants(key, self.KEY_PREFIXES)

    def refusal_credentials(self) -> list[tuple[str, str | None]]:
        return [
            ("no Authorization header", None),
            ("an unknown key", "Bearer ck_live_conformance_unknown_key"),
            ("a bare key without Bearer (Firma's style)", "firma_conformance_unknown_key"),
        ]

    # ---- issue #10, valid requests: the schema allows extra keys and counts characters

    def valid_variants(self, target_id: str) -> list[Variant]:
        # 250 two-byte and 250 four-byte characters: 1,500 bytes of UTF-8 and 750 UTF-16 code
        # units, but 500 characters, which is what JSON Schema's maxLength counts.
        reason = "\u00e9" * 250 + "\U0001f600" * 250
        return [
            Variant.media_type(target_id),
            Variant(
                "a body key the schema does not declare (additionalProperties is not false)",
                target_id,
                body={"reason": "Conformance check", "metadata": {"source": "conformance"}},
            ),
            Variant(
                "reason of exactly 500 characters, 250 'é' and 250 '😀' (maxLength counts "
                "characters, not bytes or UTF-16 units)",
                target_id,
                body={"reason": reason},
            ),
        ]

    def forbidden_values(self, target_id: str) -> list[BadRequest]:
        only_400 = frozenset({400})
        return [
            BadRequest(
                "reason null (the schema's type is string)", only_400, json_body={"reason": None}
            ),
            BadRequest(
                "reason of 501 characters: 500 'é' and a combining accent (500 as a reader "
                "counts them)",
                only_400,
                json_body={"reason": "\u00e9" * 500 + "\u0301"},
            ),
        ]
