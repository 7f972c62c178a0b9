"""The seam between the generic checks and the two APIs: what an ``Api`` must say.

The checks are written once, against this protocol: how to act on a resource
(cancel, revoke), how each listed key may be presented, which requests must be
refused, and the error envelope each status must carry (docs/behaviour.md).
Everything that differs between Craftkit and Firma lives in ``craftkit.py`` and
``firma.py`` beside this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from conformance.client import Client, Exchange

__all__ = [
    "DEFAULT_BODY",
    "NOT_A_UUID",
    "Api",
    "BadRequest",
    "KeyVariant",
    "Variant",
    "act",
    "key_variants",
]

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

    @classmethod
    def media_type(cls, target_id: str) -> Variant:
        """The usual request with ``Content-Type`` in another case and with a parameter:
        both APIs take ``application/json``, and media types allow either (RFC 9110)."""
        return cls(
            "Content-Type: Application/JSON; charset=UTF-8 (media types are "
            "case-insensitive; parameters are allowed)",
            target_id,
            content_type="Application/JSON; charset=UTF-8",
        )


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

    # -- issue #10, auth and tenancy: exact keys, the scheme's case, refusals with
    # several faults (conformance/checks/access.py uses these).
    def scheme_variants(self, key: str) -> list[tuple[str, str]]: ...
    def key_variants(self, key: str) -> list[KeyVariant]: ...
    def refusal_credentials(self) -> list[tuple[str, str | None]]: ...
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


# ---------------------------------------------------------------- issue #10: exact keys


@dataclass(frozen=True)
class KeyVariant:
    """A string close to a listed key that no tenant has: it must be refused (401).

    ``shell`` writes the same string from the variable holding the key (for curl
    lines of keys read from the environment, which must not show the key).
    """

    label: str
    text: str
    shell: Callable[[str], str]


def key_variants(key: str, prefixes: tuple[str, ...] = ()) -> list[KeyVariant]:
    """Near misses of ``key``: another letter case, a prefix, a suffix, one character more.

    A prefix in ``prefixes`` (Craftkit's ``ck_live_``/``ck_test_``) is kept, so that
    each variant tests the comparison of the key and not the prefix rule; the prefix in
    upper case and the other prefix are variants too.

    >>> [v.text for v in key_variants("firma_acme_0001")]
    ['FIRMA_ACME_0001', 'firma_acme_000', 'irma_acme_0001', 'firma_acme_0001x']
    >>> [v.text for v in key_variants("ck_test_acme_0001", ("ck_live_", "ck_test_"))][:2]
    ['ck_test_ACME_0001', 'CK_TEST_acme_0001']
    >>> key_variants("ck_test_acme_0001", ("ck_live_", "ck_test_"))[-1].shell("KEY")
    'ck_live_${KEY#ck_test_}'
    """
    prefix = next((p for p in prefixes if key.startswith(p)), "")
    body = key[len(prefix) :]
    variants = [
        KeyVariant(
            "with its letters in another case",
            prefix + body.swapcase(),
            lambda v: f'{prefix}$(printf %s "${{{v}#{prefix}}}" | tr a-zA-Z A-Za-z)',
        )
    ]
    if prefix:
        variants.append(
            KeyVariant(
                f"with its prefix in upper case ({prefix.upper()})",
                prefix.upper() + body,
                lambda v: f"{prefix.upper()}${{{v}#{prefix}}}",
            )
        )
    if len(body) > 1:
        variants += [
            KeyVariant(
                "without its last character (a prefix of it)", key[:-1], lambda v: f"${{{v}%?}}"
            ),
            KeyVariant(
                "without its first character"
                + (" after the prefix" if prefix else " (a suffix of it)"),
                prefix + body[1:],
                lambda v: f"{prefix}${{{v}#{prefix}?}}",
            ),
        ]
    variants.append(KeyVariant("with one character appended", key + "x", lambda v: f"${{{v}}}x"))
    variants += [
        KeyVariant(f"with {other} instead of {prefix}", other + body, _swap_prefix(other, prefix))
        for other in prefixes
        if prefix and other != prefix
    ]
    unique: dict[str, KeyVariant] = {}
    for variant in variants:
        if variant.text and variant.text != key:
            unique.setdefault(variant.text, variant)
    return list(unique.values())


def _swap_prefix(new: str, old: str) -> Callable[[str], str]:
    return lambda v: f"{new}${{{v}#{old}}}"
