"""The rate-limit probe's checks (kind ``probe``: ``(run) -> None``), run by
``phases/ratelimit.py`` under ``--rate-limit-probe``.

The probe names only ids the target does not hold, so it changes no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.apis import act
from conformance.checks import check

if TYPE_CHECKING:
    from conformance.phases.state import StateRun

__all__ = ["SLACK"]

SLACK = 5  # answers past the limit before the missing 429 is a violation


@check("probe")
def rate_limit(run: StateRun) -> None:
    """Writes past write_per_minute are not refused with 429 and Retry-After."""
    limit = run.world.write_per_minute
    if limit is None:
        if run.api.name != "firma":
            run.note(
                "rate-limit probe: the fixture sets no rate_limits.write_per_minute; nothing "
                "to probe"
            )
            return
        limit = 120  # the Firma documentation's default
    tenant = run.world.tenants[-1]
    authorization = run.api.key_forms(tenant.keys[-1])[0][1]
    exchange = None
    with run.client.impolite():
        for sent in range(1, limit + SLACK + 1):
            exchange = act(run.api, run.client, run.unknown_id(), authorization=authorization)
            status = run.observe(exchange)
            if status is None:
                return  # transport already reported
            if status == 429:
                retry_after = (
                    exchange.response.headers.get("Retry-After")
                    if exchange.response is not None
                    else None
                )
                if not retry_after:
                    run.report(
                        "rate_limit",
                        exchange,
                        f"Situation: write {sent} of a {limit}/minute key\n"
                        "Expected: 429 with Retry-After\nReceived: 429 without Retry-After",
                    )
                run.note(f"rate-limit probe: 429 after {sent} writes with a {limit}/minute key")
                return
    assert exchange is not None
    run.report(
        "rate_limit",
        exchange,
        f"Situation: {limit + SLACK} writes in a row with one key of a {limit}/minute quota\n"
        f"Expected: 429 with Retry-After by write {limit + 1}\n"
        f"Received: {exchange.status} every time",
    )
