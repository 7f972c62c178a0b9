"""A real ``mock-server`` for the browser tests (the browser: ``tests/_browser.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import serving


@pytest.fixture
def mock_url() -> Iterator[str]:
    """The base URL of a ``mock-server`` of the test's own (bundled fixtures, loopback)."""
    with serving() as running:
        yield running.url
