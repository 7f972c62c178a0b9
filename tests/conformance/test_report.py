"""Reports a person can act on, from small hand-built reports: folding by root cause, the
verdict line, the received body, the rerun line, SARIF, GitHub Actions output, HTML."""

from __future__ import annotations

import json
import re
import shlex
import typing
import xml.etree.ElementTree as ET
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.failures import Violation, excerpt, merge, normalize
from conformance.report import render_console, render_violation, write_reports
from conformance.report_github import escape_data, step_summary, workflow_commands
from conformance.report_html import render_html
from conformance.report_sarif import FINGERPRINT, sarif_log
from conformance.runner import PhaseResult, Report
from conformance.settings import _NOT_FLAGS, Settings
from tests.conftest import ROOT

FIXTURES = ROOT / "fixtures/craftkit.yaml"
OPERATION = "POST /v1/signatures/{id}/cancel"
IDS = (
    "83cb4bbe-b73d-548a-b4ae-d7de75b07165",
    "19729e93-692c-5afe-9f7a-8b915c925b4c",
    "02153342-fcf9-5f13-a2df-c00b448704c1",
)


def leak(rid: str, *, label: str = "another tenant's key", port: int = 8000) -> Violation:
    return Violation(
        "tenant_isolation",
        "Another tenant's key reaches a resource (expected 404).",
        f"Situation: {label}, naming {rid}\nExpected: 404\nReceived: 200",
        OPERATION,
        f"curl -sS -i -X POST http://127.0.0.1:{port}/v1/signatures/{rid}/cancel",
        body=excerpt(f'{{"id": "{rid}", "status": "cancelled"}}'.encode()),
        status=200,
        ids=(rid,),
    )


def settings(**changes: Any) -> Settings:
    base = Settings(api="craftkit", base_url="http://127.0.0.1:8000", fixtures=FIXTURES)
    return replace(base, **changes)


def report(violations: list[Violation], **changes: Any) -> Report:
    return Report(
        settings(**changes),
        violations=merge(violations),
        phases=[PhaseResult("contract", 40, 0.7, 0), PhaseResult("state", 48, 0.2, 2)],
        checks={"contract": ["not_a_server_error"], "state": ["tenant_isolation", "no_cascade"]},
        notes=["the fixture lists one tenant"],
    )


# -- folding by root cause


def test_one_cause_on_many_resources_is_one_block_with_its_count_and_ids() -> None:
    folded = merge([leak(IDS[0]), leak(IDS[1]), leak(IDS[2], label="another tenant's Bearer")])
    assert len(folded) == 1
    [v] = folded
    assert (v.occurrences, v.ids) == (3, IDS)
    assert v.situations == ("another tenant's Bearer, naming <id>",)
    block = render_violation(v)
    assert "(x3)" in block and f"Seen 3 times, on 3 ids: {', '.join(IDS)}" in block
    assert "Also: another tenant's Bearer, naming <id>" in block


def test_different_answers_are_different_causes() -> None:
    other = Violation(
        "tenant_isolation",
        "t",
        f"Situation: naming {IDS[1]}\nExpected: 404\nReceived: 409",
        OPERATION,
        "curl",
    )
    assert len(merge([leak(IDS[0]), other])) == 2


def test_the_detail_is_read_into_fields_and_explicit_fields_win() -> None:
    v = Violation(
        "keys_authenticate", "t", "Key of proj_acme sent as Bearer\nExpected: 404\nReceived: 401",
        OPERATION, "curl",
    )  # fmt: skip
    assert (v.situation, v.expected, v.received) == (
        "Key of proj_acme sent as Bearer",
        "404",
        "401",
    )
    given = Violation("x", "t", "Expected: a\nReceived: b", OPERATION, "", expected="c")
    assert (given.expected, given.received) == ("c", "")


def test_a_cause_folds_values_that_differ_per_resource() -> None:
    """unchanging_fields' expected value is each resource's own name: one cause anyway."""

    def renamed(rid: str, name: str) -> Violation:
        detail = f"name changed on cancel\nExpected: {name!r}\nReceived: 'x'"
        return Violation(
            "unchanging_fields",
            "t",
            detail,
            OPERATION,
            "",
            ids=(rid,),
            cause="name changed on cancel",
        )

    assert len(merge([renamed(IDS[0], "MSA"), renamed(IDS[1], "SOW")])) == 1
    uncaused = [
        replace(renamed(IDS[0], "MSA"), cause=""),
        replace(renamed(IDS[1], "SOW"), cause=""),
    ]
    assert len(merge(uncaused)) == 2


def test_fingerprints_ignore_ids_ports_and_times() -> None:
    first, second = leak(IDS[0], port=8000), leak(IDS[1], port=9999)
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint != replace(first, received="409").fingerprint
    assert normalize("at 2026-11-10T09:07:00.000Z from http://h:1/x") == "at <time> from <origin>/x"


def test_a_body_is_shown_on_one_line_escaped_and_cut() -> None:
    assert excerpt(b'{"a":\n 1, "b": "\x19"}') == '{"a": 1, "b": "\\x19"}'
    long = excerpt(b"x" * 1000)
    assert long.startswith("x" * 300) and long.endswith("... (1000 bytes)") and len(long) < 330


# -- the console


def test_the_console_starts_with_the_verdict_and_shows_the_received_body() -> None:
    console = render_console(report([leak(IDS[0]), leak(IDS[1])]))
    assert console.splitlines()[0] == "FAIL: 1 problem in 1 check (2 occurrences)"
    assert "    Received: 200\n      body: {" in console
    assert f'"id": "{IDS[0]}"' in console


def test_a_clean_run_passes_in_one_line() -> None:
    console = render_console(report([]))
    assert console.splitlines()[0] == "PASS: no violations, 3 checks, 88 requests"


def test_a_received_line_that_is_not_the_status_names_it() -> None:
    detail = "Expected: error.code 'conflict' for 409\nReceived: 'invalid_request'"
    body = '{"error": {"code": "invalid_request"}}'
    v = Violation("error_envelope", "t", detail, OPERATION, "curl", body=body, status=409)
    assert "Received: 'invalid_request'\n      status 409, body: {" in render_violation(v)


# -- the rerun line


def _non_default(name: str, annotation: Any) -> Any:
    """A value other than the default for a Settings field, from its type."""
    if name == "profile":
        return "thorough"
    if name == "phases":
        return ("state",)
    if name == "spec":
        return ROOT / "specs/craftkit.openapi.yaml"
    kinds = set(typing.get_args(annotation)) or {annotation}
    for kind, value in ((bool, True), (int, 7), (float, 2.5), (Path, Path("x")), (str, "x")):
        if kind in kinds:
            return value
    raise AssertionError(f"Settings.{name}: give the rerun test a value for {annotation}")


def test_the_rerun_line_reproduces_every_setting_that_shaped_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every Settings field but the report outputs round-trips through the printed line."""
    hints = typing.get_type_hints(Settings)
    changed = {
        f.name: _non_default(f.name, hints[f.name])
        for f in fields(Settings)
        if f.name not in _NOT_FLAGS and f.name not in ("api", "base_url", "fixtures")
    }
    original = settings(fixtures=Path("bundled:craftkit"), **changed)
    seen: list[Settings] = []

    def fake_run(given: Settings) -> Report:
        seen.append(given)
        return Report(given)

    monkeypatch.setattr("conformance.runner.run", fake_run)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    line = original.rerun()
    assert cli.main(shlex.split(line)[1:]) == 0
    [rerun] = seen
    for name in changed:
        assert getattr(rerun, name) == getattr(original, name), name
    assert "--fixtures bundled:craftkit --seed 7" in line, "values as typed"


def test_report_outputs_are_not_in_the_rerun_line(tmp_path: Path) -> None:
    s = settings(sarif=tmp_path / "x.sarif", html=tmp_path / "x.html", github=True)
    assert s.rerun() == settings().rerun()


# -- SARIF 2.1.0


def _required(obj: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in obj]
    assert not missing, f"SARIF object lacks {missing}: {sorted(obj)}"


def check_sarif(log: dict[str, Any]) -> None:
    """The properties SARIF 2.1.0 requires (sarif-schema-2.1.0.json), and the types of those
    code scanning reads."""
    _required(log, "version", "runs")
    assert log["version"] == "2.1.0" and isinstance(log["runs"], list)
    for run in log["runs"]:
        _required(run, "tool")
        driver = run["tool"]["driver"]
        _required(driver, "name")
        rule_ids = [rule["id"] for rule in driver.get("rules", [])]
        assert len(rule_ids) == len(set(rule_ids)), "rule ids are unique"
        for rule in driver.get("rules", []):
            _required(rule, "id")
            for text in ("shortDescription", "fullDescription", "help"):
                if text in rule:
                    _required(rule[text], "text")
        for invocation in run.get("invocations", []):
            _required(invocation, "executionSuccessful")
        for result in run.get("results", []):
            _required(result, "message", "ruleId")
            _required(result["message"], "text")
            assert rule_ids[result["ruleIndex"]] == result["ruleId"]
            assert result["level"] in ("none", "note", "warning", "error")
            assert isinstance(result["occurrenceCount"], int) and result["occurrenceCount"] >= 1
            assert all(isinstance(v, str) for v in result["partialFingerprints"].values())
            for location in result.get("locations", []):
                physical = location["physicalLocation"]
                _required(physical["artifactLocation"], "uri")
                if "region" in physical:
                    assert physical["region"]["startLine"] >= 1
    json.dumps(log)  # serialisable as is


def test_sarif_has_a_rule_per_check_and_a_result_per_problem() -> None:
    log = sarif_log(report([leak(IDS[0]), leak(IDS[1])]))
    check_sarif(log)
    [run] = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"not_a_server_error", "tenant_isolation", "no_cascade"}
    assert rules["tenant_isolation"]["shortDescription"]["text"].startswith("Another tenant")
    assert rules["not_a_server_error"]["shortDescription"]["text"] == "The target answered a 5xx."
    assert "**Fix**" in rules["tenant_isolation"]["help"]["markdown"], "docs/checks.md's section"
    [result] = run["results"]
    assert result["occurrenceCount"] == 2 and result["properties"]["ids"] == list(IDS[:2])
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("craftkit.openapi.yaml")
    assert location["region"]["startLine"] == 92, "the operation's line in the spec"


def test_sarif_fingerprints_are_stable_across_runs() -> None:
    first = sarif_log(report([leak(IDS[0], port=8000)]))["runs"][0]["results"][0]
    again = sarif_log(report([leak(IDS[2], port=9000)]))["runs"][0]["results"][0]
    assert first["partialFingerprints"] == again["partialFingerprints"]
    assert FINGERPRINT in first["partialFingerprints"]


def test_a_clean_run_is_valid_sarif_with_no_results() -> None:
    log = sarif_log(report([]))
    check_sarif(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["invocations"][0]["exitCode"] == 0


# -- GitHub Actions


def test_github_annotations_are_one_escaped_workflow_command_per_problem() -> None:
    commands = workflow_commands(report([leak(IDS[0]), leak(IDS[1])])).splitlines()
    assert commands[0].startswith("::error title=conformance craftkit%3A FAIL%3A 1 problem")
    [problem] = [c for c in commands[1:] if c.startswith("::error ")]
    assert problem.startswith("::error title=[tenant_isolation] Another tenant's key")
    assert "\n" not in problem and "%0A    Expected: 404%0A" in problem
    assert commands[-1].startswith("::notice title=conformance craftkit::the fixture lists")
    assert escape_data("100%\r\n") == "100%25%0D%0A"


def test_github_annotations_point_at_a_spec_of_the_repository() -> None:
    s = {"spec": Path("specs/craftkit.openapi.yaml")}
    problem = workflow_commands(report([leak(IDS[0])], **s)).splitlines()[1]
    assert ",file=specs/craftkit.openapi.yaml,line=92::" in problem


def test_the_job_summary_is_markdown_with_a_row_per_problem(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    r = report([leak(IDS[0]), leak(IDS[1])], github=True, github_step_summary=summary)
    out = write_reports(r)
    assert out.startswith("::error ")
    text = summary.read_text()
    assert text.startswith("earlier step\n## conformance craftkit: FAIL: 1 problem"), "appended"
    assert "| 1 | `tenant_isolation` | 404 | 200 | 2 |" in text
    assert "<details><summary>1. <code>tenant_isolation</code>" in text
    assert "```sh\nconformance run craftkit --base-url http://127.0.0.1:8000" in text


def test_markdown_cells_and_summaries_escape_what_the_target_sent() -> None:
    v = replace(leak(IDS[0]), received="<b>|x|</b>", title="<script>")
    text = step_summary(report([v]))
    assert "&lt;b&gt;\\|x\\|&lt;/b&gt;" in text
    assert "<code>tenant_isolation</code> &lt;script&gt;</summary>" in text
    outside_code = re.sub(r"```text\n.*?\n```", "", text, flags=re.S)
    assert "<script>" not in outside_code, "raw text only inside code fences"


# -- HTML


def test_the_html_report_is_self_contained_and_escapes_everything() -> None:
    hostile = replace(
        leak(IDS[0]),
        body='<script>alert("x")</script><img src="http://evil.example/x.png">',
        detail="Situation: <b>bold</b>\nExpected: 404\nReceived: 200",
    )
    page = render_html(report([hostile]))
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"""<[a-z][^>]*\s(src|href)\s*=|<link|@import|url\(""", page), (
        "no external asset"
    )
    assert "FAIL: 1 problem in 1 check" in page and "conformance run craftkit" in page
    ET.fromstring(page.removeprefix("<!DOCTYPE html>\n").replace('<meta charset="utf-8">', ""))


def test_every_writer_writes_the_file_it_is_given(tmp_path: Path) -> None:
    paths = {name: tmp_path / f"r.{name}" for name in ("junit_xml", "report_json", "sarif", "html")}
    r = report([leak(IDS[0])], **paths)
    assert write_reports(r) == "", "no GitHub output unless asked"
    assert ET.parse(paths["junit_xml"]).getroot().get("failures") == "1"
    data = json.loads(paths["report_json"].read_text())
    assert data["verdict"] == "FAIL: 1 problem in 1 check"
    [violation] = data["violations"]
    assert (violation["expected"], violation["received"], violation["ids"]) == (
        "404",
        "200",
        [IDS[0]],
    )
    check_sarif(json.loads(paths["sarif"].read_text()))
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")


# -- the pytest plugin has the CLI's options


class _Options:
    """Records what ``pytest_addoption`` adds."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def getgroup(self, *args: object) -> _Options:
        return self

    def addoption(self, name: str, **kwargs: object) -> None:
        self.names.add(name)


def test_every_option_of_conformance_run_has_a_pytest_twin() -> None:
    from conformance.pytest_plugin import pytest_addoption

    run_parser = next(
        parser
        for action in cli.build_parser()._subparsers._group_actions  # type: ignore[union-attr]
        for name, parser in getattr(action, "choices", {}).items()
        if name == "run"
    )
    flags = {
        option
        for action in run_parser._actions
        for option in action.option_strings
        if option.startswith("--") and option not in ("--help", "--log-level")
    }
    plugin = _Options()
    pytest_addoption(plugin)  # type: ignore[arg-type]
    assert {f"--conformance-{flag[2:]}" for flag in flags} - plugin.names == set()
    assert "--conformance-api" in plugin.names


def test_run_help_names_the_report_flags_and_the_precondition_exit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    out = capsys.readouterr().out
    for text in (
        "--sarif FILE",
        "--html FILE",
        "--github",
        "GITHUB_ACTIONS=true",
        "a stale fixture",
    ):
        assert text in out, text
