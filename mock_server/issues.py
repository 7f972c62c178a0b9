"""Schema errors in the shape the vendors' Zod validation returns.

Both vendors validate with Zod; Craftkit returns ``error.flatten()``
(``{"formErrors": [...], "fieldErrors": {field: [...]}}``) as ``issues`` and
Firma returns the field errors as ``details``. Messages follow Zod 3's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypedDict

from jsonschema.exceptions import ValidationError

__all__ = ["Flattened", "flatten", "missing_property", "zod_message"]


class Flattened(TypedDict):
    formErrors: list[str]
    fieldErrors: dict[str, list[str]]


_FORMAT_NAMES = {"uuid": "uuid", "email": "email", "date-time": "datetime", "uri": "url"}


def _js_type(value: object) -> str:
    """The name Zod gives a decoded JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def missing_property(error: ValidationError) -> str:
    """The property a ``required`` error is about (jsonschema names it only in the message)."""
    match = re.match(r"'(.*)' is a required property", str(error.message))
    return match.group(1) if match else ""


def zod_message(error: ValidationError) -> str:
    """Zod 3's wording for one JSON Schema error."""
    expected: Any = error.validator_value
    if error.validator == "type":
        names = expected if isinstance(expected, list) else [expected]
        wanted = " | ".join("number" if n == "integer" else n for n in names)
        return f"Expected {wanted}, received {_js_type(error.instance)}"
    if error.validator == "required":
        return "Required"
    if error.validator == "maxLength":
        return f"String must contain at most {expected} character(s)"
    if error.validator == "minLength":
        return f"String must contain at least {expected} character(s)"
    if error.validator == "format":
        return f"Invalid {_FORMAT_NAMES.get(str(expected), str(expected))}"
    if error.validator == "enum":
        options = " | ".join(f"'{option}'" for option in expected)
        return f"Invalid enum value. Expected {options}, received '{error.instance}'"
    return str(error.message)


def _field(error: ValidationError) -> str | None:
    path = list(error.absolute_path)
    if error.validator == "required" and not path:
        # jsonschema reports a missing property on its parent; Zod on the property.
        return missing_property(error) or None
    return str(path[0]) if path else None


def flatten(errors: Iterable[ValidationError]) -> Flattened:
    """Zod's ``flatten()``: root errors in ``formErrors``, the rest by top-level field.

    Zod reports one issue per problem; a schema that reaches the same check twice
    (a ``$ref`` beside the same keyword) must not say it twice.

    >>> from jsonschema import Draft202012Validator
    >>> schema = {"type": "object", "allOf": [{"type": "object"}]}
    >>> flatten(Draft202012Validator(schema).iter_errors(None))["formErrors"]
    ['Expected object, received null']
    """
    result: Flattened = {"formErrors": [], "fieldErrors": {}}
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        name = _field(error)
        messages = (
            result["formErrors"] if name is None else result["fieldErrors"].setdefault(name, [])
        )
        message = zod_message(error)
        if message not in messages:
            messages.append(message)
    return result
