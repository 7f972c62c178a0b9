"""A vendor contract: the OpenAPI document as published, and what the mock derives from it.

The document is loaded verbatim and never edited. Connexion 3.3 only accepts
3.0 documents (connexion#1396), so :meth:`Contract.for_connexion` hands it a
3.0-shaped *copy* used for routing alone; every schema check the mock makes
runs against the original document with its own dialect (OAS 3.1 = JSON
Schema 2020-12 for Craftkit, OAS 3.0 for Firma).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jsonschema_rs
import yaml
from jsonschema.protocols import Validator
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from mock_server.errors import ContractError
from mock_server.ids import strict_uuids

__all__ = ["OAS30_FORMATS", "OAS31_FORMATS", "Accepts", "Contract", "deref"]

Accepts = Callable[[Any], bool]
"""Whether an instance is valid against one schema of the contract."""

FAST_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum",
        "maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems", "format",
        "$ref", "title", "description", "example", "examples", "default", "deprecated",
    }
)  # fmt: skip
"""Keywords the compiled (Rust) validator of :meth:`Contract.accepts` is trusted with:
plain JSON Schema, meaning the same in OAS 3.0 and 3.1 and in both libraries (formats
are checked by the OAS format checker itself). A schema using any other (``nullable``,
``pattern``'s regex dialect, ``oneOf`` with a ``discriminator``...) is checked by the
Python validator alone."""

OAS30_FORMATS = strict_uuids(oas30_format_checker)
OAS31_FORMATS = strict_uuids(oas31_format_checker)
"""The OAS format checks, but ``uuid`` is a uuid string (``mock_server.ids``): the library's
reads whatever ``uuid.UUID`` parses (a trailing brace, another script's digits...), ids
the mock could not look up again."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it: a tenth of the pure-Python time."""


@dataclass(frozen=True)
class Contract:
    """One OpenAPI document, loaded once, with validators compiled once.

    >>> c = Contract.load("craftkit", Path("specs/craftkit.openapi.yaml"))
    >>> c.is_valid("/components/schemas/SignatureRecipient/properties/designation", "Signer")
    True
    """

    name: str
    path: Path
    document: Mapping[str, Any]
    _validators: dict[str, Validator] = field(default_factory=dict, compare=False, repr=False)
    _accepts: dict[str, Accepts] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, name: str, path: Path) -> Contract:
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except OSError as exc:
            raise ContractError(f"{path}: cannot read the {name} spec ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ContractError(f"{path}: the {name} spec is not valid YAML: {exc}") from exc
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
            raise ContractError(f"{path}: not an OpenAPI 3.x document (no 'openapi: 3.x' key)")
        return cls(name=name, path=path, document=document)

    @property
    def version(self) -> str:
        return str(self.document["openapi"])

    @property
    def base_paths(self) -> list[str]:
        """The path part of each ``servers`` URL, in order, without duplicates."""
        paths: list[str] = []
        for server in self.document.get("servers") or [{"url": "/"}]:
            path = urlsplit(str(server["url"])).path.rstrip("/")
            if path not in paths:
                paths.append(path)
        return paths

    def validator(self, pointer: str) -> Validator:
        """A validator for the schema at JSON pointer ``pointer`` of the document, cached."""
        cached = self._validators.get(pointer)
        if cached is not None:
            return cached
        if _resolve_pointer(self.document, pointer) is None:
            raise ContractError(f"{self.path}: no schema at {pointer}")
        uri = f"urn:contract:{self.name}"
        if self.version.startswith("3.0"):
            validator_cls, checker, dialect = OAS30Validator, OAS30_FORMATS, DRAFT4
        else:
            validator_cls, checker, dialect = OAS31Validator, OAS31_FORMATS, DRAFT202012
        resource = Resource.from_contents(dict(self.document), default_specification=dialect)
        registry: Registry[Any] = Registry().with_resource(uri, resource)
        # Compiled on the subschema itself, with the resolver of its place in the document:
        # a root {"$ref": ...} would be resolved through the registry on every call (4x).
        resolved = registry.resolver(base_uri=uri).lookup(f"{uri}#{quote(pointer)}")
        validator: Validator = validator_cls(
            resolved.contents,
            registry=registry,
            _resolver=resolved.resolver,
            format_checker=checker,
        )
        self._validators[pointer] = validator
        return validator

    def accepts(self, pointer: str) -> Accepts:
        """Whether an instance is valid against the schema at ``pointer``, fast, cached: the
        same answer as ``validator(pointer).is_valid`` (a Hypothesis test compares them),
        from a validator compiled in Rust (``jsonschema-rs``, ~1 µs rather than ~20) when
        the schema keeps to :data:`FAST_KEYWORDS`. For the accept path: a refused instance
        gets its error messages from :meth:`validator`.

        >>> c = Contract.load("firma", Path("specs/firma.openapi.yaml"))
        >>> body = "/components/schemas/RevokeSigningRequestJWTRequest"
        >>> accepts = c.accepts(body)
        >>> accepts({"jwt_id": "123e4567-e89b-12d3-a456-426614174000"}), accepts({"jwt_id": 1})
        (True, False)
        """
        cached = self._accepts.get(pointer)
        if cached is not None:
            return cached
        validator = self.validator(pointer)
        accepts: Accepts = validator.is_valid
        keywords: set[str] = set()
        formats: set[str] = set()
        _keywords(self.document, self.schema(pointer), keywords, formats, set())
        if keywords <= FAST_KEYWORDS:
            uri = f"urn:contract:{self.name}"
            compiled_cls = (
                jsonschema_rs.Draft4Validator
                if self.version.startswith("3.0")
                else jsonschema_rs.Draft202012Validator
            )
            checker = OAS30_FORMATS if self.version.startswith("3.0") else OAS31_FORMATS
            compiled = compiled_cls(
                {"$ref": f"{uri}#{quote(pointer)}"},
                registry=jsonschema_rs.Registry([(uri, dict(self.document))]),
                validate_formats=True,
                # The OAS checker's own checks, so both libraries agree on every format.
                formats={name: _conforms(checker, name) for name in formats},
            )
            accepts = _falling_back(compiled.is_valid, validator.is_valid)
        self._accepts[pointer] = accepts
        return accepts

    def is_valid(self, pointer: str, instance: Any) -> bool:
        return bool(self.validator(pointer).is_valid(instance))

    def schema(self, pointer: str) -> Any:
        """The raw schema object at ``pointer`` ($refs left as they are)."""
        return _resolve_pointer(self.document, pointer)

    def deref(self, node: Any) -> Any:
        """``node``, or what its local ``$ref`` s lead to."""
        return deref(self.document, node)

    def for_connexion(self) -> dict[str, Any]:
        """A copy Connexion 3.3 accepts: 3.1 documents are rewritten to 3.0 shape.

        Only routing reads this copy, so the rewrite covers what Connexion's
        spec validation rejects: the version string and 3.1 type arrays.
        """
        document = copy.deepcopy(dict(self.document))
        if self.version.startswith("3.1"):
            document["openapi"] = "3.0.3"
            _downgrade_schemas(document)
        return document


def _keywords(
    document: Any, schema: Any, keywords: set[str], formats: set[str], seen: set[str]
) -> None:
    """Every keyword used by ``schema`` and the schemas it leads to (``$ref`` s followed
    once), into ``keywords``; every ``format`` value into ``formats``."""
    if not isinstance(schema, Mapping):
        return
    keywords.update(schema)
    if isinstance(schema.get("format"), str):
        formats.add(schema["format"])
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        seen.add(ref)
        _keywords(
            document, _resolve_pointer(document, ref.removeprefix("#")), keywords, formats, seen
        )
    for name in ("properties",):
        for sub in (schema.get(name) or {}).values():
            _keywords(document, sub, keywords, formats, seen)
    for name in ("items", "additionalProperties"):
        if isinstance(schema.get(name), list):  # draft 4's tuple form: not looked into
            keywords.add(f"{name} (a list)")
        _keywords(document, schema.get(name), keywords, formats, seen)


def _falling_back(fast: Accepts, slow: Accepts) -> Accepts:
    """``fast``, or ``slow`` for what ``fast`` cannot take in (a lone surrogate: Rust
    strings are UTF-8)."""

    def accepts(instance: Any) -> bool:
        try:
            return fast(instance)
        except (UnicodeError, ValueError, OverflowError):
            return slow(instance)

    return accepts


def _conforms(checker: Any, name: str) -> Callable[[str], bool]:
    """``checker.conforms(instance, name)`` as a function of the instance: the format's
    own check called directly (``FormatChecker.conforms`` and ``check`` around it cost a
    Firma revoke's uuid ~0.4 µs), its errors a no as ``check`` takes them; a format the
    checker does not know conforms.

    >>> from jsonschema import FormatChecker
    >>> uuid = _conforms(FormatChecker(), "uuid")
    >>> uuid("123e4567-e89b-12d3-a456-426614174000"), uuid("123e4567e89b12d3a456426614174000")
    (True, False)
    >>> _conforms(FormatChecker(), "no-such-format")("anything")
    True
    """
    found = checker.checkers.get(name)
    if found is None:
        return lambda instance: True
    check, raises = found

    def conforms(instance: str) -> bool:
        try:
            return bool(check(instance))
        except raises:
            return False

    return conforms


def deref(document: Any, node: Any) -> Any:
    """Follow local ``$ref`` s (``#/components/...``) from ``node`` until a plain node.

    >>> deref({"a": {"b": 1}}, {"$ref": "#/a"})
    {'b': 1}
    """
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        node = _resolve_pointer(document, node["$ref"].removeprefix("#"))
    return node


def _resolve_pointer(document: Any, pointer: str) -> Any:
    node = document
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            return None
        node = node[token]
    return node


def _downgrade_schemas(node: Any) -> None:
    """Rewrite 3.1-only schema keywords in place (``type: [x, 'null']`` -> ``nullable``)."""
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, list):
            others = [k for k in kind if k != "null"]
            if len(others) == 1:
                node["type"] = others[0]
            else:
                del node["type"]
            if "null" in kind:
                node["nullable"] = True
        if "const" in node:
            node["enum"] = [node.pop("const")]
        if isinstance(node.get("examples"), list):
            node.pop("examples")
        for value in node.values():
            _downgrade_schemas(value)
    elif isinstance(node, list):
        for value in node:
            _downgrade_schemas(value)
