"""What a run needs before its findings mean anything; ``PreconditionFailed`` (exit 2) if not.

Two premises can be false without the target breaking the contract, and then every
check would cry wolf:

* **the base URL is the API root**: three requests that change nothing (the
  operation without a key, with a key naming an unknown id, and ``GET`` on its
  path) must not *all* answer 404. A correct target answers 401, 404 and 405; a
  404 to all three is a path that does not exist (a wrong ``--base-url``).
* **the fixture is fresh**: resources it lists as open are open. No read
  operation exists, so this is seen while acting: when at least two of them answer
  the conflict status on their first act, before any request of this run got a 2xx
  (nothing it did can have closed them), the data was used or changed before the
  run (:func:`check_fixture`). A single one is left to the checks, with a hint:
  a refused request may have closed it (``rejected_changes_nothing``).

A correct target never trips either: it answers 401 without a key, and its open
resources succeed on their first act.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import yaml

from conformance.apis import Api, act
from conformance.client import Client
from conformance.errors import PreconditionFailed
from conformance.world import State, World

if TYPE_CHECKING:
    from conformance.phases.state import Model

__all__ = ["STALE_AFTER", "check_base_url", "check_fixture"]

STALE_AFTER = 2  # open resources found closed, with nothing in this run to blame
_PREFLIGHT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "conformance/preflight"))


def check_base_url(client: Client, world: World, api: Api, *, spec: Path) -> None:
    """Refuse a base URL where the operation's path does not exist (all answers 404)."""
    key = world.tenants[0].keys[0]
    answers = [
        act(api, client, _PREFLIGHT_ID, authorization=None),
        act(api, client, _PREFLIGHT_ID, authorization=api.key_forms(key)[0][1]),
        client.send("GET", api.path(_PREFLIGHT_ID)),
    ]
    if any(exchange.status != 404 for exchange in answers):
        return
    url = answers[0].url.removesuffix(api.path(_PREFLIGHT_ID))
    paths = _server_paths(spec)
    where = (
        f"the spec's servers put it under {', '.join(paths)}"
        if any(paths)
        else "the spec's servers put it at the origin"
    )
    raise PreconditionFailed(
        f"{url}: nothing answers but 404: {api.operation} without a key (a correct target "
        "answers 401), with a key (404 is right for an unknown id) and GET on its path "
        "(405): the operation's path does not exist there. Nothing was checked.",
        f"check the base path: --base-url must be the API root ({where}), e.g. "
        f"{_example(url, paths)}.",
    )


def check_fixture(model: Model, api: Api, *, fixtures: str) -> None:
    """Refuse to judge a target whose fixture lists as open resources already closed."""
    closed = [
        rid
        for rid, (status, acted_before) in model.first_acts.items()
        if status == api.conflict_status and acted_before == 0
    ]
    if len(closed) < STALE_AFTER:
        return
    opened = model.world.in_state(State.OPEN)
    shown = ", ".join(closed[:5]) + (f" and {len(closed) - 5} more" if len(closed) > 5 else "")
    raise PreconditionFailed(
        f"{fixtures}: {len(closed)} of the {len(opened)} resources the fixture lists "
        f"as open answered {api.conflict_status} to their first "
        f"{'cancel' if api.name == 'craftkit' else 'revoke'}, before any request of this run "
        f"succeeded: they were already closed ({shown}). The fixture is stale (an earlier "
        "run used them, or the data changed), so the checks cannot be judged.",
        "reset the target's data, or refresh the fixture: list records that are open now "
        "(a run spends each open record once). If the data is fresh, the target itself "
        "refuses to act on open resources: act on one by hand to see its answer.",
    )


def _server_paths(spec: Path) -> list[str]:
    try:
        document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    servers = document.get("servers") if isinstance(document, dict) else None
    if not isinstance(servers, list):
        return []
    return [
        urlsplit(str(s.get("url", ""))).path.rstrip("/")
        for s in servers
        if isinstance(s, dict) and s.get("url")
    ]


def _example(url: str, paths: list[str]) -> str:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return " or ".join(origin + path for path in (paths or [""])) or origin
