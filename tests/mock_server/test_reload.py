"""``MockApp.reload`` (what ``--watch`` calls): a good edit is served, a bad one is refused
and the last good world stays live. The file watcher itself is tested in e2e."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_server.app import MockApp
from tests.conftest import FIRMA_ACME_KEYS, AppFactory, ContractClient, fixture_data, jwts

pytestmark = pytest.mark.anyio

ClientFor = Callable[[MockApp], contextlib.AbstractAsyncContextManager[ContractClient]]
ACTIVE = jwts(workspace="ws_acme", revoked_at=None)
NEW_JWT = "0b8e6c1a-3f2d-4e5b-9a7c-1d2e3f4a5b6c"


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


async def test_good_edit_is_served_and_every_session_restarts(
    tmp_path: Path, make_app: AppFactory, client_for: ClientFor
) -> None:
    fixture = tmp_path / "firma.yaml"
    data = fixture_data("firma")
    write(fixture, data)
    app = make_app(fixtures=(fixture,))
    async with client_for(app) as mock:
        assert (await mock.revoke({"jwt_id": ACTIVE[0]["jwt_id"]})).status_code == 200
        data["jwts"].append(
            {
                "jwt_id": NEW_JWT,
                "workspace": "ws_acme",
                "signing_request_id": NEW_JWT,
                "revoked_at": None,
            }
        )
        write(fixture, data)
        assert await app.reload() is True
        assert (await mock.revoke({"jwt_id": NEW_JWT})).status_code == 200
        again = await mock.revoke({"jwt_id": ACTIVE[0]["jwt_id"]})
        assert again.status_code == 200, "a reload must restart sessions from the new fixtures"


async def test_bad_edit_is_logged_and_the_last_good_world_stays(
    tmp_path: Path,
    make_app: AppFactory,
    client_for: ClientFor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fixture = tmp_path / "firma.yaml"
    data = fixture_data("firma")
    write(fixture, data)
    app = make_app(fixtures=(fixture,))
    async with client_for(app) as mock:
        assert (await mock.revoke({"jwt_id": ACTIVE[1]["jwt_id"]})).status_code == 200
        data["jwts"][0]["workspace"] = "ws_acmee"
        write(fixture, data)
        with caplog.at_level(logging.ERROR, logger="mock_server"):
            assert await app.reload() is False
        assert "jwts[0]" in caplog.text and "did you mean 'ws_acme'" in caplog.text
        repeat = await mock.revoke({"jwt_id": ACTIVE[1]["jwt_id"]}, key=FIRMA_ACME_KEYS[1])
        assert repeat.status_code == 400, "the old world, with its state, must stay live"
        fixture.write_text("api: firma\njwts: [")
        with caplog.at_level(logging.ERROR, logger="mock_server"):
            assert await app.reload() is False
        assert "firma.yaml" in caplog.text


def test_the_same_fixtures_from_another_path_name_the_same_world(
    tmp_path: Path, make_app: AppFactory
) -> None:
    """Hosts sharing a store find one world when their files hold the same records,
    wherever the files are; other records name another."""
    data = fixture_data("firma")
    here, there = tmp_path / "here" / "firma.yaml", tmp_path / "there" / "world.yaml"
    for path in (here, there):
        path.parent.mkdir()
        write(path, data)
    same = make_app(fixtures=(here,)).live.fingerprint
    assert make_app(fixtures=(there,)).live.fingerprint == same
    data["jwts"][0]["revoked_at"] = (
        None if data["jwts"][0]["revoked_at"] else "2026-01-01T00:00:00.000Z"
    )
    write(there, data)
    assert make_app(fixtures=(there,)).live.fingerprint != same
