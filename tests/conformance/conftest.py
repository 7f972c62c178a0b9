"""Shared by the harness's tests that serve independent targets on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.servers import AppSlot, serve


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[AppSlot, str]]:
    """One loopback server per module; each test puts a fresh target in its slot."""
    slot = AppSlot()
    with serve(slot) as url:
        yield slot, url
