"""A Craftkit fixture file checked and turned into the world the mock serves.

Format (DESIGN.md, "Fixture format"): ``projects`` with their API keys, and
``signature_requests`` that are ``SignatureRequest`` bodies plus ``project``
and an optional ``mock`` block. Every record is validated against the spec's
own schema (OAS 3.1), so a fixture can never make the mock answer off-contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from mock_server.contract import Contract
from mock_server.craftkit.signatures import EXTRA_KEYS, public_body
from mock_server.fixtures import FixtureFile, Problems, did_you_mean
from mock_server.ids import canonical_uuid
from mock_server.store import Record

__all__ = ["KEY_PREFIXES", "SIGNATURE_REQUEST", "CraftkitWorld", "check_record", "load_world"]

SIGNATURE_REQUEST = "/components/schemas/SignatureRequest"
KEY_PREFIXES = ("ck_live_", "ck_test_")

_MOCK_BLOCK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"on_cancel": {"enum": ["provider_error", "upstream_locked"]}},
}
"""A record's optional ``mock`` block: what the simulated signature service does."""

_FORMAT = Draft202012Validator(
    {
        "type": "object",
        "required": ["api", "projects", "signature_requests"],
        "additionalProperties": False,
        "properties": {
            "api": {"const": "craftkit"},
            "projects": {
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
                            "items": {"type": "string", "minLength": 1},
                        },
                    },
                },
            },
            "signature_requests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["project"],
                    "properties": {
                        "project": {"type": "string"},
                        "mock": _MOCK_BLOCK,
                    },
                },
            },
        },
    }
)


_MOCK = Draft202012Validator(_MOCK_BLOCK)


@dataclass(frozen=True)
class CraftkitWorld:
    """Tenants, keys and signature requests, as a fixture file declares them."""

    source: str
    keys: Mapping[str, str]
    """API key -> project id."""
    projects: tuple[str, ...]
    signature_requests: tuple[Record, ...]
    """Fixture records: the response body plus ``project`` and ``mock``."""

    def seed(self) -> dict[str, list[tuple[str, Record]]]:
        """Rows for a store, keyed by canonical uuid."""
        rows = [(str(canonical_uuid(r["id"])), r) for r in self.signature_requests]
        return {"signature_requests": rows}

    def new_request(self, fields: Mapping[str, Any], *, now: str) -> Record:
        """A fixture-shaped record from ``fields``, with defaults for what they leave out.

        The result is not checked here: :func:`check_record` says what is wrong with it.

        >>> world = CraftkitWorld("f.yaml", {}, ("proj_acme",), ())
        >>> record = world.new_request({"name": "NDA"}, now="2026-11-22T10:00:00.000Z")
        >>> record["project"], record["status"], record["recipients"][0]["designation"]
        ('proj_acme', 'sent', 'Signer')
        """
        request_id = str(fields.get("id") or uuid.uuid4())
        recipients = fields.get("recipients", [{}])
        if isinstance(recipients, list):
            recipients = [
                _new_recipient(r, n, request_id) if isinstance(r, dict) else r
                for n, r in enumerate(recipients, start=1)
            ]
        return {
            "id": request_id,
            "project": self.projects[0],
            "renderId": str(uuid.uuid4()),
            "name": "Untitled agreement",
            "status": "sent",
            "expirationHours": 72,
            "signedDownloadUrl": None,
            "certificateUrl": None,
            "errorMessage": None,
            "createdAt": now,
            "completedAt": None,
            **fields,
            "recipients": recipients,
        }


def _new_recipient(fields: Mapping[str, Any], n: int, request_id: str) -> dict[str, Any]:
    email = fields.get("email", f"signer{n}@example.com")
    local = str(email).split("@", 1)[0]
    return {
        "id": f"rcp_{request_id[:8]}_{n}",
        "firstName": local.replace(".", " ").title() or f"Signer {n}",
        "lastName": None,
        "email": email,
        "designation": "Signer",
        "order": n,
        "signedAt": None,
        "declinedAt": None,
        **fields,
    }


def check_record(
    problems: Problems, contract: Contract, record: Record, where: str, projects: Iterable[str]
) -> None:
    """One signature request: the spec's ``SignatureRequest`` plus an existing ``project``."""
    body = public_body(record)
    problems.schema_errors(contract.validator(SIGNATURE_REQUEST).iter_errors(body), where)
    problems.unknown_fields(contract, contract.schema(SIGNATURE_REQUEST), record, where, EXTRA_KEYS)
    if "mock" in record:
        mock_errors = _MOCK.iter_errors(record["mock"])
        problems.schema_errors(mock_errors, f"{where}.mock")
    project = record.get("project")
    if not isinstance(project, str) or project not in projects:
        problems.add(
            f"{where}.project", f"unknown project {project!r}{did_you_mean(str(project), projects)}"
        )


def load_world(fixture: FixtureFile, contract: Contract) -> CraftkitWorld:
    """Check ``fixture`` against the format and the spec.

    Raises ``FixtureError`` listing every problem found, not just the first.
    """
    problems = Problems(fixture.shown)
    data: dict[str, Any] = fixture.data
    problems.schema_errors(_FORMAT.iter_errors(data), "")
    problems.raise_if_any()

    keys: dict[str, str] = {}
    projects: list[str] = []
    for index, project in enumerate(data["projects"]):
        where = f"projects[{index}] (id {project['id']})"
        if project["id"] in projects:
            problems.add(f"{where}.id", "duplicate project id (each project once)")
        projects.append(project["id"])
        for k, key in enumerate(project["api_keys"]):
            if not key.startswith(KEY_PREFIXES):
                problems.add(
                    f"{where}.api_keys[{k}]",
                    f"{key!r} must start with ck_live_ or ck_test_ (Craftkit refuses other keys)",
                )
            elif key in keys:
                problems.add(
                    f"{where}.api_keys[{k}]",
                    f"{key!r} already belongs to project {keys[key]} (a key has one project)",
                )
            keys[key] = project["id"]

    seen: dict[str, int] = {}
    for index, record in enumerate(data["signature_requests"]):
        where = f"signature_requests[{index}]" + (f" (id {record['id']})" if "id" in record else "")
        check_record(problems, contract, record, where, projects)
        key = canonical_uuid(str(record.get("id", "")))
        if key is not None:
            if key in seen:
                problems.add(f"{where}.id", f"duplicate id (also signature_requests[{seen[key]}])")
            seen[key] = index
    problems.raise_if_any()
    return CraftkitWorld(
        source=fixture.shown,
        keys=keys,
        projects=tuple(projects),
        signature_requests=tuple(data["signature_requests"]),
    )
