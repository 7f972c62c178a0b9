"""The landing page and Swagger UI in a real browser, against a real ``mock-server``: every
link works, and "Try it out" cancels a Craftkit request and revokes a Firma JWT."""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

import pytest
from playwright.sync_api import Page, expect

from tests._browser import BrowserTab
from tests.conftest import ACME_TEST_KEY, FIRMA_ACME_KEYS, FIRMA_BASES, jwts, signature_requests

pytestmark = pytest.mark.e2e

TITLES = {
    "craftkit": "Craftkit API (OpenAPI 3.1.0)",
    "firma": "Firma Partner API (OpenAPI 3.0.3)",
}


def test_every_link_of_the_landing_page_answers_and_loads_without_errors(
    browser_tab: BrowserTab, mock_url: str
) -> None:
    page = browser_tab.page
    assert page.goto(mock_url + "/").status == 200  # type: ignore[union-attr]
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    # Swagger UI, the dashboard, then a page and a document per API
    assert len(hrefs) >= 8, hrefs
    assert mock_url + "/__mock/ui/" in hrefs
    for href in hrefs:
        page.goto(mock_url + "/")
        link = page.locator(f'a[href="{_relative(href, mock_url)}"]').first
        with page.expect_navigation() as navigation:
            link.click()
        response = navigation.value
        assert response is not None and response.status == 200, href
        if "/docs/" in href and href.endswith(".json"):
            assert response.headers["content-type"] == "application/json", href
            json.loads(response.body())
        elif href.endswith("/__mock/ui/"):  # the state dashboard, its stream live
            expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
            expect(page.get_by_test_id("record-row").first).to_be_visible()
        else:
            _swagger_ui_loaded(page, href)
    assert browser_tab.errors == []


def _relative(href: str, base: str) -> str:
    assert href.startswith(base), href
    return href[len(base) :]


def _swagger_ui_loaded(page: Page, href: str) -> None:
    """Swagger UI rendered the document the link names, with no resolver errors."""
    expect(page.locator(".opblock").first).to_be_visible()
    match = re.search(r"urls\.primaryName=([^&#]+)", href)
    if match:
        selected = page.locator(".topbar select option:checked")
        expect(selected).to_have_text(page.evaluate("s => decodeURIComponent(s)", match[1]))
    expect(page.locator(".errors-wrapper")).to_have_count(0)


def _open_from_landing(page: Page, mock_url: str, api: str) -> None:
    page.goto(mock_url + "/")
    section = page.locator(f"h2:text-is('{TITLES[api]}') + p")
    section.get_by_role("link", name="Swagger UI").click()
    expect(page.locator(".topbar select option:checked")).to_have_text(TITLES[api])


def _authorize(page: Page, key: str) -> None:
    page.locator(".auth-wrapper .authorize").click()
    page.locator(".auth-container input").fill(key)
    page.locator(".auth-container .modal-btn.authorize").click()
    page.locator(".auth-container .modal-btn.btn-done").click()


def _execute(page: Page, operation: str) -> tuple[int, str]:
    """Click Execute; the status and body Swagger UI shows for the answer."""
    block = page.locator(f"#{operation}")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        block.get_by_role("button", name="Execute").click()
    status = answer.value.status
    live = block.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text(str(status))
    return status, live.locator(".microlight").first.inner_text()


def test_try_it_out_cancels_a_craftkit_request_then_409(
    browser_tab: BrowserTab, mock_url: str
) -> None:
    page = browser_tab.page
    record = next(r for r in signature_requests(status="sent", project="proj_acme"))
    _open_from_landing(page, mock_url, "craftkit")
    page.locator(".opblock-summary-path", has_text="/v1/signatures/{id}/cancel").click()
    # Deep linking put the operation in the address: opened from it (a reload, a shared
    # link), the path-level parameter used to show as "any ()" and {id} was sent as is.
    expect(page).to_have_url(re.compile(r"#/Signatures/cancelSignature$"))
    page.reload()
    operation = "operations-Signatures-cancelSignature"
    block = page.locator(f"#{operation}")
    expect(block.locator(".parameters tr[data-param-name=id] .parameter__type")).to_have_text(
        "string($uuid)"
    )
    _authorize(page, ACME_TEST_KEY)
    block.get_by_role("button", name="Try it out").click()
    block.locator("tr[data-param-name=id] input").fill(record["id"])

    status, body = _execute(page, operation)
    assert status == 200, body
    assert json.loads(body)["status"] == "cancelled"
    assert json.loads(body)["id"] == record["id"]
    expect(block.locator(".request-url")).to_contain_text(f"/v1/signatures/{record['id']}/cancel")

    status, body = _execute(page, operation)
    assert status == 409, body
    assert json.loads(body)["error"]["code"] == "conflict"
    # The 409 is logged by the browser as a failed load; nothing else went wrong.
    assert [e for e in browser_tab.errors if "status of 409" not in e] == []


@pytest.mark.parametrize("base", FIRMA_BASES)
def test_try_it_out_revokes_a_firma_jwt_then_400(
    browser_tab: BrowserTab, mock_url: str, base: str
) -> None:
    # Firma's contract answers a second revoke with 400 "JWT has already been revoked".
    page = browser_tab.page
    record = jwts(workspace="ws_acme", revoked_at=None)[FIRMA_BASES.index(base)]
    _open_from_landing(page, mock_url, "firma")
    page.locator(".servers select").select_option(base)
    block = page.locator(".opblock-post").first
    block.locator(".opblock-summary").click()
    operation = block.get_attribute("id")
    assert operation is not None
    _authorize(page, FIRMA_ACME_KEYS[0])
    block.get_by_role("button", name="Try it out").click()
    block.locator(".body-param textarea").fill(json.dumps({"jwt_id": record["jwt_id"]}))

    status, body = _execute(page, operation)
    assert status == 200, body
    assert json.loads(body)["jwt_id"] == record["jwt_id"]
    expect(block.locator(".request-url")).to_contain_text(
        urljoin(mock_url, base) + "/jwt/revoke-signing-request"
    )

    status, body = _execute(page, operation)
    assert status == 400, body
    assert json.loads(body)["message"] == "JWT has already been revoked"
    assert [e for e in browser_tab.errors if "status of 400" not in e] == []
