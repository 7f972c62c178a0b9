"""What each phase is given to work with."""

from __future__ import annotations

from conformance.apis import APIS
from conformance.phases.schemathesis import _schemathesis_config
from conformance.world import State, read_world
from tests.conftest import ROOT


def test_schemathesis_gets_only_ids_whose_status_is_terminal() -> None:
    """An upstream_locked record is in flight on a real target: Schemathesis could spend it."""
    world = read_world(ROOT / "fixtures/craftkit.yaml", environ={})
    config = _schemathesis_config(
        world, APIS["craftkit"], base_url="http://x", seed=0, max_examples=1, timeout=1.0
    )
    given = set(config["dictionaries"]["fixture_ids"]["values"])
    by_state = {r.id: r.state for r in world.resources}
    assert given, "the comparison is not vacuous"
    assert {by_state[i] for i in given} == {State.CLOSED}
    locked = {i for i, s in by_state.items() if s in (State.LOCKED, State.FAILING)}
    assert locked and not locked & given
