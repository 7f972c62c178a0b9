"""The contract phase: Schemathesis, every built-in check, keyed by the fixture.

Runs Schemathesis's engine in-process (the same phases as ``st run``:
examples, coverage, fuzzing) and turns its failures into ``Violation``s whose
code is the Schemathesis check's name. Two adjustments keep a correct target
passing and the fixture intact (issue #3):

* The only fixture ids Schemathesis is given are those it cannot change:
  terminal requests / revoked JWTs (and ``upstream_locked`` ones). Open
  resources are for the state checks, which spend each at most once.
* Answers the contract documents for valid input (Firma's 400 "already
  revoked", Craftkit's 409, a 429) are expected by ``positive_data_acceptance``;
  429s are waited out (``rate-limit = "auto"``: Schemathesis honours Retry-After).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from conformance.apis import Api
from conformance.client import mask
from conformance.errors import UsageError
from conformance.failures import Violation, ids_in, merge
from conformance.world import State, World

__all__ = ["ContractRun", "run_contract", "schemathesis_checks"]

log = logging.getLogger("conformance")

# Valid requests may meet these documented answers (docs/behaviour.md).
_POSITIVE_STATUSES = {
    "craftkit": ["2xx", "401", "403", "404", "409", "429"],
    "firma": ["2xx", "400", "401", "403", "404", "429"],
}
_ID_PARAMETER = {"craftkit": "path.id", "firma": "body.jwt_id"}
_HEADERS = re.compile(r"-H '[^']*'|-H \"[^\"]*\"")  # a reproduction's headers name no ids


@dataclass
class ContractRun:
    violations: list[Violation]
    requests: int
    checks: list[str]  # the Schemathesis checks that ran


def schemathesis_checks() -> list[str]:
    """Every built-in Schemathesis check (they register when a spec module loads)."""
    import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)
    from schemathesis.checks import CHECKS

    return sorted(check.__name__ for check in CHECKS.get_all())


def _schemathesis_config(
    world: World, api: Api, *, base_url: str, seed: int, max_examples: int, timeout: float
) -> dict[str, Any]:
    """The Schemathesis configuration (its TOML keys) for one run against ``base_url``."""
    tenant = world.tenants[0]
    # The state checks start with the first key; give Schemathesis the last one,
    # so that on a rate-limited target the two phases draw on different quotas.
    key = tenant.keys[-1]
    # Only ids whose status is terminal: an upstream_locked record is in flight on any
    # target but the mock (only the mock honours the mock block), so Schemathesis
    # could cancel it there and the state phase would find it spent.
    ids = [r.id for r in world.resources if r.tenant == tenant.id and r.state is State.CLOSED]
    config: dict[str, Any] = {
        "seed": seed,
        "headers": {"Authorization": api.key_forms(key)[-1][1]},
        "request-timeout": timeout,
        "rate-limit": "auto",
        "generation": {"max-examples": max_examples, "database": "none"},
        # Reproductions need the key; keys read from the environment are masked
        # by the harness itself (client.mask), as in the state phase.
        "output": {"sanitization": {"enabled": False}},
        "checks": {"positive_data_acceptance": {"expected-statuses": _POSITIVE_STATUSES[api.name]}},
    }
    if ids:
        config["dictionaries"] = {"fixture_ids": {"values": ids}}
        config["parameters"] = {
            _ID_PARAMETER[api.name]: {"dictionary": "fixture_ids", "probability": 0.5}
        }
    return config


def run_contract(
    world: World,
    api: Api,
    *,
    spec: Path,
    base_url: str,
    seed: int,
    max_examples: int,
    timeout: float,
    on_progress: Callable[[str], None] = lambda _: None,
) -> ContractRun:
    """Run Schemathesis against the target; every failure becomes a ``Violation``."""
    config = SchemathesisConfig.from_dict(
        _schemathesis_config(
            world, api, base_url=base_url, seed=seed, max_examples=max_examples, timeout=timeout
        )
    )
    config.projects.override.update(base_url=base_url)
    try:
        schema = schemathesis.openapi.from_path(spec, config=config)
    except Exception as exc:  # Schemathesis raises its own loader errors; name the file and stop
        raise UsageError(
            f"{spec}: Schemathesis cannot load the spec ({exc}); pass an OpenAPI 3.0/3.1 "
            "document with --spec, or leave it out for the bundled one"
        ) from exc
    found: list[Violation] = []
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            requests += len(event.recorder.interactions)
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        detail = f"{failure.title}\n{failure.message}".strip()
                        curl = mask(node.failure_info.code_sample, world.key_names)
                        found.append(
                            Violation(
                                node.name,
                                failure.title,
                                detail,
                                failure.operation or api.operation,
                                curl,
                                "contract",
                                ids=ids_in(_HEADERS.sub("", curl)),  # the ids it names
                            )
                        )
        elif isinstance(event, events.SuiteFinished):
            on_progress(f"contract: {event.phase} phase done")
        elif isinstance(event, events.NonFatalError):
            found.append(
                Violation(
                    "transport",
                    event.info.title,
                    f"{event.info.title}\n{event.info.message}".strip(),
                    event.label,
                    event.info.code_sample or "",
                    "contract",
                )
            )
        elif isinstance(event, events.FatalError):
            raise UsageError(
                f"Schemathesis stopped: {event.exception}; rerun with --log-level DEBUG, "
                "or --only state to skip the contract checks"
            ) from event.exception
        elif isinstance(event, events.EngineFinished) and event.stop_reason.skip_explanation:
            log.warning("contract checks stopped early: %s", event.stop_reason.skip_explanation)
    return ContractRun(merge(found), requests, schemathesis_checks())
