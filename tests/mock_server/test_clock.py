"""``isoformat`` keeps the last second's text: it must write what ``datetime`` writes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from mock_server.clock import isoformat


def _by_datetime(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False))
@example(0.0)
@example(1795404599.9999996)  # rounds up into the next second
@example(1795404599.9994996)
@example(1795404599.0000004)
@example(-0.0000004)
@example(-1.5)
def test_isoformat_writes_what_datetime_writes(seconds: float) -> None:
    assert isoformat(seconds) == _by_datetime(seconds)


@given(st.integers(0, 4_000_000_000), st.lists(st.integers(0, 999_999), min_size=2, max_size=6))
def test_isoformat_within_one_second_and_across_seconds(second: int, micros: list[int]) -> None:
    """Several times within one second (the cached text reused), then the next second."""
    for micro in micros:
        for seconds in (second + micro / 1e6, second + 1 + micro / 1e6, second + micro / 1e6):
            assert isoformat(seconds) == _by_datetime(seconds)
