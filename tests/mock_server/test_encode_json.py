"""The answers' JSON (``mock_server._http.encode_json``, orjson) is what the standard
library wrote before it: the same bytes, but for how a number below 1e-4 is spelt."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server._http import encode_json

STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Any text but lone surrogates (no UTF-8 holds one: both refuse it, below).
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits: orjson refuses
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@dataclasses.dataclass
class Point:
    x: int
    y: int


def has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(map(has_float, value))
    if isinstance(value, dict):
        return any(map(has_float, value.values()))
    return False


@given(VALUES)
def test_the_bytes_are_the_standard_library_s_and_read_back_as_the_value(value: Any) -> None:
    encoded = encode_json(value)
    assert json.loads(encoded) == value
    if not has_float(value):
        assert encoded == STDLIB.encode(value).encode()
    else:  # a float may be spelt otherwise: the same number
        assert json.loads(encoded) == json.loads(STDLIB.encode(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_is_the_library_s_but_for_how_a_small_one_is_spelt(number: float) -> None:
    ours, theirs = encode_json(number), STDLIB.encode(number).encode()
    assert float(ours) == number
    if ours != theirs:
        assert number != 0 and abs(number) < 1e-4 and b"e" in theirs, (ours, theirs)


class Reversed(list):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        return reversed(list(super().__iter__()))


class Label(str):
    pass


def test_what_orjson_refuses_is_written_as_the_library_writes_it() -> None:
    moved = OrderedDict(a=1, b=2)
    moved.move_to_end("a")
    for value in (
        {1: "a", None: 2},
        [2**64, -(2**63) - 1],
        {"n": 10**30},
        moved,
        [Label("x"), True, 1],
        {"k": Reversed([1, 2, 3])},
    ):
        assert encode_json(value) == STDLIB.encode(value).encode(), value
    for refused in (datetime.date(2024, 1, 2), Point(1, 2)):
        with pytest.raises(TypeError):  # as the library refused them (a 500, logged)
            encode_json({"v": refused})
    with pytest.raises(UnicodeEncodeError):  # as before: no UTF-8 holds a lone surrogate
        encode_json({"name": "\ud800"})


def test_nan_is_null_where_the_library_wrote_what_no_parser_reads() -> None:
    assert encode_json([math.nan, math.inf, 1.5]) == b"[null,null,1.5]"
