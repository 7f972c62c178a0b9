"""``--rate-limit-probe``: the phase that spends one key's quota on purpose.

Off by default: it uses a whole window of the target's quota for one key. It runs
every check of kind ``probe`` that applies to the API, after the state phase.
"""

from __future__ import annotations

import functools

import conformance.checks.ratelimit  # noqa: F401  (registers the probe checks)
from conformance.checks import of_kind
from conformance.phases.state import StateRun

__all__ = ["run_probe"]


def run_probe(run: StateRun) -> None:
    """Run each probe check, stopping if the target stops answering."""
    for row in of_kind("probe", run.api.name):
        run.guarded(functools.partial(row, run))
