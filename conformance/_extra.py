"""The harness's own dependencies: the ``[conformance]`` extra, not the mock's.

``pip install esign-contract-mock`` gives the mock only; the console script and the
pytest plugin still exist, so each says how to get the rest instead of a traceback.
"""

from __future__ import annotations

__all__ = ["INSTALL_HINT", "is_missing_extra"]

INSTALL_HINT = (
    "the conformance harness is not installed; "
    "install it with: pip install 'esign-contract-mock[conformance]'"
)

# Top-level modules the extra brings (and the mock does not need).
_EXTRA_MODULES = frozenset(
    {"hypothesis", "httpx", "openapi_core", "pytest", "schemathesis", "werkzeug"}
)


def is_missing_extra(exc: ModuleNotFoundError) -> bool:
    """Whether ``exc`` is one of the extra's modules missing (not a bug of ours)."""
    return (exc.name or "").partition(".")[0] in _EXTRA_MODULES
