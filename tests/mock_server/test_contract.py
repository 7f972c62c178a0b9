"""Validators compiled on the resolved subschema agree with the plain ``$ref`` form.

``Contract.validator`` compiles each schema where it sits in the document (4x faster
than a root ``{"$ref": ...}`` resolved on every call); on generated inputs it must
give exactly the errors (message, instance path, schema path) the plain form gives.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator, OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from mock_server.contract import OAS30_FORMATS, OAS31_FORMATS, Contract
from mock_server.craftkit.api import CANCEL_BODY
from mock_server.craftkit.world import SIGNATURE_REQUEST
from mock_server.firma.api import REVOKE_BODY
from tests.conftest import NOT_UUID_STRINGS, SPECS

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "a\udfff", "\udfff\ud800"]),  # lone surrogates
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["reason", "jwt_id", "id", "status", "name", "recipients", "x", "\ud800"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


def plain(contract: Contract, pointer: str) -> Any:
    """The validator as the mock built it before: a root ``$ref`` into the document."""
    uri = f"urn:contract:{contract.name}"
    if contract.version.startswith("3.0"):
        cls, checker, dialect = OAS30Validator, OAS30_FORMATS, DRAFT4
    else:
        cls, checker, dialect = OAS31Validator, OAS31_FORMATS, DRAFT202012
    resource = Resource.from_contents(dict(contract.document), default_specification=dialect)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    return cls({"$ref": f"{uri}#{quote(pointer)}"}, registry=registry, format_checker=checker)


def errors(validator: Any, instance: Any) -> list[tuple[str, list[Any], list[Any]]]:
    return sorted(
        (e.message, list(e.path), list(e.schema_path)) for e in validator.iter_errors(instance)
    )


@pytest.mark.parametrize(
    ("api", "pointer"),
    [("craftkit", CANCEL_BODY), ("craftkit", SIGNATURE_REQUEST), ("firma", REVOKE_BODY)],
)
@settings(max_examples=300, deadline=None, derandomize=True)
@given(instance=json_values)
def test_fast_validators_give_the_errors_of_the_plain_form(
    api: str, pointer: str, instance: Any
) -> None:
    contract = _contracts(api)
    assert errors(contract.validator(pointer), instance) == errors(
        plain(contract, pointer), instance
    )


uuid_like = (
    st.uuids().map(str)
    | st.uuids().map(lambda u: str(u).upper())
    | st.from_regex(r"[0-9a-fA-F-]{30,40}", fullmatch=True)
    | st.tuples(st.uuids(), st.sampled_from(NOT_UUID_STRINGS)).map(lambda p: p[1][1](str(p[0])))
)
bodies = json_values | st.fixed_dictionaries(
    {},
    optional={
        "jwt_id": uuid_like | json_values,
        "reason": st.text(min_size=495, max_size=505) | st.text(max_size=5) | json_values,
    },
)


@pytest.mark.parametrize(
    ("api", "pointer"),
    [("craftkit", CANCEL_BODY), ("firma", REVOKE_BODY), ("craftkit", SIGNATURE_REQUEST)],
)
@settings(max_examples=500, deadline=None, derandomize=True)
@given(instance=bodies)
def test_compiled_accept_path_agrees_with_the_validator(
    api: str, pointer: str, instance: Any
) -> None:
    """``Contract.accepts`` (jsonschema-rs where the schema allows) answers exactly as the
    validator whose errors the mock renders: on the bodies the hot paths validate, and a
    record schema with nested ``$ref`` s (checked by the Python validator if it uses a
    keyword the compiled one is not trusted with)."""
    contract = _contracts(api)
    assert contract.accepts(pointer)(instance) == contract.validator(pointer).is_valid(instance)


def test_the_hot_bodies_are_checked_by_the_compiled_validator() -> None:
    """The two bodies every vendor request validates keep to the trusted keywords (else
    the accept path would silently be the slow one again)."""
    for api, pointer in (("craftkit", CANCEL_BODY), ("firma", REVOKE_BODY)):
        contract = _contracts(api)
        assert contract.accepts(pointer) != contract.validator(pointer).is_valid


_LOADED: dict[str, Contract] = {}


def _contracts(api: str) -> Contract:
    if api not in _LOADED:
        _LOADED[api] = Contract.load(api, SPECS[api])
    return _LOADED[api]
