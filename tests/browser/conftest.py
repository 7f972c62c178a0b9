"""A real ``mock-server`` for the browser tests (the browser: ``tests/_browser.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import start_server


@pytest.fixture
def mock_url() -> Iterator[str]:
    """The base URL of a ``mock-server`` of the test's own (bundled fixtures, loopback)."""
    running = start_server()
    try:
        yield running.url
    finally:
        running.stop()
