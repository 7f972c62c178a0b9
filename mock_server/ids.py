"""Resource ids: both APIs key their resources by uuid, compared case-insensitively.

A *uuid string* (docs/behaviour.md) is 36 characters: 32 hex digits, ASCII only, in any
case, with hyphens at 8-4-4-4-12 and nowhere else. Nothing more is a uuid here, though
a lenient parser reads more (Python's ``uuid.UUID``, and through it the OAS ``uuid``
format checks): braces (one, or both), a ``urn:uuid:`` or ``uuid:`` prefix, 32 digits
without hyphens, stray hyphens, ``_`` between digits, surrounding spaces, or digits of
another script (Arabic-Indic ``١``, fullwidth ``１``). Every id the mock parses (a path,
a body, a fixture, the control plane's records) and every ``format: uuid`` it checks
against a spec go through this one definition, so the mock never stores, nor answers
under, an id that it could not look up again.
"""

from __future__ import annotations

import re
from typing import TypeVar

from jsonschema import FormatChecker

__all__ = ["canonical_uuid", "is_uuid", "strict_uuids"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""Explicit ASCII ranges: ``\\d`` or ``int(..., 16)`` would take any script's digits."""

_Checker = TypeVar("_Checker", bound=FormatChecker)


def canonical_uuid(value: str) -> str | None:
    """The lower-case form of ``value``, or ``None`` if it is not a uuid string.

    >>> canonical_uuid("0C3F5A8E-2B7D-4C1E-9A6F-1D2E3F4A5B6C")
    '0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c'
    >>> u = "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c"
    >>> [canonical_uuid(s) for s in ("{" + u + "}", u + "}", u + "-", "urn:uuid:" + u,
    ...     u.replace("-", ""), u[:-2] + "\\u0666\\u0667", u[:-2] + "\\uff16\\uff17")]
    [None, None, None, None, None, None, None]
    """
    return value.lower() if _UUID.fullmatch(value) else None


def is_uuid(instance: object) -> bool:
    """The ``uuid`` format check: a string must be a uuid string; anything else passes
    (a format constrains strings only, the ``type`` keyword the rest).

    >>> is_uuid("0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c}"), is_uuid(7)
    (False, True)
    """
    return not isinstance(instance, str) or _UUID.fullmatch(instance) is not None


def strict_uuids(checker: _Checker) -> _Checker:
    """A copy of ``checker`` whose ``uuid`` format is :func:`is_uuid`, its other formats
    as they were (``checker`` itself is left alone: the libraries share theirs)."""
    strict = type(checker)(formats=())
    strict.checkers = {**checker.checkers, "uuid": (is_uuid, ())}
    return strict
