"""The conformance harness: checks any implementation against the two contracts.

The suites arrive with issue #3; the package exists so the layout and imports
are settled. It never imports :mod:`mock_server` (ARCHITECTURE.md).
"""

from __future__ import annotations

__all__: list[str] = []
