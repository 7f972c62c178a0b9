"""Every ``decide`` of the domain leaves its argument as it was (``Decide``'s contract).

The back-ends hand ``decide`` the fixture record itself, shared by every session, to
save a copy per request: a decide that changed it would change every session's world.
Each is run here on every bundled fixture record, for every way it can be called, and
the record must compare equal to a deep copy taken before.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mock_server import Settings, create_app
from mock_server.craftkit import signatures
from mock_server.firma import jwts
from mock_server.state import insert
from mock_server.state.base import count_in

APP = create_app(Settings())
REQUESTS = APP.live.craftkit.world.signature_requests
JWTS = APP.live.firma.world.jwts


def unchanged(record: Any, decide: Any) -> None:
    before = copy.deepcopy(record)
    decide(record)
    assert record == before, "decide changed the record it was given"


@pytest.mark.parametrize("record", REQUESTS, ids=lambda r: f"{r['status']}-{r['id'][:8]}")
def test_craftkit_decisions_leave_the_record_as_it_was(record: dict[str, Any]) -> None:
    for project in ("proj_acme", "proj_globex", "proj_other"):
        unchanged(record, lambda r, p=project: signatures.cancel(r, project=p))
    for event in (*signatures.EVENTS, "unknown"):
        recipients = [None, *(r["id"] for r in record["recipients"]), "rcp_unknown"]
        for recipient in recipients:
            unchanged(
                record,
                lambda r, e=event, rid=recipient: signatures.apply_event(
                    r,
                    e,
                    recipient_id=rid,
                    message="boom",
                    now="2026-11-23T10:00:00.000Z",
                    base_url="http://mock.test",
                ),
            )
    unchanged(record, insert({"id": "other"}))


@pytest.mark.parametrize("record", JWTS, ids=lambda j: f"{j['jwt_id'][:8]}")
def test_firma_decisions_leave_the_record_as_it_was(record: dict[str, Any]) -> None:
    for workspace in ("ws_acme", "ws_globex", "ws_other"):
        unchanged(record, lambda r, w=workspace: jwts.revoke(r, workspace=w, now=1795404600.5))
    unchanged({"start": 1.0, "used": 3}, lambda r: count_in(r, 2.0, 60))
    unchanged({"start": 1.0, "used": 3}, lambda r: count_in(r, 99.0, 60))
