"""A vendor contract: the OpenAPI document as published, and what the mock derives from it.

The document is loaded verbatim and never edited. Connexion 3.3 only accepts
3.0 documents (connexion#1396), so :meth:`Contract.for_connexion` hands it a
3.0-shaped *copy* used for routing alone; every schema check the mock makes
runs against the original document with its own dialect (OAS 3.1 = JSON
Schema 2020-12 for Craftkit, OAS 3.0 for Firma).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

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

__all__ = ["Contract", "deref"]

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
            validator_cls, checker, dialect = OAS30Validator, oas30_format_checker, DRAFT4
        else:
            validator_cls, checker, dialect = OAS31Validator, oas31_format_checker, DRAFT202012
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
