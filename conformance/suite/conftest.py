"""Refuse to collect the suite without a target: one clear usage error, not an error per check."""

from __future__ import annotations

import pytest

from conformance.pytest_plugin import require_harness, settings_from

require_harness()  # one line naming the [conformance] extra, before a test module needs it


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings_from(config)
