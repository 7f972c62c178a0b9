"""The user documentation in ``docs/`` is a promise: these tests fail when it drifts.

* ``docs/checks.md`` lists exactly the check codes the harness can report, each under
  its phase (the harness's registry and Schemathesis's built-in checks);
* ``docs/fixtures.md`` names every field of the spec's ``SignatureRequest`` and
  ``SignatureRecipient`` and every key of both fixture formats, and each of its
  example files is accepted by the mock's loader and the harness's reader;
* ``docs/behaviour.md`` names every ``error.code`` the Craftkit mock sends and every
  Firma ``error`` phrase and message, taken from the mock's own answers;
* the pages stand alone: no link outside the repository, no reference to the design
  notes users never see, no broken link between pages.

(``tests/mock_server/test_docs.py`` tests the mock's Swagger pages, not these.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import conformance.runner  # noqa: F401  (imports state, apis, ratelimit: fills CHECKS)
from conformance.checks import CHECKS
from conformance.phases.schemathesis import schemathesis_checks
from conformance.world import read_world
from mock_server import Settings, create_app
from mock_server.app import MockApp
from mock_server.craftkit.envelope import CODES as CRAFTKIT_CODES
from mock_server.firma.envelope import error_response as firma_error
from tests.conftest import (
    FIXTURES,
    ROOT,
    SPECS,
    AppFactory,
    ContractClient,
    jwts,
    signature_requests,
    spec_responses,
)

DOCS = ROOT / "docs"
PAGES = ("fixtures.md", "behaviour.md", "checks.md", "performance.md")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """The text under each ``## `` heading, by heading."""
    parts = re.split(r"^## +(.+?)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


# ---------------------------------------------------------------- (a) checks.md

OWN_CODES = set(CHECKS)
SCHEMATHESIS_CODES = set(schemathesis_checks())
ALL_CODES = OWN_CODES | SCHEMATHESIS_CODES


def code_headings(text: str) -> set[str]:
    """Codes that have a section of their own: ``### `code` ``."""
    return set(re.findall(r"^#{2,4} +`([a-z_]+)`\s*$", text, flags=re.MULTILINE))


def code_table_rows(text: str) -> set[str]:
    """First cells of the rows of every table whose first column is headed ``code``."""
    codes: set[str] = set()
    in_table = False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            in_table = False
        elif cells[0] == "code":
            in_table = True
        elif in_table and not set(cells[0]) <= set("-: "):
            codes.add(cells[0].strip("`"))
    return codes


def test_the_registry_is_not_empty() -> None:
    """Guards the comparisons below against an import that no longer registers checks."""
    assert {"terminal_conflict", "tenant_isolation", "rate_limit"} <= OWN_CODES
    assert {"not_a_server_error", "ignored_auth"} <= SCHEMATHESIS_CODES


def test_every_code_has_a_section_and_no_section_names_a_missing_code() -> None:
    documented = code_headings(page("checks.md"))
    assert not ALL_CODES - documented, f"codes without a section: {sorted(ALL_CODES - documented)}"
    assert not documented - ALL_CODES, (
        f"sections for no such code: {sorted(documented - ALL_CODES)}"
    )


def test_the_summary_table_lists_exactly_the_codes() -> None:
    rows = code_table_rows(page("checks.md"))
    assert not ALL_CODES - rows, f"codes missing from the summary: {sorted(ALL_CODES - rows)}"
    assert not rows - ALL_CODES, f"summary rows for no such code: {sorted(rows - ALL_CODES)}"


def test_each_code_is_under_its_phase() -> None:
    by_heading = sections(page("checks.md"))
    contract = next(text for title, text in by_heading.items() if title.startswith("Contract"))
    state = next(text for title, text in by_heading.items() if title.startswith("State"))
    assert code_headings(contract) == SCHEMATHESIS_CODES
    assert code_headings(state) == OWN_CODES


def test_exit_codes_are_explained() -> None:
    rows = {
        line.split("|")[1].strip()
        for line in sections(page("checks.md"))["Exit codes"].splitlines()
        if line.startswith("|")
    }
    assert {"`0`", "`1`", "`2`"} <= rows


# ---------------------------------------------------------------- (b) fixtures.md fields


def spec_schema(name: str) -> dict[str, Any]:
    """``components/schemas/<name>`` of the Craftkit spec, read here with plain yaml."""
    document = yaml.safe_load(SPECS["craftkit"].read_text(encoding="utf-8"))

    def deref(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = document
            for token in node["$ref"].removeprefix("#/").split("/"):
                target = target[token]
            node = target
        return node

    schema: dict[str, Any] = deref(document["components"]["schemas"][name])
    schema["properties"] = {k: deref(v) for k, v in schema["properties"].items()}
    if name == "SignatureRequest":
        recipients = schema["properties"]["recipients"]
        schema["properties"]["recipients"] = {**recipients, "items": deref(recipients["items"])}
    return schema


REQUEST = spec_schema("SignatureRequest")
RECIPIENT = REQUEST["properties"]["recipients"]["items"]

FIRMA_FORMAT_KEYS = {
    "api",
    "workspaces",
    "id",
    "api_keys",
    "jwts",
    "jwt_id",
    "workspace",
    "signing_request_id",
    "revoked_at",
    "rate_limits",
    "write_per_minute",
}
CRAFTKIT_FORMAT_KEYS = {"api", "projects", "id", "api_keys", "signature_requests", "project"}
CRAFTKIT_FORMAT_KEYS |= {"mock", "on_cancel", "provider_error", "upstream_locked"}


def keys_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from keys_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys_in(item)


def bundled_keys(api: str) -> set[str]:
    return set(keys_in(yaml.safe_load(FIXTURES[api].read_text(encoding="utf-8"))))


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, id=f"SignatureRequest.{n}") for n in REQUEST["properties"]]
    + [pytest.param(n, id=f"SignatureRecipient.{n}") for n in RECIPIENT["properties"]],
)
def test_every_spec_field_is_documented(name: str) -> None:
    assert f"`{name}`" in page("fixtures.md"), f"docs/fixtures.md does not name `{name}`"


def test_every_spec_enum_value_is_documented() -> None:
    text = page("fixtures.md")
    values = (
        REQUEST["properties"]["status"]["enum"] + RECIPIENT["properties"]["designation"]["enum"]
    )
    missing = [v for v in values if f"`{v}`" not in text]
    assert not missing, f"docs/fixtures.md does not list {missing}"


@pytest.mark.parametrize(
    ("api", "keys"),
    [
        pytest.param("craftkit", CRAFTKIT_FORMAT_KEYS | bundled_keys("craftkit"), id="craftkit"),
        pytest.param("firma", FIRMA_FORMAT_KEYS | bundled_keys("firma"), id="firma"),
    ],
)
def test_every_fixture_key_is_documented(api: str, keys: set[str]) -> None:
    text = page("fixtures.md")
    # A key is named alone (`jwts`) or as the last step of its path (`jwts[].jwt_id`).
    named = set(re.findall(r"`(?:[\w\[\]]+\.)*(\w+)[`:]", text))
    missing = sorted(keys - named)
    assert not missing, f"docs/fixtures.md does not name these {api} fixture keys: {missing}"


# ---------------------------------------------------------------- (c) fixtures.md examples

# Every ```yaml example that starts with `api:` is a whole fixture file: both the mock
# and the harness must accept it. A fence tag (```yaml <tag>) is refused below, so no
# example can hide from these tests.


@dataclass(frozen=True)
class Example:
    number: int
    tag: str
    api: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.number}-{self.api}" + (f"-{self.tag}" if self.tag else "")

    def environ(self) -> dict[str, str]:
        """A value for every ``${VAR}`` the example uses, valid as a key of its API."""
        prefix = "ck_test_" if self.api == "craftkit" else ""
        return {v: prefix + v.lower() for v in re.findall(r"\$\{(\w+)", self.text)}

    def write(self, folder: Path) -> Path:
        path = folder / f"example-{self.number}.yaml"
        path.write_text(self.text, encoding="utf-8")
        return path


def examples() -> list[Example]:
    """Every fenced YAML block of docs/fixtures.md that is a whole fixture file."""
    found = []
    fences = re.finditer(r"^```yaml([^\n]*)\n(.*?)^```", page("fixtures.md"), re.M | re.S)
    for number, fence in enumerate(fences, start=1):
        body = fence.group(2)
        lines = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("#")]
        if lines and lines[0].startswith("api:"):
            api = lines[0].removeprefix("api:").split("#")[0].strip()
            found.append(Example(number, fence.group(1).strip(), api, body))
    return found


EXAMPLES = examples()


def is_minimal(example: Example) -> bool:
    """Whether a record of the example leaves out a field the spec requires."""
    data = yaml.safe_load(example.text)
    if example.api == "craftkit":
        return any(set(REQUEST["required"]) - set(r) for r in data["signature_requests"])
    return any("signing_request_id" not in j for j in data["jwts"])


def test_each_api_has_a_full_and_a_minimal_example() -> None:
    full = {e.api for e in EXAMPLES if not e.tag and not is_minimal(e)}
    minimal = {e.api for e in EXAMPLES if is_minimal(e)}
    assert full == {"craftkit", "firma"}, "docs/fixtures.md: a full example per API"
    assert minimal == {"craftkit", "firma"}, "docs/fixtures.md: a minimal QA example per API"
    tagged = {e.tag for e in EXAMPLES} - {""}
    assert not tagged, f"fence tags {tagged} would hide examples from these tests"


@pytest.mark.parametrize("example", [pytest.param(e, id=e.id) for e in EXAMPLES])
def test_the_mock_accepts_the_example(example: Example, tmp_path: Path) -> None:
    path = example.write(tmp_path)
    app = create_app(Settings(fixtures=(path,), environ=example.environ()))
    served = {api.name: api.describe() for api in app.apis}
    assert served[example.api].startswith(str(path)), "the mock serves the example, not a default"


@pytest.mark.parametrize("example", [pytest.param(e, id=e.id) for e in EXAMPLES])
def test_the_harness_reads_the_example(example: Example, tmp_path: Path) -> None:
    world = read_world(example.write(tmp_path), api=example.api, environ=example.environ())
    listed = yaml.safe_load(example.text)[
        "signature_requests" if example.api == "craftkit" else "jwts"
    ]
    assert len(world.resources) == len(listed)
    assert set(world.keys()) >= set(example.environ().values()), "keys read from ${VAR}"


# ---------------------------------------------------------------- (d) behaviour.md answers

CRAFTKIT_ERROR_CODES = {"unauthorized", "invalid_request", "not_found", "conflict"}
CRAFTKIT_ERROR_CODES |= {"signature_provider_error", *CRAFTKIT_CODES.values()}
# Every error status the Firma contract documents, and the mock's 405.
FIRMA_STATUSES = sorted({s for s in spec_responses("firma") if s >= 400} | {405})


@pytest.mark.parametrize("code", sorted(CRAFTKIT_ERROR_CODES))
def test_every_craftkit_error_code_is_documented(code: str) -> None:
    assert f"`{code}`" in page("behaviour.md"), f"docs/behaviour.md does not name `{code}`"


@pytest.mark.parametrize("status", FIRMA_STATUSES)
def test_every_firma_error_phrase_is_documented(status: int) -> None:
    phrase = json_body(firma_error(status).body)["error"]
    assert f"`{phrase}`" in page("behaviour.md"), f"docs/behaviour.md lacks {status} `{phrase}`"


def json_body(raw: bytes | memoryview) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(bytes(raw))
    return body


RATE_LIMITED = """\
api: firma
workspaces: [{id: ws_a, api_keys: [k_a]}]
jwts: []
rate_limits: {write_per_minute: 1}
"""
UNKNOWN = "00000000-0000-4000-8000-000000000000"
ClientFor = Callable[[MockApp], AbstractAsyncContextManager[ContractClient]]


@pytest.mark.anyio
async def test_firma_phrases_and_messages_the_mock_sends_are_documented(
    mock: ContractClient, make_app: AppFactory, client_for: ClientFor, tmp_path: Path
) -> None:
    active = jwts(revoked_at=None)[0]["jwt_id"]
    revoked = next(j for j in jwts() if j["revoked_at"] is not None)["jwt_id"]
    answers = [
        await mock.revoke({"jwt_id": active}, key=None),
        await mock.revoke({"jwt_id": "not-a-uuid"}),
        await mock.revoke({"jwt_id": UNKNOWN}),
        await mock.revoke({"jwt_id": revoked}),
        await mock.revoke({"jwt_id": active}),
    ]
    fixture = tmp_path / "limited.yaml"
    fixture.write_text(RATE_LIMITED, encoding="utf-8")
    async with client_for(make_app(fixtures=(fixture,))) as limited:
        for _ in range(2):
            answers.append(await limited.revoke({"jwt_id": UNKNOWN}, key="k_a"))
    assert [a.status_code for a in answers] == [401, 400, 404, 400, 200, 404, 429]
    text = page("behaviour.md")
    for answer in answers:
        body = answer.json()
        for field in ("error", "message"):
            if field in body:
                assert f"`{body[field]}`" in text or f'"{body[field]}"' in text, (
                    f"{answer.status_code} {field} {body[field]!r} is not in docs/behaviour.md"
                )


@pytest.mark.anyio
async def test_craftkit_codes_and_messages_the_mock_sends_are_documented(
    mock: ContractClient,
) -> None:
    def record(**match: Any) -> str:
        return str(next(r for r in signature_requests(**match) if "mock" not in r)["id"])

    def simulated(on_cancel: str) -> str:
        return str(next(r for r in signature_requests(mock={"on_cancel": on_cancel}))["id"])

    answers = [
        await mock.cancel(record(status="sent"), key=None),
        await mock.cancel(record(status="sent"), key="sk_live_not_craftkit"),
        await mock.cancel(record(status="sent"), json={"reason": 42}),
        await mock.cancel(UNKNOWN),
        await mock.cancel(record(status="completed", project="proj_acme")),
        await mock.cancel(simulated("upstream_locked")),
        await mock.cancel(simulated("provider_error")),
    ]
    assert {a.status_code for a in answers} == {401, 400, 404, 409, 502}
    text = page("behaviour.md")
    for answer in answers:
        error = answer.json()["error"]
        assert f"`{error['code']}`" in text
        message = re.sub(r"already \w+ and", "already <status> and", error["message"])
        assert f"`{message}`" in text, f"{answer.status_code} message {message!r} not documented"


# ---------------------------------------------------------------- the pages stand alone

LOCAL_HOSTS = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$|(^|\.)example$|\.example\.")


@pytest.mark.parametrize("name", PAGES)
def test_no_reference_outside_the_repository(name: str) -> None:
    text = page(name)
    hosts = re.findall(r"https?://([^/\s`)\"'<>]+)", text)
    outside = sorted({h for h in hosts if not LOCAL_HOSTS.search(h)})
    assert not outside, f"{name} links outside the repository: {outside}"


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rules) gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("name", PAGES)
def test_links_between_pages_resolve(name: str) -> None:
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md|)(?:#([\w-]+))?\)", page(name)):
        linked = target or name
        assert (DOCS / linked).is_file(), f"{name} links to missing {linked}"
        if anchor:
            headings = re.findall(r"^#+ +(.+?)\s*$", page(linked), flags=re.MULTILINE)
            assert anchor in {slug(h) for h in headings}, f"{name}: no #{anchor} in {linked}"
