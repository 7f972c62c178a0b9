"""Reproductions: curl lines replay the request, and keys from the environment stay secret."""

from __future__ import annotations

import shlex

import pytest

from conformance.client import curl_line, mask


def test_a_curl_line_replays_method_url_headers_and_body() -> None:
    line = curl_line("POST", "http://h/x", {"Authorization": "k 1"}, b'{"a": 1}', {})
    assert shlex.split(line) == [
        "curl", "-sS", "-i", "-X", "POST", "http://h/x",
        "-H", "Authorization: k 1", "--data-binary", '{"a": 1}',
    ]  # fmt: skip


@pytest.mark.parametrize(
    "secret",
    [pytest.param("ck_live_secret", id="plain"), pytest.param('ck$"`\\x', id="shell-special")],
)
def test_an_environment_key_is_written_as_its_variable(secret: str) -> None:
    line = curl_line(
        "POST", "http://h/x", {"Authorization": f"Bearer {secret}"}, None, {secret: "$QA_KEY"}
    )
    assert secret not in line
    assert '-H "Authorization: Bearer $QA_KEY"' in line, "double quotes, so the shell expands it"


def test_schemathesis_lines_are_masked_the_same_way() -> None:
    line = "curl -X POST -H 'Authorization: Bearer s3cret' -d '{\"k\": \"$x\"}' http://h"
    assert mask(line, {"s3cret": "$KEY"}) == (
        'curl -X POST -H "Authorization: Bearer $KEY" -d \'{"k": "$x"}\' http://h'
    )
