"""Independent implementations of both APIs for the harness's own tests.

Each target is correct by default (docs/behaviour.md's tables, the specs' schemas);
``faults`` plants named contract violations and ``variant`` picks another
correct reading of the contract. They never import ``mock_server`` or
``conformance``: the harness must catch faults in code it has never seen.

Example::

    from tests.conformance.servers import serve
    app = craftkit_app(load_fixture("fixtures/craftkit.yaml"), frozenset({"recancel_accepted"}))
    with serve(app) as base_url:
        ...  # run the harness against base_url
"""

from __future__ import annotations

from tests.conformance._http import load_fixture
from tests.conformance.targets_craftkit import CRAFTKIT_FAULTS, CRAFTKIT_VARIANTS, craftkit_app
from tests.conformance.targets_firma import (
    FIRMA_BASE_PATHS,
    FIRMA_FAULTS,
    FIRMA_VARIANTS,
    firma_app,
)

__all__ = [
    "CRAFTKIT_FAULTS",
    "CRAFTKIT_VARIANTS",
    "FIRMA_BASE_PATHS",
    "FIRMA_FAULTS",
    "FIRMA_VARIANTS",
    "craftkit_app",
    "firma_app",
    "load_fixture",
]
