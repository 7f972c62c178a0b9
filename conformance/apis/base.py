"""The seam between the generic checks and the two APIs: what an ``Api`` must say.

The checks are written once, against this protocol: how to act on a resource
(cancel, revoke), how each listed key may be presented, which requests must be
refused, and the error envelope each status must carry (docs/behaviour.md).
Everything that differs between Craftkit and Firma lives in ``craftkit.py`` and
``firma.py`` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from conformance.client import Client, Exchange

__all__ = ["DEFAULT_BODY", "NOT_A_UUID", "Api", "BadRequest", "Variant", "act"]

NOT_A_UUID = "not-a-uuid"
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


# ---- issue #10, valid requests: variations a conforming client may send ------------


@dataclass(frozen=True)
class Variant:
    """A valid cancel or revoke written another way: it must get the answer the state implies.

    The body goes out as UTF-8 JSON (``é``, not ``\\u00e9``) with ``content_type``.
    """

    label: str
    target_id: str  # the id as sent: in the path (Craftkit) or the body (Firma)
    body: Any = DEFAULT_BODY  # DEFAULT_BODY: the API's usual body for target_id
    content_type: str = "application/json"


class Api(Protocol):
    """What the checks need to know about one API."""

    name: str
    operation: str
    success_code: str  # the check a wrong success answer violates
    conflict_status: int  # a repeated or terminal act
    unknown_statuses: frozenset[int]  # an id the target does not hold

    body_optional: bool  # the spec lets a request carry no body at all

    def path(self, target_id: str) -> str: ...
    def default_body(self, target_id: str) -> Any: ...
    def key_forms(self, key: str) -> list[tuple[str, str]]: ...
    def bad_credentials(self) -> list[BadRequest]: ...
    def bad_bodies(self, target_id: str) -> list[BadRequest]: ...
    def non_id(self) -> tuple[str, frozenset[int]]: ...
    def envelope_problems(self, status: int, body: Any) -> list[str]: ...

    # issue #10, valid requests
    def valid_variants(self, target_id: str) -> list[Variant]: ...
    def forbidden_values(self, target_id: str) -> list[BadRequest]: ...


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
