"""How a run is shown: console blocks and summary, JUnit XML for CI, JSON for tools."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from conformance._text import xml_safe
from conformance._version import version
from conformance.failures import Violation
from conformance.runner import Report

__all__ = ["render_console", "render_violation", "write_json", "write_junit"]


def render_console(report: Report) -> str:
    """One block per violation, then a summary table with the seed."""
    s = report.settings
    lines: list[str] = []
    for number, v in enumerate(report.violations, 1):
        lines += [f"--- {number}. {render_violation(v)}", ""]
    for note in report.notes:
        lines.append(f"note: {note}")
    if report.notes:
        lines.append("")
    lines.append(f"{'phase':<10} {'requests':>9} {'seconds':>8} {'violations':>11}")
    for phase in report.phases:
        lines.append(
            f"{phase.name:<10} {phase.requests:>9} {phase.seconds:>8.1f} {phase.violations:>11}"
        )
    by_code = Counter(v.code for v in report.violations)
    if by_code:
        lines.append("")
        lines.append(
            "violations by check: "
            + ", ".join(f"{code} {n}" for code, n in sorted(by_code.items()))
        )
    verdict = f"{len(report.violations)} violation(s)" if report.violations else "no violations"
    lines += [
        "",
        f"{s.api} at {s.base_url}: {verdict} in {report.seconds:.1f} s "
        f"(seed {s.seed}, {s.examples} examples, profile {s.profile}, fixtures {s.fixtures})",
        f"rerun: conformance run {s.api} --base-url {s.base_url} --fixtures {s.fixtures} "
        f"--seed {s.seed}",
    ]
    return "\n".join(lines)


def render_violation(v: Violation) -> str:
    """A violation's block: code and title, where, expected vs received, and its curl."""
    times = f" (x{v.occurrences})" if v.occurrences > 1 else ""
    return "\n".join(
        [
            f"[{v.code}] {v.title}{times}",
            f"    Operation: {v.operation}   Phase: {v.phase}",
            *(f"    {line}" for line in v.detail.splitlines()),
            "    Reproduce:",
            f"      {v.curl or '(no request: see the detail)'}",
            f"    Explain: conformance explain {v.code}",
        ]
    )


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


def write_junit(report: Report, path: Path) -> None:
    """One test case per check (passed when it found nothing), grouped by phase.

    Every check that ran is listed, failed or not, so CI shows what was verified.
    Each testsuite carries the harness's version as a ``conformance.version``
    property (the JUnit schema allows properties on a testsuite, first, and not
    on testsuites). Every text and attribute goes through ``xml_safe``: a target's
    control characters or lone surrogates never make the file unreadable.
    """
    s = report.settings
    suites = ET.Element(
        "testsuites",
        name=f"conformance {s.api}",
        tests="0",
        failures="0",
        time=f"{report.seconds:.2f}",
    )
    grouped: dict[str, dict[str, list[str]]] = {
        phase: {code: [] for code in codes} for phase, codes in report.checks.items()
    }
    for v in report.violations:
        grouped.setdefault(v.phase, {}).setdefault(v.code, []).append(render_violation(v))
    total = failed = 0
    for phase, checks in grouped.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{s.api}.{phase}",
            tests=str(len(checks)),
            failures=str(sum(1 for f in checks.values() if f)),
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="conformance.version", value=version())
        for code, failures in sorted(checks.items()):
            case = ET.SubElement(
                suite, "testcase", classname=f"conformance.{s.api}.{phase}", name=code
            )
            if failures:
                failure = ET.SubElement(
                    case, "failure", message=f"{len(failures)} violation(s) of {code}", type=code
                )
                failure.text = xml_safe("\n\n".join(failures))
                failed += 1
            total += 1
    suites.set("tests", str(total))
    suites.set("failures", str(failed))
    for element in suites.iter():  # names and values may quote the target too
        for name, value in element.attrib.items():
            element.set(name, xml_safe(value))
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
