"""How a run is shown: console blocks and summary, JUnit XML for CI, JSON for tools.

Every format starts from the same folded violations (one per root cause, with its
count and ids: ``failures.merge``) and the same verdict line. SARIF, GitHub Actions
annotations and job summary, and the single-file HTML report are in
``report_sarif.py``, ``report_github.py`` and ``report_html.py``;
:func:`write_reports` writes every one the settings ask for. Same seed, same target,
same report: nothing here depends on the clock, except the durations.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from conformance._text import xml_safe
from conformance._version import version
from conformance.errors import ReportNotWritten
from conformance.failures import Violation
from conformance.runner import Report

__all__ = [
    "render_console",
    "render_violation",
    "shown_ids",
    "write_json",
    "write_junit",
    "write_reports",
]

IDS_SHOWN = 5  # ids listed in a block; the JSON, SARIF and HTML reports list them all
SITUATIONS_SHOWN = 3


def render_console(report: Report) -> str:
    """The verdict, one block per problem, then a summary table and the rerun line."""
    s = report.settings
    lines: list[str] = [report.verdict, ""]
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
    verdict = report.verdict.split(": ", 1)[1] if report.violations else "no violations"
    lines += [
        "",
        f"{s.api} at {s.base_url}: {verdict} in {report.seconds:.1f} s "
        f"(seed {s.seed}, {s.examples} examples, profile {s.profile}, fixtures {s.fixtures})",
        f"rerun: {s.rerun()}",
    ]
    return "\n".join(lines)


def render_violation(v: Violation) -> str:
    """A problem's block: code and title, where, expected vs received with the body that
    came back, how often and on which ids, and a curl line that reproduces it."""
    times = f" (x{v.occurrences})" if v.occurrences > 1 else ""
    lines = [f"[{v.code}] {v.title}{times}", f"    Operation: {v.operation}   Phase: {v.phase}"]
    answer = _answer(v)
    for line in v.detail.splitlines():
        lines.append(f"    {line}")
        if answer and line.startswith("Received:"):
            lines.append(f"      {answer}")
            answer = ""
    if answer:
        lines.append(f"    Answer: {answer}")
    if v.occurrences > 1:
        on = f", on {len(v.ids)} id{'s' * (len(v.ids) != 1)}: {shown_ids(v)}" if v.ids else ""
        lines.append(f"    Seen {v.occurrences} times{on}")
    for situation in v.situations[:SITUATIONS_SHOWN]:
        lines.append(f"    Also: {situation}")
    if len(v.situations) > SITUATIONS_SHOWN:
        lines.append(f"    ... and {len(v.situations) - SITUATIONS_SHOWN} more situations")
    lines += [
        "    Reproduce:" + (" (the first occurrence)" if v.occurrences > 1 else ""),
        f"      {v.curl or '(no request: see the detail)'}",
        f"    Explain: conformance explain {v.code}",
    ]
    return "\n".join(lines)


def shown_ids(v: Violation, limit: int = IDS_SHOWN) -> str:
    more = len(v.ids) - limit
    return ", ".join(v.ids[:limit]) + (f" and {more} more" if more > 0 else "")


def _answer(v: Violation) -> str:
    """The answer's body, and its status when the Received line is not the status."""
    if v.status is None:
        return ""
    if v.received == str(v.status):
        return f"body: {v.body}"
    return f"status {v.status}, body: {v.body}"


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


def write_reports(report: Report) -> str:
    """Write every report file the settings name; return the GitHub Actions annotations
    to print on stdout (empty unless ``settings.github``).

    A file that cannot be written (a full disk, its directory removed during the run, no
    permission) does not keep the others from being written; then ``ReportNotWritten``
    names each such file with the flag, the system's reason and the fix, and carries the
    annotations.
    """
    from conformance import report_github
    from conformance.report_html import write_html
    from conformance.report_sarif import write_sarif

    s = report.settings
    writers: list[tuple[str, Path | None, Callable[[Report, Path], None]]] = [
        ("--junit-xml", s.junit_xml, write_junit),
        ("--report-json", s.report_json, write_json),
        ("--sarif", s.sarif, write_sarif),
        ("--html", s.html, write_html),
    ]
    if s.github:  # the front doors read $GITHUB_STEP_SUMMARY into the settings
        summary = s.github_step_summary
        writers.append(("$GITHUB_STEP_SUMMARY", summary, report_github.write_step_summary))
    problems = []
    for flag, path, write in writers:
        if path is None:
            continue
        try:
            write(report, path)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            problems.append(
                f"{flag}: {path}: cannot write the report after the run ({reason}); the "
                "verdict and the other reports are written; free space or fix the place (or "
                f"give {flag} another file) before the next run"
            )
    annotations = report_github.workflow_commands(report) if s.github else ""
    if problems:
        raise ReportNotWritten(problems, annotations)
    return annotations
