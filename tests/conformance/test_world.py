"""The harness's own fixture reader: lax about what it does not use, exact about what it does."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance import world
from conformance.apis.craftkit import Craftkit
from conformance.errors import FixtureError
from conformance.world import KEY_PREFIXES, State, read_world
from mock_server import FixtureError as MockFixtureError
from mock_server import Settings as MockSettings
from mock_server import create_app
from mock_server.craftkit import signatures as mock_signatures
from mock_server.craftkit import world as mock_craftkit_world
from mock_server.firma import world as mock_firma_world
from mock_server.fixtures import unsendable_key as mock_unsendable_key
from mock_server.ids import canonical_uuid
from tests.conftest import NOT_UUID_STRINGS, ROOT

STAGING = """\
api: craftkit
projects:
  - id: proj_staging
    api_keys: ["${STAGING_KEY}"]
  - id: proj_other
    api_keys: [ck_test_other]
signature_requests:
  - {id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_staging, status: sent}
  - {id: 1c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_other, status: completed}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fixture.yaml"
    path.write_text(text)
    return path


def test_a_staging_fixture_needs_only_ids_tenants_states_and_keys(tmp_path: Path) -> None:
    world = read_world(write(tmp_path, STAGING), environ={"STAGING_KEY": "ck_live_secret"})
    assert world.tenants[0].keys == ("ck_live_secret",)
    assert [r.state for r in world.resources] == [State.OPEN, State.CLOSED]
    assert world.key_names == {"ck_live_secret": "$STAGING_KEY"}, "env keys are shown as $VAR"


def test_the_bundled_fixtures_read_as_the_mock_serves_them() -> None:
    craftkit = read_world(ROOT / "fixtures/craftkit.yaml", environ={})
    states = [r.state for r in craftkit.resources]
    assert states.count(State.LOCKED) == 1 and states.count(State.FAILING) == 1
    firma = read_world(ROOT / "fixtures/firma.yaml", environ={})
    assert firma.write_per_minute == 120
    assert {r.state for r in firma.resources} == {State.OPEN, State.CLOSED}


def refusals(path: Path) -> tuple[list[str], list[str]]:
    """What the harness's reader and the mock each say of the fixture file ``path``: both
    must refuse it."""
    with pytest.raises(FixtureError) as caught:
        read_world(path, environ={})
    with pytest.raises(MockFixtureError) as refused:
        create_app(MockSettings(fixtures=(path,), environ={}))
    return caught.value.problems, refused.value.problems


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        pytest.param(
            STAGING,
            {},
            "api_keys[0]: environment variable STAGING_KEY is not set; export",
            id="unset-env-key",
        ),
        pytest.param(
            STAGING.replace("project: proj_other", "project: proj_x"),
            {"STAGING_KEY": "k"},
            "signature_requests[1].project: 'proj_x' is not a listed project",
            id="unknown-tenant",
        ),
        pytest.param(
            STAGING.replace("status: sent", "status: canceled"),
            {"STAGING_KEY": "k"},
            "signature_requests[0].status: 'canceled' is not one of",
            id="bad-status",
        ),
        pytest.param(
            STAGING.replace("api: craftkit", "api: docusign"),
            {},
            "api: 'docusign' is not one of",
            id="bad-api",
        ),
        pytest.param(
            "api: firma\nworkspaces: [{id: ws, api_keys: [k]}]\n"
            "jwts: [{jwt_id: x, workspace: ws}]\n",
            {},
            "jwts[0].revoked_at: missing; null for an active JWT",
            id="firma-no-revoked-at",
        ),
        pytest.param(
            "- just a list\n",
            {},
            ": a fixture is a YAML mapping starting with 'api: craftkit' or 'api: firma'; "
            "this file holds a list",
            id="not-a-mapping",
        ),
        pytest.param(
            "# only a comment\n",
            {},
            ": a fixture is a YAML mapping starting with 'api: craftkit' or 'api: firma'; "
            "this file is empty",
            id="empty",
        ),
        pytest.param(
            "projects: []\n",
            {},
            ": api: missing; add 'api: craftkit' or 'api: firma' at the top of the file",
            id="no-api",
        ),
        pytest.param(
            "api: craftkit\nprojects: [\n",
            {},
            ": line 3, column 1: not valid YAML: did not find expected node content (fix the "
            "syntax there)",
            id="yaml-syntax",
        ),
        pytest.param(
            "api: craftkit\nprojects: [{id: proj_\u00e9\x00}]\n",
            {},
            ": line 2, column 23: not valid YAML: unacceptable character #x0000: control "
            "characters are not allowed (fix the syntax there)",
            id="yaml-control-character",
        ),
        pytest.param(
            STAGING.replace("  - id: proj_other", "  - proj_other\n  - id: proj_o"),
            {"STAGING_KEY": "k"},
            ": projects[1]: expected a project (a mapping: {id: ..., api_keys: [...]}), got a "
            "string ('proj_other')",
            id="tenant-not-a-mapping",
        ),
        pytest.param(
            "api: firma\nworkspaces: {id: ws}\n",
            {},
            ": workspaces: expected a list of workspaces (one '- ' item each, with its id and "
            "api_keys), got a mapping",
            id="tenants-not-a-list",
        ),
        pytest.param(
            STAGING.split("signature_requests:")[0] + "signature_requests: {id: x}\n",
            {"STAGING_KEY": "k"},
            ": signature_requests: expected a list of records (one '- ' item each), got a mapping",
            id="records-not-a-list",
        ),
        pytest.param(
            STAGING + "  - 2c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c\n",
            {"STAGING_KEY": "k"},
            ": signature_requests[2]: expected a record (a mapping: {id: ..., project: ...}), "
            "got a string ('2c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c')",
            id="record-not-a-mapping",
        ),
        pytest.param(
            STAGING + "  - {id: 12345, project: proj_other, status: sent}\n",
            {"STAGING_KEY": "k"},
            ": signature_requests[2].id: a number (12345), expected a string: quote it",
            id="id-not-a-string",
        ),
        pytest.param(
            STAGING + "  - {id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_other, "
            "status: sent}\n",
            {"STAGING_KEY": "ck_test_k"},
            ": signature_requests[2].id: '0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c' is listed twice; "
            "ids must be unique",
            id="id-twice",
        ),
        pytest.param(
            STAGING.replace("project: proj_other, ", ""),
            {"STAGING_KEY": "k"},
            ": signature_requests[1].project: missing; name one of the listed projects "
            "(listed: proj_other, proj_staging)",
            id="no-tenant",
        ),
        pytest.param(
            STAGING.replace(", status: completed", ""),
            {"STAGING_KEY": "k"},
            ": signature_requests[1].status: missing; write one of cancelled, completed,",
            id="no-status",
        ),
        pytest.param(
            "api: firma\nworkspaces: [{id: ws, api_keys: [k]}]\nrate_limits: "
            "{write_per_minute: true}\n",
            {},
            ": rate_limits.write_per_minute: a boolean (true) must be a positive integer",
            id="per-minute-boolean",
        ),
    ],
)
def test_a_bad_fixture_is_refused_with_place_and_fix(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FixtureError) as caught:
        read_world(path, environ=environ)
    assert any(str(path) in p and expected in p for p in caught.value.problems), (
        caught.value.problems
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(STAGING.replace("proj_other", "proj_\xe9").encode("latin-1"), id="latin-1"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", id="binary"),
    ],
)
def test_a_fixture_that_is_not_utf8_is_refused_naming_the_file(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "fixture.yaml"
    path.write_bytes(content)
    with pytest.raises(FixtureError) as caught:
        read_world(path, environ={"STAGING_KEY": "k"})
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}: not UTF-8 text (byte 0x"), problem
    assert "save the file as UTF-8" in problem


def test_a_yaml_error_names_the_file_not_a_unicode_string(tmp_path: Path) -> None:
    for text in ("api: craftkit\nprojects: [\n", "a: b\x00\n", ANCHORED + "    id: x\n"):
        path = write(tmp_path, text)
        with pytest.raises(FixtureError) as caught:
            read_world(path, environ={})
        [problem] = caught.value.problems
        assert problem.startswith(f"{path}: line "), problem
        assert "<unicode string>" not in problem and "\n" not in problem, problem


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        pytest.param("[]", "an empty list", id="empty"),
        pytest.param("ck_test_other", "a string ('ck_test_other'), not a list (one '- ' item "
                     "per key)", id="a-string"),
        pytest.param("null", "missing", id="null"),
    ],
)  # fmt: skip
def test_a_tenant_without_keys_is_one_problem_not_one_per_record(
    tmp_path: Path, keys: str, said: str
) -> None:
    """Its records name it: they are not said to name an unknown tenant as well."""
    text = STAGING.replace("api_keys: [ck_test_other]", f"api_keys: {keys}")
    with pytest.raises(FixtureError) as caught:
        read_world(write(tmp_path, text), environ={"STAGING_KEY": "ck_test_staging"})
    [problem] = caught.value.problems
    assert problem.endswith(
        f': projects[1].api_keys: {said}; list at least one key (use "${{VAR}}" to read it '
        "from the environment)"
    ), problem


def test_a_record_of_a_tenant_not_listed_is_still_named(tmp_path: Path) -> None:
    text = STAGING.replace("project: proj_other", "project: proj_nobody")
    with pytest.raises(FixtureError) as caught:
        read_world(write(tmp_path, text), environ={"STAGING_KEY": "ck_test_staging"})
    [problem] = caught.value.problems
    assert "signature_requests[1].project: 'proj_nobody' is not a listed project" in problem


def test_variables_come_from_the_environ_given_never_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGING_KEY", "ck_live_from_the_process")
    with pytest.raises(FixtureError, match="STAGING_KEY is not set"):
        read_world(write(tmp_path, STAGING), environ={})


def test_a_fixture_for_the_other_api_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="describes 'craftkit', but the run checks 'firma'"):
        read_world(write(tmp_path, STAGING), api="firma", environ={"STAGING_KEY": "k"})


ANCHORED = """\
api: craftkit
projects:
  - id: proj_staging
    api_keys: &keys [ck_test_one, ck_live_one]
  - {id: proj_other, api_keys: [ck_test_other]}
signature_requests:
  - &open {id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c, project: proj_staging, status: sent,
           createdAt: 2026-11-10T09:07:00Z}
  - <<: *open
    id: 1c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c
    status: completed
  - <<: [{status: expired}, *open]
    id: 2c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c
"""


def test_anchors_and_merge_keys_work_and_explicit_keys_override(tmp_path: Path) -> None:
    world = read_world(write(tmp_path, ANCHORED), environ={})
    assert world.tenants[0].keys == ("ck_test_one", "ck_live_one")
    assert [(r.id[:1], r.tenant, r.state) for r in world.resources] == [
        ("0", "proj_staging", State.OPEN),
        ("1", "proj_staging", State.CLOSED),
        ("2", "proj_staging", State.CLOSED),
    ]
    assert world.resources[1].record["createdAt"] == "2026-11-10T09:07:00Z", "dates stay strings"


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        pytest.param(
            "    status: sent\n    status: viewed\n",
            "duplicate key 'status'",
            id="key-twice-beside-a-merge",
        ),
        pytest.param("    <<: *open\n", "duplicate key '<<'", id="merge-key-twice"),
    ],
)
def test_a_key_written_twice_is_refused(tmp_path: Path, tail: str, expected: str) -> None:
    with pytest.raises(FixtureError, match=re.escape(expected)):
        read_world(write(tmp_path, ANCHORED + tail), environ={})


DOCUMENTED = """\
api: craftkit
projects:
  - id: proj_qa
    api_keys: [ck_test_qa]
signature_requests:
  - id: 0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c
    project: proj_qa
    name: NDA
    createdAt: 2026-11-01T09:00:00Z
    status: sent
    # the same key again, on line 12:
    status: viewed
"""


def test_the_yaml_rules_docs_fixtures_md_states_are_what_the_reader_does(
    tmp_path: Path,
) -> None:
    page = (ROOT / "docs/fixtures.md").read_text(encoding="utf-8")
    rules = [" ".join(rule.split()) for rule in page.split("## YAML rules")[1].split("\n- ")]
    duplicates = next(rule for rule in rules if rule.startswith("**Duplicate keys"))
    assert "by both" in duplicates, duplicates
    match = re.search(r"`(world\.yaml: line 12, column 5: [^`]*)`", duplicates)
    assert match is not None, duplicates
    path = tmp_path / "world.yaml"
    path.write_text(DOCUMENTED)
    with pytest.raises(FixtureError) as caught:
        read_world(path, environ={})
    assert caught.value.problems == [match.group(1).replace("world.yaml", str(path), 1)]
    timestamps = next(rule for rule in rules if rule.startswith("**Timestamps"))
    assert "by both" in timestamps and "into a date" not in timestamps, timestamps
    path.write_text(DOCUMENTED.split("    # the same")[0])
    [record] = read_world(path, environ={}).resources
    assert record.record["createdAt"] == "2026-11-01T09:00:00Z"


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_fixtures_and_specs_are_parsed_by_libyaml() -> None:
    from conformance import responses, world

    assert issubclass(world._Loader, yaml.CSafeLoader)
    assert issubclass(world.YAML_LOADER, yaml.CSafeLoader)
    assert responses.YAML_LOADER is world.YAML_LOADER, "specs: the same loader"


# -- what the mock refuses, the harness refuses: the same file describes both worlds

CRAFTKIT_KEYS = """\
api: craftkit
projects:
  - {id: proj_a, api_keys: [%s]}
  - {id: proj_b, api_keys: [%s]}
signature_requests: []
"""
FIRMA_KEYS = CRAFTKIT_KEYS.replace("craftkit", "firma").replace("projects", "workspaces")
FIRMA_KEYS = FIRMA_KEYS.replace("proj_", "ws_").replace("signature_requests", "jwts")

# (fixture, environ, the harness's line after the file name, the mock's after its place)
KEY_REFUSALS = [
    pytest.param(
        CRAFTKIT_KEYS % ("ck_test_a", "pk_b"),
        {},
        "projects[1].api_keys[0]: 'pk_b' must start with ck_live_ or ck_test_ (Craftkit "
        "refuses other keys); list the project's Craftkit API key",
        "'pk_b' must start with ck_live_ or ck_test_ (Craftkit refuses other keys)",
        id="craftkit-prefix",
    ),
    pytest.param(
        CRAFTKIT_KEYS % ("ck_test_a", "'${B_KEY}'"),
        {"B_KEY": "sk_secret_b"},
        "projects[1].api_keys[0]: the key in $B_KEY must start with ck_live_ or ck_test_ "
        "(Craftkit refuses other keys); list the project's Craftkit API key",
        "'sk_secret_b' must start with ck_live_ or ck_test_",
        id="craftkit-prefix-of-a-secret",
    ),
    pytest.param(
        CRAFTKIT_KEYS % ("ck_test_a", "'ck_test_b c'"),
        {},
        "projects[1].api_keys[0]: 'ck_test_b c': character 10 (' ') is a space, so no request "
        "can send this key; use letters, digits and punctuation only (no spaces)",
        "character 10 (' ') is a space, so no request can send this key",
        id="space",
    ),
    pytest.param(
        FIRMA_KEYS % ("firma_a", "'${B_KEY}'"),
        {"B_KEY": "firma_b\n"},
        "workspaces[1].api_keys[0]: the key in $B_KEY: character 8 ('\\n') is a control "
        "character, so no request can send this key; use letters, digits and punctuation only",
        "character 8 ('\\n') is a control character, so no request can send this key",
        id="newline-of-a-secret",
    ),
    pytest.param(
        FIRMA_KEYS % ("firma_a", "firma_cl\u00e9"),
        {},
        "workspaces[1].api_keys[0]: 'firma_cl\u00e9': character 9 ('\u00e9') is not ASCII, so "
        "no request can send this key; use letters, digits and punctuation only",
        "character 9 ('\u00e9') is not ASCII, so no request can send this key",
        id="not-ascii",
    ),
    pytest.param(
        CRAFTKIT_KEYS % ("ck_test_shared", "ck_test_shared"),
        {},
        "projects[1].api_keys[0]: 'ck_test_shared' already belongs to project proj_a (a key has "
        "one project); list each key once, under the project it acts for",
        "'ck_test_shared' already belongs to project proj_a (a key has one project)",
        id="key-of-two-projects",
    ),
    pytest.param(
        FIRMA_KEYS % ("'${A_KEY}'", "'${B_KEY}'"),
        {"A_KEY": "firma_same", "B_KEY": "firma_same"},
        "workspaces[1].api_keys[0]: the key in $B_KEY already belongs to workspace ws_a (a key "
        "has one workspace); list each key once, under the workspace it acts for",
        "'firma_same' already belongs to workspace ws_a (a key has one workspace)",
        id="key-of-two-workspaces",
    ),
    pytest.param(
        FIRMA_KEYS % ("firma_a, firma_a", "firma_b"),
        {},
        "workspaces[0].api_keys[1]: 'firma_a' already belongs to workspace ws_a (a key has one "
        "workspace); list each key once, under the workspace it acts for",
        "'firma_a' already belongs to workspace ws_a",
        id="key-twice-in-a-workspace",
    ),
]


@pytest.mark.parametrize(("text", "environ", "harness", "mock"), KEY_REFUSALS)
def test_a_key_the_mock_refuses_is_refused_before_the_run(
    tmp_path: Path, text: str, environ: dict[str, str], harness: str, mock: str
) -> None:
    """A key the target must both take and refuse (no prefix), that no request can carry, or
    that acts for two tenants would give the checks expectations no target can meet."""
    path = write(tmp_path, text)
    with pytest.raises(FixtureError) as caught:
        read_world(path, environ=environ)
    assert caught.value.problems == [f"{path}: {harness}"]
    for variable, value in environ.items():
        if variable == "B_KEY":
            assert value not in str(caught.value), "a key from the environment is a secret"


@pytest.mark.parametrize(("text", "environ", "harness", "mock"), KEY_REFUSALS)
def test_the_mock_refuses_the_same_keys(
    tmp_path: Path, text: str, environ: dict[str, str], harness: str, mock: str
) -> None:
    """The rules the harness mirrors are the mock's (the two never import each other)."""
    path = write(tmp_path, text)
    with pytest.raises(MockFixtureError) as caught:
        create_app(MockSettings(fixtures=(path,), environ=environ))
    [problem] = caught.value.problems
    tenant, field = harness.split(":")[0].split(".", 1)  # projects[1], api_keys[0]
    assert re.search(rf"{re.escape(tenant)} \(id \w+\)\.{re.escape(field)}: ", problem), problem
    assert mock in problem, problem


def test_the_key_rules_are_the_mocks() -> None:
    assert KEY_PREFIXES["craftkit"] == mock_craftkit_world.KEY_PREFIXES
    assert KEY_PREFIXES["craftkit"] == Craftkit.KEY_PREFIXES, "the checks' prefix rule"
    samples = [chr(c) for c in range(0x80)] + ["\u00e9", "\u00a0", "\u3000", "\U0001f511"]
    for char in samples:
        key = f"ck_test_{char}x"
        assert world._unsendable_key(key) == mock_unsendable_key(key), repr(char)


LOWER, UPPER = "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c", "0C3F5A8E-2B7D-4C1E-9A6F-1D2E3F4A5B6C"
CASE_REFUSALS = [
    pytest.param(
        "api: craftkit\nprojects: [{id: proj_a, api_keys: [ck_test_a]}]\nsignature_requests:\n"
        f"  - {{id: {LOWER}, project: proj_a, status: sent}}\n"
        f"  - {{id: {UPPER}, project: proj_a, status: completed}}\n",
        f"signature_requests[1].id: '{UPPER}' is '{LOWER}' (signature_requests[0]) in another "
        "letter case: a uuid names one resource in any case; list it once",
        "signature_requests[1] (id ",
        ".id: duplicate id (also signature_requests[0])",
        id="craftkit",
    ),
    pytest.param(
        "api: firma\nworkspaces: [{id: ws_a, api_keys: [firma_a]}]\njwts:\n"
        f"  - {{jwt_id: {LOWER.replace('c', 'C', 1)}, workspace: ws_a, revoked_at: null}}\n"
        f"  - {{jwt_id: {LOWER}, workspace: ws_a, revoked_at: '2026-11-03T14:20:00Z'}}\n",
        f"jwts[1].jwt_id: '{LOWER}' is '{LOWER.replace('c', 'C', 1)}' (jwts[0]) in another "
        "letter case: a uuid names one resource in any case; list it once",
        "jwts[1] (jwt_id ",
        ".jwt_id: duplicate jwt_id (also jwts[0])",
        id="firma",
    ),
]


@pytest.mark.parametrize(("text", "harness", "mock_place", "mock"), CASE_REFUSALS)
def test_ids_differing_only_in_case_are_one_resource_listed_twice(
    tmp_path: Path, text: str, harness: str, mock_place: str, mock: str
) -> None:
    """Targets compare uuids in any case (docs/behaviour.md): two records would be one, with
    two states the harness would expect at once."""
    path = write(tmp_path, text)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: {harness}"]
    [problem] = mock_said
    assert mock_place in problem and problem.endswith(mock), problem


@pytest.mark.parametrize(
    ("text", "harness", "mock"),
    [
        pytest.param(
            CRAFTKIT_KEYS.replace("proj_b", "proj_a") % ("ck_test_a", "ck_test_b"),
            "projects[1].id: duplicate project id 'proj_a' (also projects[0]); list each "
            "project once, with all its api_keys",
            "projects[1] (id proj_a).id: duplicate project id (each project once)",
            id="project",
        ),
        pytest.param(
            FIRMA_KEYS.replace("ws_b", "ws_a") % ("firma_a", "firma_b"),
            "workspaces[1].id: duplicate workspace id 'ws_a' (also workspaces[0]); list each "
            "workspace once, with all its api_keys",
            "workspaces[1] (id ws_a).id: duplicate workspace id (each workspace once)",
            id="workspace",
        ),
    ],
)
def test_a_tenant_listed_twice_is_refused_as_the_mock_refuses_it(
    tmp_path: Path, text: str, harness: str, mock: str
) -> None:
    """Records name their tenant by id: the harness took the second entry for another tenant
    (its first key for the isolation check) of the one a target knows."""
    path = write(tmp_path, text)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: {harness}"]
    assert mock_said == [f"{path}: {mock}"]


NOT_UUIDS = [
    pytest.param("sr_1", id="a-name"),
    pytest.param(LOWER.replace("-", ""), id="no-hyphens"),
    *(pytest.param(spell(LOWER), id=name) for name, spell in NOT_UUID_STRINGS),
]


@pytest.mark.parametrize("api", ["craftkit", "firma"])
@pytest.mark.parametrize("rid", NOT_UUIDS)
def test_an_id_that_is_not_a_uuid_is_refused_as_the_mock_refuses_it(
    tmp_path: Path, api: str, rid: str
) -> None:
    """Targets name resources by uuid (docs/behaviour.md): no request finds a record listed
    under any other id, yet the harness expected its cancel or revoke to answer."""
    if api == "craftkit":
        records, field, base = "signature_requests", "id", CRAFTKIT_KEYS
        record = f"{{id: {rid!r}, project: proj_a, status: sent}}"
    else:
        records, field, base = "jwts", "jwt_id", FIRMA_KEYS
        record = f"{{jwt_id: {rid!r}, workspace: ws_a, revoked_at: null}}"
    text = base % ("ck_test_a", "ck_test_b")
    path = write(tmp_path, text.replace(f"{records}: []", f"{records}: [{record}]"))
    expected = f"{records}[0].{field}: {rid!r} is not a valid uuid (write it like {LOWER})"
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: {expected}"]
    [problem] = mock_said
    assert problem.startswith(f"{path}: {records}[0] (") and problem.endswith(
        expected.split(": ", 1)[1]
    ), problem


@pytest.mark.parametrize(
    ("text", "harness", "mock"),
    [
        pytest.param(
            (CRAFTKIT_KEYS % ("ck_test_a", "ck_test_b")) + "rate_limits: {write_per_minute: 5}\n",
            "rate_limits: unknown field (a Firma one); remove it (the fields here: api, "
            "projects, signature_requests)",
            "rate_limits: unknown field; remove it (the fields here: api, projects, "
            "signature_requests)",
            id="rate-limits-in-craftkit",
        ),
        pytest.param(
            (CRAFTKIT_KEYS % ("ck_test_a", "ck_test_b")) + "jwts: []\n",
            "jwts: unknown field (a Firma one); remove it (the fields here: api, projects, "
            "signature_requests)",
            "jwts: unknown field; remove it (the fields here: api, projects, signature_requests)",
            id="jwts-in-craftkit",
        ),
        pytest.param(
            (FIRMA_KEYS % ("firma_a", "firma_b")) + "signature_requests: []\n",
            "signature_requests: unknown field (a Craftkit one); remove it (the fields here: "
            "api, workspaces, jwts, rate_limits)",
            "signature_requests: unknown field; remove it (the fields here: api, workspaces, "
            "jwts, rate_limits)",
            id="records-in-firma",
        ),
    ],
)
def test_the_other_apis_fields_are_refused_as_the_mock_refuses_them(
    tmp_path: Path, text: str, harness: str, mock: str
) -> None:
    """A Craftkit file's ``rate_limits`` set the probe's quota for an API that documents none,
    and the other API's records were silently not checked."""
    path = write(tmp_path, text)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: {harness}"]
    assert mock_said == [f"{path}: {mock}"]


def test_the_top_level_fields_are_the_mocks() -> None:
    for api, mock in (("craftkit", mock_craftkit_world), ("firma", mock_firma_world)):
        schema = mock._FORMAT.schema
        assert not isinstance(schema, bool)
        assert world._FIELDS[api] == tuple(schema["properties"]), api


REVOKED_AT = (
    "api: firma\nworkspaces: [{id: ws_a, api_keys: [firma_a]}]\n"
    f"jwts: [{{jwt_id: {LOWER}, workspace: ws_a, revoked_at: %s}}]\n"
)
WRITE_IT = 'write it like "2026-11-01T09:00:00Z"'


@pytest.mark.parametrize(
    ("value", "harness", "mock"),  # value as the YAML writes it
    [
        pytest.param(
            "false",
            f"a boolean (false) is not a string or null; {WRITE_IT} for a revoked JWT, or null "
            "for an active one",
            f"false is not a string or null; {WRITE_IT}, or null",
            id="false",
        ),
        pytest.param(
            "12",
            f"a number (12) is not a string or null; {WRITE_IT} for a revoked JWT, or null for "
            "an active one",
            f"12 is not a string or null; {WRITE_IT}, or null",
            id="number",
        ),
        *(
            pytest.param(
                f"'{value}'",
                f"{value!r} is not a valid date-time ({WRITE_IT}, or null for an active JWT)",
                f"{value!r} is not a valid date-time ({WRITE_IT})",
                id=name,
            )
            for name, value in [
                ("empty", ""),
                ("a-word", "yesterday"),
                ("a-date", "2026-11-03"),
                ("no-offset", "2026-11-03T14:20:00"),
                ("no-such-day", "2026-02-30T14:20:00Z"),
            ]
        ),
    ],
)
def test_a_revoked_at_neither_null_nor_a_date_time_is_refused_as_the_mock_refuses_it(
    tmp_path: Path, value: str, harness: str, mock: str
) -> None:
    """The harness took any ``revoked_at`` but null for a revoked JWT (``false`` too): it
    expected a revoke of an active one, which the target grants, to be refused."""
    path = write(tmp_path, REVOKED_AT % value)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: jwts[0].revoked_at: {harness}"]
    [problem] = mock_said
    assert problem == f"{path}: jwts[0] (jwt_id {LOWER}).revoked_at: {mock}", problem


DATE_TIMES = [
    "2026-11-03T14:20:00Z",
    "2026-11-03t14:20:00z",
    "2026-11-03T14:20:00.123456+01:00",
    "2026-11-03T14:20:00-23:59",
    "2026-11-03T14:20:00Z\n",
    "2024-02-29T00:00:00Z",
    "2026-11-03 14:20:00Z",
    " 2026-11-03T14:20:00Z",
    "2026-11-03T14:20:60Z",
    "2026-11-03T24:00:00Z",
    "2026-13-03T14:20:00Z",
    "2026-11-31T14:20:00Z",
    "2026-02-29T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2026-11-03T14:20:00+24:00",
    "2026-11-03T14:20:00.Z",
    "2026-11-03T14:20Z",
    "\uff12026-11-03T14:20:00Z",
]


def test_the_date_time_rule_is_the_mocks() -> None:
    checker = mock_firma_world._FORMAT.format_checker
    assert checker is not None
    for value in DATE_TIMES:
        assert world._is_date_time(value) == checker.conforms(value, "date-time"), repr(value)


@pytest.mark.parametrize(
    "text", [LOWER, UPPER, LOWER.replace("-", ""), *(s(LOWER) for _, s in NOT_UUID_STRINGS)]
)
def test_the_reader_folds_the_case_of_the_ids_the_mock_folds(text: str) -> None:
    """The mock folds the case of uuid strings only (mock_server/ids.py): so does the harness,
    and a non-uuid id is compared as written."""
    assert world._same_id(text) == (canonical_uuid(text) or text)
    assert world._same_id(text.upper()) == (canonical_uuid(text.upper()) or text.upper())


MOCK_BLOCK = (
    "api: craftkit\nprojects: [{id: proj_a, api_keys: [ck_test_a]}]\nsignature_requests:\n"
    f"  - {{id: {LOWER}, project: proj_a, %s mock: {{on_cancel: %s}}}}\n"
)
STATUSES = ", ".join(sorted(world._CRAFTKIT_CLOSED | world._CRAFTKIT_OPEN))


@pytest.mark.parametrize(
    ("text", "harness", "mock"),
    [
        pytest.param(
            MOCK_BLOCK % ("status: completed,", "upstream_locked"),
            "signature_requests[0].mock.on_cancel: 'upstream_locked' applies to sent or viewed "
            "requests only; this one is completed and answers 409 (remove the mock block, or "
            "set status to sent or viewed)",
            ".mock.on_cancel: 'upstream_locked' applies to sent or viewed requests only; this "
            "one is completed and answers 409 (remove the mock block, or set status to sent or "
            "viewed)",
            id="locked-on-completed",
        ),
        pytest.param(
            MOCK_BLOCK % ("status: cancelled,", "provider_error"),
            "signature_requests[0].mock.on_cancel: 'provider_error' applies to sent or viewed "
            "requests only; this one is cancelled and answers 409 (remove the mock block, or "
            "set status to sent or viewed)",
            ".mock.on_cancel: 'provider_error' applies to sent or viewed requests only; this "
            "one is cancelled and answers 409",
            id="failing-on-cancelled",
        ),
        pytest.param(
            MOCK_BLOCK % ("", "provider_error"),
            f"signature_requests[0].status: missing; write one of {STATUSES}",
            ".status: missing: add this field",
            id="no-status-beside-the-block",
        ),
    ],
)
def test_a_mock_block_on_a_record_it_cannot_act_on_is_refused(
    tmp_path: Path, text: str, harness: str, mock: str
) -> None:
    """A terminal request answers 409 before the signature service is asked: the block could
    never act, yet the harness would expect its 502 or its locked 409 (docs/fixtures.md)."""
    path = write(tmp_path, text)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: {harness}"]
    assert any(mock in problem for problem in mock_said), mock_said


def test_the_states_are_the_mocks() -> None:
    assert world._CRAFTKIT_OPEN == mock_signatures.IN_FLIGHT
    assert world._CRAFTKIT_CLOSED == mock_signatures.TERMINAL


T = "2026-11-12T10:00:00Z"
STATUS_RECORD = (
    "api: craftkit\nprojects: [{id: proj_a, api_keys: [ck_test_a]}]\nsignature_requests:\n"
    f"  - {{id: {LOWER}, project: proj_a, %s}}\n"
)
SIGNER = "{id: r1, firstName: Ada, email: ada@example.com, designation: Signer, %s}"
BARE = "{id: r3, email: bob@example.com}"  # no designation (a Signer), no signedAt, declinedAt
CC = "{id: r2, firstName: Cy, email: cy@example.com, designation: CC, %s}"


@pytest.mark.parametrize(
    ("fields", "harness"),
    [
        pytest.param(
            f"status: sent, completedAt: '{T}'",
            ".completedAt: a sent request has none (null until it is completed); remove it, "
            "or set status: completed",
            id="sent-completedAt",
        ),
        pytest.param(
            "status: viewed, signedDownloadUrl: https://api.craftkit.dev/x/download",
            ".signedDownloadUrl: a viewed request has none (null until it is completed: the "
            "signed PDF); remove it, or set status: completed",
            id="viewed-signedDownloadUrl",
        ),
        pytest.param(
            "status: completed, completedAt: null",
            ".completedAt: null, but a completed request has one (when its last Signer or "
            "Approver signed); write it, or leave the field out",
            id="completed-no-completedAt",
        ),
        pytest.param(
            "status: failed, errorMessage: null",
            ".errorMessage: null, but a failed request has one (what failed); write it, or "
            "leave the field out",
            id="failed-no-errorMessage",
        ),
        pytest.param(
            "status: expired, errorMessage: Expired.",
            ".errorMessage: an expired request has none (null unless it failed); remove it, or "
            "set status: failed",
            id="expired-errorMessage",
        ),
        pytest.param(
            f"status: completed, recipients: [{SIGNER % 'signedAt: null'}]",
            ".recipients[0].signedAt: null, but every Signer and Approver of a completed "
            "request signed; write when they signed, or leave the field out",
            id="completed-unsigned",
        ),
        pytest.param(
            f"status: sent, recipients: [{SIGNER % f'signedAt: {T!r}'}]",
            ".recipients[0].signedAt: a sent request has no signature yet (the first makes it "
            "viewed); remove it, or set status: viewed",
            id="sent-signed",
        ),
        pytest.param(
            f"status: viewed, recipients: [{SIGNER % f'signedAt: {T!r}'}]",
            ".recipients: every Signer and Approver has signed (signedAt), and the last "
            "signature completes a request, so it is not viewed; set status: completed, or "
            "null one signedAt",
            id="viewed-every-signature",
        ),
        pytest.param(
            f"status: declined, recipients: [{SIGNER % 'declinedAt: null'}]",
            ".recipients: no Signer or Approver declined (declinedAt), but a declined request "
            "has the one who did; write when they declined",
            id="declined-no-decline",
        ),
        pytest.param(
            f"status: cancelled, recipients: [{SIGNER % f'declinedAt: {T!r}'}]",
            ".recipients[0].declinedAt: a cancelled request has no decline (a decline makes it "
            "declined); remove it, or set status: declined",
            id="cancelled-declined",
        ),
        pytest.param(
            f"status: sent, recipients: [{SIGNER % 'order: 1'}, {CC % f'signedAt: {T!r}'}]",
            ".recipients[1].signedAt: a CC only receives copies and never signs; remove it, or "
            "make the recipient a Signer or Approver",
            id="cc-signed",
        ),
    ],
)
def test_a_field_its_status_contradicts_is_refused_as_the_mock_refuses_it(
    tmp_path: Path, fields: str, harness: str
) -> None:
    """A state no target reaches (the mock's events and cancel never make it): the harness
    would expect it of the target. Both refuse it, in the same words."""
    path = write(tmp_path, STATUS_RECORD % fields)
    harness_said, mock_said = refusals(path)
    assert harness_said == [f"{path}: signature_requests[0]{harness}"]
    assert mock_said == [f"{path}: signature_requests[0] (id {LOWER}){harness}"]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            f"status: cancelled, completedAt: '{T}', errorMessage: By the sender.", id="cancel-sets"
        ),
        *[
            pytest.param(f"status: {status}, completedAt: '{T}'{extra}", id=f"{status}-ended-at")
            for status, extra in (
                ("declined", f", recipients: [{SIGNER % f'declinedAt: {T!r}'}]"),
                ("expired", ""),
                ("failed", ", errorMessage: Provider down."),
            )
        ],
        pytest.param(
            f"status: viewed, recipients: [{SIGNER % f'signedAt: {T!r}'}, {BARE}]",
            id="partly-signed",
        ),
        pytest.param(
            f"status: completed, recipients: [{SIGNER % f'signedAt: {T!r}'}, {BARE}]",
            id="signature-not-given",
        ),
        pytest.param(
            f"status: declined, recipients: [{SIGNER % 'order: 1'}]", id="decline-not-given"
        ),
    ],
)
def test_what_a_status_allows_or_leaves_unsaid_is_read(tmp_path: Path, fields: str) -> None:
    """A field a status leaves open, or one the file does not give, contradicts nothing:
    for the harness, and for the mock."""
    path = write(tmp_path, STATUS_RECORD % fields)
    world_read = read_world(path, environ={})
    assert len(world_read.resources) == 1
    create_app(MockSettings(fixtures=(path,), environ={}))


_ABSENT = object()


def test_the_status_rules_are_the_mocks() -> None:
    """The harness's copy of what each status implies is the mock's, and reads every record
    as the mock does: the bundled ones, and each with one field or recipient's field given
    otherwise, under every status."""
    assert world._STATUS_RULES == mock_signatures.STATUS_RULES
    assert world._SIGNING == mock_signatures.SIGNING
    values = [None, T, "https://api.craftkit.dev/x", _ABSENT]
    records = []
    bundled = yaml.safe_load((ROOT / "fixtures/craftkit.yaml").read_text())["signature_requests"]
    for record in bundled:
        for status in mock_signatures.STATUSES:
            records.append({**record, "status": status})
            for name in ("completedAt", "signedDownloadUrl", "certificateUrl", "errorMessage"):
                records += [_with(record, status, (name,), value) for value in values]
            for n in range(len(record["recipients"])):
                for name in ("signedAt", "declinedAt"):
                    records += [_with(record, status, ("recipients", n, name), v) for v in values]
                for designation in ("Signer", "Approver", "CC", _ABSENT):
                    records.append(
                        _with(record, status, ("recipients", n, "designation"), designation)
                    )
        records.append({**record, "recipients": []})
    assert len(records) > 5000
    contradicted = 0
    for record in records:
        found = world._status_contradictions(record)
        assert found == mock_craftkit_world.status_contradictions(record), record
        contradicted += bool(found)
    assert 0 < contradicted < len(records), "the records hold both kinds"


def _with(record: dict[str, Any], status: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``record`` in ``status``, with the field at ``path`` set to ``value`` (or removed)."""
    changed = copy.deepcopy({**record, "status": status})
    *parents, last = path
    node = changed
    for part in parents:
        node = node[part]
    if value is _ABSENT:
        node.pop(last, None)
    else:
        node[last] = value
    return changed
