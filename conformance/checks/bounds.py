"""The harness's own bounds (issue #10): what it reports when an answer or a run
would otherwise have no end.

* ``response_too_large`` (kind ``answer``): the client stopped reading a body at
  ``MAX_BODY_BYTES`` after decompression (a huge body, a gzip bomb).
* ``retry_after_excessive`` (kind ``run``): a 429 asked for a longer wait than the
  harness ever makes (``MAX_WAIT``); reported by the runner from
  ``Client.refused_waits`` and by the contract phase's guard.
* ``max_time_exceeded`` (kind ``run``): the run reached ``--max-time`` and stopped;
  reported by the runner, so that a cut-short run never passes silently.

A body that does not finish within ``--timeout`` is a ``transport`` failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks import check, declare
from conformance.client import MAX_BODY_BYTES, MAX_WAIT, Exchange

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__: list[str] = []  # reached through the registry, by code


@check("answer")
def response_too_large(run: StateRun, exchange: Exchange) -> list[str]:
    """An answer is larger than 10 MiB after decompression; the harness stopped reading it."""
    if exchange.error is None or exchange.error_code != "response_too_large":
        return []
    return [f"Expected: an answer of at most {MAX_BODY_BYTES} bytes\nReceived: {exchange.error}"]


declare(
    "retry_after_excessive",
    f"A 429's Retry-After asks for more than {MAX_WAIT:.0f} s; the harness does not wait "
    "that long.",
    "run",
)
declare(
    "max_time_exceeded",
    "The run reached --max-time and stopped; the checks after that point did not run.",
    "run",
)
