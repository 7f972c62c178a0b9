"""A Firma fixture file checked and turned into the world the mock serves.

Format (docs/fixtures.md): ``workspaces`` with their API keys, ``jwts``
(``jwt_id``, ``workspace``, ``revoked_at``, and ``signing_request_id``, a uuid5
of the ``jwt_id`` when left out: the same on every start) and optional
``rate_limits.write_per_minute`` (the spec's documented 120 by default).
``jwt_id`` is checked with the spec's own schema for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from mock_server.contract import Contract
from mock_server.fixtures import FixtureFile, Problems, did_you_mean, unsendable_key
from mock_server.ids import canonical_uuid, strict_uuids
from mock_server.state.base import Record

__all__ = ["DEFAULT_WRITE_PER_MINUTE", "JWT_ID", "FirmaWorld", "complete_jwt", "load_world"]

JWT_ID = "/components/schemas/RevokeSigningRequestJWTRequest/properties/jwt_id"
DEFAULT_WRITE_PER_MINUTE = 120
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "esign-contract-mock:firma")
"""Namespace of generated uuids (uuid5 of the JWT's id: the same on every start)."""

_FORMAT = Draft202012Validator(
    {
        "type": "object",
        "required": ["api", "workspaces", "jwts"],
        "additionalProperties": False,
        "properties": {
            "api": {"const": "firma"},
            "workspaces": {
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
                            # what a key may hold: unsendable_key, with the fix
                            "items": {"type": "string", "minLength": 1},
                        },
                    },
                },
            },
            "jwts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["jwt_id", "workspace", "revoked_at"],
                    "additionalProperties": False,
                    "properties": {
                        "jwt_id": {"type": "string"},
                        "workspace": {"type": "string"},
                        "signing_request_id": {"type": "string", "format": "uuid"},
                        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
            "rate_limits": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"write_per_minute": {"type": "integer", "minimum": 1}},
            },
        },
    },
    format_checker=strict_uuids(FormatChecker()),
)


@dataclass(frozen=True)
class FirmaWorld:
    """Workspaces, keys and JWTs, as a fixture file declares them."""

    source: str
    keys: Mapping[str, str]
    """API key -> workspace id."""
    workspaces: tuple[str, ...]
    jwts: tuple[Record, ...]
    write_per_minute: int
    notes: tuple[str, ...] = ()
    """Start-up log lines: what was generated for the JWTs that left it out."""

    def seed(self) -> dict[str, list[tuple[str, Record]]]:
        """Rows for a store, keyed by canonical uuid."""
        return {"jwts": [(str(canonical_uuid(j["jwt_id"])), j) for j in self.jwts]}


def load_world(fixture: FixtureFile, contract: Contract) -> FirmaWorld:
    """Check ``fixture`` against the format and the spec.

    Raises ``FixtureError`` listing every problem found, not just the first.
    """
    problems = Problems(fixture.shown)
    data: dict[str, Any] = fixture.data
    problems.schema_errors(_FORMAT.iter_errors(data), "", data=data)
    problems.raise_if_any()

    keys: dict[str, str] = {}
    workspaces: list[str] = []
    for index, workspace in enumerate(data["workspaces"]):
        where = f"workspaces[{index}] (id {workspace['id']})"
        if workspace["id"] in workspaces:
            problems.add(f"{where}.id", "duplicate workspace id (each workspace once)")
        workspaces.append(workspace["id"])
        for k, key in enumerate(workspace["api_keys"]):
            if (unsendable := unsendable_key(key)) is not None:
                problems.add(f"{where}.api_keys[{k}]", unsendable)
            elif key in keys:
                problems.add(
                    f"{where}.api_keys[{k}]",
                    f"{key!r} already belongs to workspace {keys[key]} (a key has one workspace)",
                )
            keys[key] = workspace["id"]

    jwt_id = contract.validator(JWT_ID)
    seen: dict[str, int] = {}
    records: list[Record] = []
    for index, given in enumerate(data["jwts"]):
        jwt = complete_jwt(given)
        records.append(jwt)
        where = f"jwts[{index}] (jwt_id {jwt['jwt_id']})"
        for error in jwt_id.iter_errors(jwt["jwt_id"]):
            error.path.appendleft("jwt_id")
            problems.schema_errors([error], where)
        if jwt["workspace"] not in workspaces:
            problems.add(
                f"{where}.workspace",
                f"unknown workspace {jwt['workspace']!r}"
                + did_you_mean(jwt["workspace"], workspaces),
            )
        key = canonical_uuid(jwt["jwt_id"])
        if key is not None:
            if key in seen:
                problems.add(f"{where}.jwt_id", f"duplicate jwt_id (also jwts[{seen[key]}])")
            seen[key] = index
    problems.raise_if_any()
    limits = data.get("rate_limits") or {}
    generated = sum(1 for jwt in data["jwts"] if "signing_request_id" not in jwt)
    notes = (
        f"{fixture.shown}: generated signing_request_id for {generated} of {len(records)} "
        "JWTs (give it in the file to choose)",
    )
    return FirmaWorld(
        source=fixture.shown,
        keys=keys,
        workspaces=tuple(workspaces),
        jwts=tuple(records),
        write_per_minute=int(limits.get("write_per_minute", DEFAULT_WRITE_PER_MINUTE)),
        notes=notes if generated else (),
    )


def complete_jwt(jwt: Record) -> Record:
    """``jwt`` with a ``signing_request_id`` (a uuid5 of its ``jwt_id``) if it gives none.

    >>> complete_jwt({"jwt_id": "4A3A2519-2f15-54a6-abff-8f11cb18eaf1", "workspace": "ws",
    ...               "revoked_at": None})["signing_request_id"]
    '4537fe65-d200-5576-ac8b-3b1fa6b11b4a'
    """
    if "signing_request_id" in jwt:
        return jwt
    key = canonical_uuid(jwt["jwt_id"]) or jwt["jwt_id"]
    made = str(uuid.uuid5(_IDS, f"{key}/signing_request_id"))
    return {
        "jwt_id": jwt["jwt_id"],
        "workspace": jwt["workspace"],
        "signing_request_id": made,
        **jwt,
    }
