"""``--rate-limit-probe``: the phase that spends one key's quota on purpose.

Off by default: it uses a whole window of the target's quota for one key, waits for
the window to reset (``--rate-limit-wait``, at most one window and a margin), and
revokes one active resource held back from the state phase for it. It runs every
check of kind ``probe`` that applies to the API, after the state phase.
"""

from __future__ import annotations

import functools

import conformance.checks.ratelimit  # noqa: F401  (registers the probe checks)
from conformance.checks import of_kind
from conformance.checks.ratelimit import ProbeOptions
from conformance.phases.state import StateRun
from conformance.world import Resource

__all__ = ["RESERVE_AFTER", "ProbeOptions", "reserve_for_probe", "run_probe"]

RESERVE_AFTER = 3  # open resources the state phase's scenario uses first; more: hold one back


def reserve_for_probe(run: StateRun) -> Resource | None:
    """Hold one open resource back from the state phase, for the probe's "a 429 changes
    nothing" check: the last open one of a tenant with two keys (else of any tenant).

    None when the fixture lists :data:`RESERVE_AFTER` open resources or fewer: the
    scenario needs them, and the probe says what it could not check.
    """
    opened = run.model.open()
    if len(opened) <= RESERVE_AFTER:
        return None
    several = {t.id for t in run.world.tenants if len(t.keys) >= 2}
    chosen = ([r for r in opened if r.tenant in several] or opened)[-1]
    run.model.spent.add(chosen.id)  # never drawn by the state phase
    return chosen


def run_probe(run: StateRun, options: ProbeOptions) -> None:
    """Run each probe check, stopping if the target stops answering."""
    for row in of_kind("probe", run.api.name):
        if row.function is not None:
            run.guarded(functools.partial(row, run, options))
