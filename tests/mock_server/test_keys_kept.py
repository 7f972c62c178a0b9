"""Both APIs keep the reading of an Authorization header that named a key (a client sends
the same one every time), up to ``KEPT_HEADERS`` of them: whatever is kept, a header is
answered as reading it would answer it."""

from __future__ import annotations

import pytest

from mock_server.served import KEPT_HEADERS
from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, ContractClient, signature_requests

pytestmark = pytest.mark.anyio

COMPLETED = signature_requests(project="proj_acme", status="completed")[0]
SPELLINGS = KEPT_HEADERS + 20
"""More spellings of one key than an API keeps."""


@pytest.mark.own_app  # (a fresh app: nothing kept yet)
async def test_craftkit_reads_each_spelling_of_a_key_alike_kept_or_not(
    mock: ContractClient,
) -> None:
    """A key spelt many ways (``Bearer`` and one space or more) authenticates each time,
    kept or past what is kept; a header naming no key, or two of them, never does, also
    after their valid first value was kept."""
    api = mock.app.live.api("craftkit")
    for spaces in range(1, SPELLINGS + 1):
        for _ in range(2):  # read, then (while there is room) kept
            headers = {"Authorization": "Bearer" + " " * spaces + ACME_TEST_KEY}
            response = await mock.cancel(COMPLETED["id"], key=None, headers=headers)
            assert response.status_code == 409, (spaces, response.text)  # not 401
    assert len(api._projects) == KEPT_HEADERS  # type: ignore[attr-defined]
    twice = [("Authorization", f"Bearer {ACME_TEST_KEY}"), ("Authorization", "Bearer x")]
    path = f"/v1/signatures/{COMPLETED['id']}/cancel"
    assert (await mock.request("POST", path, headers=twice)).status_code == 401
    for refused in ("Bearer ck_test_nobody_9999", f"Basic {ACME_TEST_KEY}", ACME_TEST_KEY):
        for _ in range(2):
            headers = {"Authorization": refused}
            response = await mock.cancel(COMPLETED["id"], key=None, headers=headers)
            assert response.status_code == 401, refused


@pytest.mark.own_app
async def test_firma_reads_each_spelling_of_a_key_alike_kept_or_not(
    mock: ContractClient,
) -> None:
    """As for Craftkit: Firma's key, bare or after ``Bearer`` and spaces, authenticates
    each time (a revoke of an unknown JWT: 404, or 429 once the key's quota is spent; not
    401), kept or not; a header naming no key never does."""
    api = mock.app.live.api("firma")
    unknown = {"jwt_id": "00000000-0000-4000-8000-000000000000"}
    key = FIRMA_ACME_KEYS[0]
    for spaces in range(SPELLINGS):
        for _ in range(2):
            spelt = "Bearer" + " " * spaces + key if spaces else key
            response = await mock.revoke(unknown, key=spelt)
            assert response.status_code in (404, 429), (spaces, response.text)
    assert len(api._workspaces) == KEPT_HEADERS  # type: ignore[attr-defined]
    for refused in ("firma_nobody_0000", f"Basic {key}", ""):
        for _ in range(2):
            response = await mock.revoke(unknown, key=refused)
            assert response.status_code == 401, refused
