"""``--sarif FILE``: the report as SARIF 2.1.0, for code scanning (GitHub, GitLab, IDEs).

One ``rule`` per check that ran (its code, its title, and docs/checks.md's section
as help), one ``result`` per folded violation with ``occurrenceCount``, the ids in
its properties, and a ``partialFingerprints`` entry computed from (code, operation,
expected, received) with ids, times and origins masked: the same problem has the
same fingerprint in every run, so code scanning tracks it across runs instead of
opening a new alert each time. Each result points at the operation's path in the
spec, the one place in a repository a contract problem belongs to.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from conformance._version import version
from conformance.checks import CHECKS
from conformance.explain import section, titles
from conformance.failures import Violation
from conformance.report import render_violation
from conformance.runner import Report
from conformance.settings import Settings

__all__ = ["FINGERPRINT", "SCHEMA", "operation_line", "sarif_log", "spec_location", "write_sarif"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "conformanceCause/v1"  # bump the version if the cause's key ever changes


def write_sarif(report: Report, path: Path) -> None:
    path.write_text(json.dumps(sarif_log(report), indent=2) + "\n", encoding="utf-8")


def sarif_log(report: Report) -> dict[str, Any]:
    s = report.settings
    phases = {code: phase for phase, codes in report.checks.items() for code in codes}
    codes = sorted(set(phases) | {v.code for v in report.violations})
    index = {code: n for n, code in enumerate(codes)}
    documented = titles()
    rules = [_rule(code, phases.get(code, ""), documented) for code in codes]
    results = [_result(v, index[v.code], s) for v in report.violations]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "conformance",
                        "version": version(),
                        "semanticVersion": version(),
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"conformance/{s.api}/"},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "exitCode": report.exit_code,
                        "commandLine": s.rerun(),
                    }
                ],
                "results": results,
                "properties": {"verdict": report.verdict, "notes": report.notes},
            }
        ],
    }


def _rule(code: str, phase: str, documented: dict[str, str]) -> dict[str, Any]:
    row = CHECKS.get(code)
    title = row.title if row is not None else documented.get(code, code)
    help_markdown = section(code) or f"`conformance explain {code}`"
    proves = re.search(r"\*\*Proves\*\*: (.*?)(?:\n- |\Z)", help_markdown, re.S)
    rule: dict[str, Any] = {
        "id": code,
        "name": "".join(word.capitalize() for word in code.split("_")),
        "shortDescription": {"text": title},
        "help": {"text": _plain(help_markdown), "markdown": help_markdown},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["contract-conformance", *([phase] if phase else [])]},
    }
    if proves:
        rule["fullDescription"] = {"text": _plain(" ".join(proves.group(1).split()))}
    return rule


def _result(v: Violation, rule_index: int, settings: Settings) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": v.code,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": render_violation(v)},
        "locations": [spec_location(settings, v.operation)],
        "partialFingerprints": {FINGERPRINT: v.fingerprint},
        "occurrenceCount": v.occurrences,
        "properties": {
            "phase": v.phase,
            "operation": v.operation,
            "situation": v.situation,
            "expected": v.expected,
            "received": v.received,
            "ids": list(v.ids),
            "curl": v.curl,
        },
    }
    if v.status is not None:
        result["webResponse"] = {"statusCode": v.status, "body": {"text": v.body}}
    return result


def spec_location(settings: Settings, operation: str) -> dict[str, Any]:
    """The operation's path in the spec: ``--spec`` as typed, or the bundled spec (relative
    to the working directory when inside it)."""
    path = settings.spec_path
    if settings.spec is not None and not settings.spec.is_absolute():
        uri = settings.spec.as_posix()
    else:
        try:
            uri = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            uri = path.resolve().as_uri()
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
    line = operation_line(path, operation)
    if line is not None:
        physical["region"] = {"startLine": line}
    return {
        "physicalLocation": physical,
        "logicalLocations": [{"fullyQualifiedName": operation, "kind": "function"}],
    }


@cache
def operation_line(spec: Path, operation: str) -> int | None:
    """The 1-based line of ``operation``'s method under its path in ``spec``, or of the path.

    >>> operation_line(Path("specs/craftkit.openapi.yaml"), "POST /v1/signatures/{id}/cancel")
    92
    """
    method, _, route = operation.partition(" ")
    try:
        lines = spec.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    heading = re.compile(r"^(\s*)['\"]?" + re.escape(route) + r"['\"]?:\s*$")
    for number, line in enumerate(lines):
        match = heading.match(line)
        if match is None:
            continue
        indent = len(match.group(1))
        for offset, below in enumerate(lines[number + 1 :], number + 2):
            stripped = below.lstrip()
            if stripped and len(below) - len(stripped) <= indent:
                break
            if stripped.lower().startswith(f"{method.lower()}:"):
                return offset
        return number + 1
    return None


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "")
