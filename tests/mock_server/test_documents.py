"""A completed request's ``signedDownloadUrl`` and ``certificateUrl`` answer real PDFs
(issue #14), to the request's project's keys only, in Craftkit's envelope otherwise."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from mock_server.craftkit.documents import pdf
from tests.conftest import ACME_TEST_KEY, GLOBEX_KEY, ContractClient, signature_requests

pytestmark = pytest.mark.anyio

SESSION = {"X-Mock-Session": "documents"}


def check_pdf(body: bytes) -> str:
    """Parse ``body`` as a PDF as a reader does (header, trailer, every xref offset on
    its object); its text shown on the page."""
    assert body.startswith(b"%PDF-1."), body[:20]
    assert body.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", body).group(1))  # type: ignore[union-attr]
    assert body[startxref:].startswith(b"xref")
    table = re.match(rb"xref\s+0 (\d+)\s+((?:\d{10} \d{5} [fn] \s*)+)", body[startxref:])
    assert table is not None
    rows = re.findall(rb"(\d{10}) (\d{5}) ([fn])", table.group(2))
    assert len(rows) == int(table.group(1))
    for number, (offset, _, kind) in enumerate(rows):
        if kind == b"n":
            assert body[int(offset) :].startswith(b"%d 0 obj" % number), number
    trailer = body[startxref:]
    assert b"/Root 1 0 R" in trailer and b"/Size %d" % len(rows) in trailer
    length = int(re.search(rb"/Length (\d+)", body).group(1))  # type: ignore[union-attr]
    stream = body[body.index(b"stream\n") + 7 :]
    assert stream[length:].startswith(b"\nendstream")
    return " ".join(t.decode("latin-1") for t in re.findall(rb"\((.*?)\) Tj", stream[:length]))


async def test_a_pdf_escapes_what_its_strings_cannot_hold() -> None:
    text = check_pdf(pdf("A (title) \\ here", ["Zoë signed", "日本"]))
    assert "A \\(title\\) \\\\ here" in text and "Zoë signed" in text and "??" in text


async def completed(mock: ContractClient) -> dict[str, Any]:
    """A request of proj_acme walked to completed through the control plane's events."""
    body = {"recipients": [{"email": "ada@example.com", "designation": "Signer"}]}
    created = await mock.http.post(
        "/__mock/craftkit/signature-requests", json=body, headers=SESSION
    )
    assert created.status_code == 201, created.text
    record: dict[str, Any] = created.json()
    for event in ({"event": "viewed"}, {"event": "signed"}):
        answer = await mock.http.post(
            f"/__mock/craftkit/signature-requests/{record['id']}/events",
            json=event,
            headers=SESSION,
        )
        assert answer.status_code == 200, answer.text
        record = answer.json()
    assert record["status"] == "completed"
    return record


def get(mock: ContractClient, url: str, key: str | None, method: str = "GET") -> Any:
    headers = {**SESSION, **({"Authorization": f"Bearer {key}"} if key else {})}
    return mock.http.request(method, httpx.URL(url).path, headers=headers)


@pytest.mark.parametrize(
    ("field", "title"),
    [("signedDownloadUrl", "Signed document"), ("certificateUrl", "Certificate of completion")],
)
async def test_a_completed_request_s_urls_answer_pdfs_to_its_project(
    mock: ContractClient, field: str, title: str
) -> None:
    record = await completed(mock)
    answer = await get(mock, record[field], ACME_TEST_KEY)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert record["id"] in answer.headers["content-disposition"]
    text = check_pdf(answer.content)
    assert f"{title} {record['id']}" in text
    head = await get(mock, record[field], ACME_TEST_KEY, method="HEAD")
    assert head.status_code == 200 and head.headers["content-type"] == "application/pdf"
    journal = (await mock.http.get("/__mock/requests", headers=SESSION)).json()["requests"]
    assert journal[-1]["operation"] == "GET /v1/signatures/{id}/{document}"
    assert journal[-1]["response"]["status"] == 200


@pytest.mark.parametrize("field", ["signedDownloadUrl", "certificateUrl"])
async def test_others_get_craftkit_s_refusals(mock: ContractClient, field: str) -> None:
    record = await completed(mock)
    url = record[field]
    missing = await get(mock, url, None)
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "unauthorized")
    other = await get(mock, url, GLOBEX_KEY)  # another project's: as if it did not exist
    assert (other.status_code, other.json()["error"]["code"]) == (404, "not_found")
    unknown = await get(mock, url.replace(record["id"], "0" * 8 + record["id"][8:]), ACME_TEST_KEY)
    assert unknown.status_code == 404
    [sent] = signature_requests(project="proj_acme", status="sent")[:1]
    in_flight = await get(mock, url.replace(record["id"], sent["id"]), ACME_TEST_KEY)
    assert in_flight.status_code == 404, "no document before the request completes"
    assert (
        await get(mock, url.replace(record["id"], "not-a-uuid"), ACME_TEST_KEY)
    ).status_code == 404
